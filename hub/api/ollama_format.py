"""Between the hub's terms and Ollama's: model names with tags, options as sampling, the
counters of the last line, and the details Ollama lists for a model."""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime
from typing import Any

from hub.api.errors import HubAPIError
from hub.api.ollama_schemas import DoneFields, GenerationFields, ModelDetails, OllamaModelOut
from hub.api.openai_schemas import citations_of
from hub.api.sampling import sampling_from
from hub.engine.json_grammar import JSON_OBJECT_GRAMMAR
from hub.engine.types import GenerationStats, Sampling
from hub.models.catalog import ModelListing

# Every model the hub has is one version of itself: its only tag.
TAG = "latest"
NANOSECONDS = 1_000_000_000


def ollama_name(name: str) -> str:
    """The hub's model name as Ollama names it: 'smollm2-135m-instruct:latest'."""
    return f"{name}:{TAG}"


def hub_name(requested: str, known: list[str]) -> str:
    """The hub's name for ``requested`` ('name', 'name:latest'); 404 when it has no such model."""
    name, _, tag = requested.strip().partition(":")
    if tag in ("", TAG) and name in known:
        return name
    raise HubAPIError(
        404,
        f"model {requested!r} not found; this hub has {', '.join(map(ollama_name, known))} "
        "(it cannot download models: add a GGUF file with `hub models add PATH`)",
        code="model_not_found",
        param="model",
    )


def created_at() -> str:
    """Now, as Ollama writes times: ISO 8601 in UTC."""
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def iso_time(seconds: float) -> str:
    """A time in epoch seconds, as Ollama writes times."""
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def sampling_of(body: GenerationFields) -> Sampling:
    """Sampling from a request's options and format; unset options keep the hub's defaults."""
    if isinstance(body.format, dict):
        raise HubAPIError(
            400,
            'format as a JSON schema is not supported yet; send format "json" (one JSON '
            "object) and describe the fields in the prompt",
            param="format",
        )
    return sampling_from(body.options, JSON_OBJECT_GRAMMAR if body.format == "json" else None)


def done_fields(stats: GenerationStats, started_ns: int, cited: list[dict[str, Any]]) -> DoneFields:
    """The last line's counters for a finished generation started at ``started_ns``."""
    first = stats.time_to_first_token
    return DoneFields(
        done=True,
        done_reason="length" if stats.finish_reason == "length" else "stop",
        total_duration=time.monotonic_ns() - started_ns,
        load_duration=0,  # models stay loaded; a switch is counted in the prompt's time
        prompt_eval_count=stats.prompt_tokens,
        prompt_eval_duration=round(first * NANOSECONDS) if first is not None else 0,
        eval_count=stats.completion_tokens,
        eval_duration=round(stats.decode_seconds * NANOSECONDS),
        citations=citations_of(cited) if cited else None,
    )


def model_details(listing: ModelListing) -> ModelDetails:
    """Ollama's details of a model, from its GGUF file."""
    info = listing.info
    family = info.architecture if info else "unknown"
    return ModelDetails(
        parent_model="",
        format="gguf",
        family=family,
        families=[family],
        parameter_size="",  # the catalog does not read the parameter count
        quantization_level=info.quantization if info else "",
    )


def model_out(listing: ModelListing) -> OllamaModelOut:
    """One model as /api/tags lists it."""
    size, modified = 0, 0.0
    if listing.path is not None and listing.path.exists():
        stat = listing.path.stat()
        size, modified = stat.st_size, stat.st_mtime
    identity = f"{listing.entry.name}:{size}:{modified}".encode()
    return OllamaModelOut(
        name=ollama_name(listing.entry.name),
        model=ollama_name(listing.entry.name),
        modified_at=iso_time(modified),
        size=size,
        digest=hashlib.sha256(identity).hexdigest(),
        details=model_details(listing),
    )


def capabilities_of(listing: ModelListing) -> list[str]:
    """What a model can do, as /api/show says it: every model answers in text, and calls
    tools through the hub's grammar (hub/engine/tool_grammar.py)."""
    return ["completion", "tools"]
