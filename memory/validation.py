"""Check what callers send before it reaches SQLite; every refusal says how to fix it."""

from __future__ import annotations

import json
import re
from typing import Any

from memory.errors import InvalidMemoryError
from memory.types import KINDS, SOURCES

MAX_TEXT_CHARS = 200_000
MAX_METADATA_BYTES = 64_000
MAX_QUERY_CHARS = 4_000
MAX_K = 100
ID_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]{1,80}$")


def clean_text(text: object, field: str = "text", limit: int = MAX_TEXT_CHARS) -> str:
    """The text, stripped; refuse non-strings, empty text and text past the limit."""
    if not isinstance(text, str):
        raise InvalidMemoryError(f"{field} must be a string", field=field)
    stripped = text.strip()
    if not stripped:
        raise InvalidMemoryError(f"{field} is empty; send the words to remember", field=field)
    if len(stripped) > limit:
        raise InvalidMemoryError(
            f"{field} is {len(stripped):,} characters; one memory holds at most {limit:,}: "
            "split it into several memories (or import it as a document in parts)",
            field=field,
        )
    return stripped


def check_kind(kind: str, field: str = "kind") -> str:
    """A known kind."""
    if kind not in KINDS:
        raise InvalidMemoryError(
            f"{field} {kind!r} is not a memory kind; use one of {', '.join(KINDS)}", field=field
        )
    return kind


def check_source(source: str, field: str = "source") -> str:
    """A known source."""
    if source not in SOURCES:
        raise InvalidMemoryError(
            f"{field} {source!r} is not a memory source; use one of {', '.join(SOURCES)}",
            field=field,
        )
    return source


def metadata_json(metadata: Any) -> str:
    """Metadata as compact JSON; it must be a JSON object of modest size."""
    if not isinstance(metadata, dict):
        raise InvalidMemoryError("metadata must be a JSON object", field="metadata")
    try:
        encoded = json.dumps(metadata, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise InvalidMemoryError(f"metadata is not JSON: {exc}", field="metadata") from exc
    if len(encoded.encode()) > MAX_METADATA_BYTES:
        raise InvalidMemoryError(
            f"metadata is over {MAX_METADATA_BYTES:,} bytes; keep large content in the text",
            field="metadata",
        )
    return encoded


def check_id(memory_id: str) -> str:
    """A memory id of safe characters."""
    if not isinstance(memory_id, str) or not ID_PATTERN.match(memory_id):
        raise InvalidMemoryError(
            f"{memory_id!r} is not a memory id (letters, digits, _.:- up to 80)", field="id"
        )
    return memory_id


def check_k(k: int) -> int:
    """A result count between 1 and MAX_K."""
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= MAX_K:
        raise InvalidMemoryError(f"k must be a whole number from 1 to {MAX_K}", field="k")
    return k
