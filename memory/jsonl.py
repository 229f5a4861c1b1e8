"""Export and import memories as JSON lines: a header line, then one memory per line."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any

from memory.errors import ImportFormatError, MemoryStoreError
from memory.timestamps import stored_from_input
from memory.types import HistoryEntry, MemoryItem
from memory.validation import check_id, check_kind, check_source, clean_text, metadata_json

FORMAT = "walking-nas-memory"
VERSION = 1
BATCH = 256


@dataclass(frozen=True)
class ImportEntry:
    """One memory read from an export, with its history."""

    item: MemoryItem
    history: list[HistoryEntry]


def _line(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n"


def write_export(
    out: IO[str],
    ids: Sequence[str],
    items: Callable[[Sequence[str]], dict[str, MemoryItem]],
    histories: Callable[[Sequence[str]], dict[str, list[HistoryEntry]]],
) -> int:
    """Write the header and every memory in ``ids`` order; return how many were written."""
    out.write(_line({"format": FORMAT, "version": VERSION}))
    written = 0
    for start in range(0, len(ids), BATCH):
        part = ids[start : start + BATCH]
        found, history = items(part), histories(part)
        for memory_id in part:
            item = found.get(memory_id)
            if item is None:  # forgotten while the export ran
                continue
            line = item.to_dict()
            line["history"] = [entry.to_dict() for entry in history.get(memory_id, [])]
            out.write(_line(line))
            written += 1
    return written


def _entry(raw: Any) -> ImportEntry:
    if not isinstance(raw, dict):
        raise ImportFormatError("each line must be a JSON object")
    try:
        item = MemoryItem(
            id=check_id(raw["id"]),
            kind=check_kind(raw["kind"]),
            text=clean_text(raw["text"]),
            source=check_source(raw["source"]),
            happened_at=stored_from_input(raw["happened_at"], "happened_at"),
            stored_at=stored_from_input(raw["stored_at"], "stored_at"),
            updated_at=stored_from_input(raw["updated_at"], "updated_at"),
            metadata=raw.get("metadata") or {},
            pinned=bool(raw.get("pinned", False)),
            derived_from=tuple(check_id(value) for value in raw.get("derived_from", [])),
        )
        metadata_json(item.metadata)
        history = [
            HistoryEntry(item.id, str(entry["at"]), str(entry["action"]), dict(entry["changes"]))
            for entry in raw.get("history", [])
        ]
    except KeyError as exc:
        raise ImportFormatError(f"a memory line lacks the field {exc}") from exc
    except (TypeError, ValueError, AttributeError) as exc:
        raise ImportFormatError(f"a memory line is malformed: {exc}") from exc
    return ImportEntry(item, history)


def read_export(source: IO[str]) -> Iterator[list[ImportEntry]]:
    """Yield batches of memories from an export; a bad line stops the import with its number."""
    header_seen = False
    batch: list[ImportEntry] = []
    for number, line in enumerate(source, start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except ValueError as exc:
            raise ImportFormatError(
                f"line {number} is not JSON ({exc}); import a file made by `hub memory export`"
            ) from exc
        if not header_seen:
            if not isinstance(raw, dict) or raw.get("format") != FORMAT:
                raise ImportFormatError(
                    f"line 1 is not a {FORMAT} header; import a file made by `hub memory export`"
                )
            if raw.get("version") != VERSION:
                raise ImportFormatError(
                    f"this export is version {raw.get('version')}; this hub reads version "
                    f"{VERSION}: upgrade the hub"
                )
            header_seen = True
            continue
        try:
            batch.append(_entry(raw))
        except MemoryStoreError as exc:
            raise ImportFormatError(f"line {number}: {exc}") from exc
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if not header_seen:
        raise ImportFormatError("the file is empty; import a file made by `hub memory export`")
    if batch:
        yield batch
