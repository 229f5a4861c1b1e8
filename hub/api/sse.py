"""Turn a running Generation into an HTTP answer: a JSON body, or a stream of events.

Every streamed answer (chat completions, text completions, the web UI's conversations, the
Ollama API) goes through one loop: it batches what the model has ready into one write, sends
the closing events once the model has stopped, reports a late error in-band, and cancels the
generation when the client goes away. ``stream_answer`` frames the events as server-sent
events (OpenAI's clients), ``stream_ndjson`` as one JSON object a line (Ollama's).
``event_stream_doc`` tells /docs what each event holds.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from hub.api.errors import ApiError, error_body, to_api_error
from hub.api.openai_schemas import StreamChunk
from hub.engine.runner import Generation
from hub.engine.types import GenerationStats

logger = logging.getLogger(__name__)

DISCONNECT_CHECK_EVERY = 8
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

T = TypeVar("T")

STREAM_ENDING = (
    " The stream ends with `data: [DONE]`; an error after the answer began is sent instead as "
    'one last event in the error shape, `{"error": {"message", "type", "param", "code"}}`.'
)


class EventStream(StreamingResponse):
    """A stream of server-sent events."""

    media_type = "text/event-stream"


class NdjsonStream(StreamingResponse):
    """A stream of JSON objects, one a line (Ollama's streaming)."""

    media_type = "application/x-ndjson"


def sse(data: StreamChunk | dict[str, Any] | str) -> str:
    """One server-sent event."""
    if isinstance(data, StreamChunk):
        data = data.event()
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return f"data: {payload}\n\n"


def ndjson(data: StreamChunk | dict[str, Any]) -> str:
    """One line of newline-delimited JSON."""
    if isinstance(data, StreamChunk):
        data = data.event()
    return json.dumps(data, separators=(",", ":")) + "\n"


@dataclass(frozen=True)
class Framing:
    """How events go on the wire: one event, the end of the stream, a late error."""

    event: Callable[[StreamChunk], str]
    end: str
    error: Callable[[ApiError], str]


SSE_FRAMING = Framing(
    event=sse,
    end=sse("[DONE]"),
    error=lambda error: sse(error_body(error.message, error.error_type, error.code)),
)
# Ollama's clients read a line with "error" as the stream's failure; the stream just ends.
NDJSON_FRAMING = Framing(event=ndjson, end="", error=lambda error: ndjson({"error": error.message}))


def _inline(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema with its definitions written in place: an event's schema sits
    inside one operation, where references to the model's own ``$defs`` would not resolve."""
    schema = model.model_json_schema(mode="serialization")
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                rest = {key: value for key, value in node.items() if key != "$ref"}
                return resolve({**definitions[ref.removeprefix("#/$defs/")], **rest})
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(value) for value in node]
        return node

    result: dict[str, Any] = resolve(schema)
    return result


def event_stream_doc(chunk: type[StreamChunk], description: str) -> dict[int | str, Any]:
    """The OpenAPI ``responses`` of a streamed answer: each event's data is one ``chunk``. A
    route that only streams also names ``response_class=Response``, so that /docs does not
    list a JSON answer beside the stream."""
    item = {
        "type": "object",
        "required": ["data"],
        "properties": {
            "data": {
                "type": "string",
                "contentMediaType": "application/json",
                "contentSchema": _inline(chunk),
            }
        },
    }
    return {
        200: {
            "description": description + STREAM_ENDING,
            "content": {"text/event-stream": {"itemSchema": item}},
        }
    }


async def _no_events(stats: GenerationStats, text: str) -> list[StreamChunk]:
    return []


def _nothing_to_do(closed: bool, text: str) -> None:
    return None


@dataclass(frozen=True)
class StreamedAnswer:
    """How one streamed answer is worded: what opens it, one event per piece of text, and the
    events that close it once the model has stopped (they may store the answer first)."""

    opening: Sequence[StreamChunk]
    piece: Callable[[str], StreamChunk]
    closing: Callable[[GenerationStats, str], Awaitable[Sequence[StreamChunk]]] = _no_events
    # Called when the stream ends however it ends: whether the closing was reached, and the
    # text sent so far (a conversation stores a stopped answer from it).
    on_end: Callable[[bool, str], None] = _nothing_to_do


async def _events(
    generation: Generation, answer: StreamedAnswer, framing: Framing
) -> AsyncIterator[str]:
    """The answer's events as ``framing`` writes them; leaving cancels the generation."""
    # The opening events go out with the first text, so the client is not woken while the
    # model is still reading the prompt.
    opening = "".join(framing.event(event) for event in answer.opening)
    sent: list[str] = []
    closed = False
    try:
        async for batch in generation.batches():
            sent.extend(batch)
            yield opening + "".join(framing.event(answer.piece(piece)) for piece in batch)
            opening = ""
        await generation.wait_finished()
        closed = True
        closing = await answer.closing(generation.stats, "".join(sent))
        yield opening + "".join(framing.event(event) for event in closing) + framing.end
    except Exception as exc:  # the status line is sent already: report in-band
        yield framing.error(to_api_error(exc))
    finally:
        generation.cancel()
        answer.on_end(closed, "".join(sent))


def stream_answer(generation: Generation, answer: StreamedAnswer) -> EventStream:
    """Stream the answer as SSE; a client that disconnects cancels the generation at once."""
    return EventStream(_events(generation, answer, SSE_FRAMING), headers=SSE_HEADERS)


def stream_ndjson(generation: Generation, answer: StreamedAnswer) -> NdjsonStream:
    """Stream the answer as NDJSON; a client that disconnects cancels the generation at once."""
    return NdjsonStream(_events(generation, answer, NDJSON_FRAMING), headers=SSE_HEADERS)


async def collect_answer(
    generation: Generation, request: Request, whole: Callable[[str, GenerationStats], T]
) -> T:
    """Gather the whole answer; stop the model early if the client goes away."""
    parts: list[str] = []
    async for piece in generation:
        parts.append(piece)
        if len(parts) % DISCONNECT_CHECK_EVERY == 0 and await request.is_disconnected():
            generation.cancel()
            break
    await generation.wait_finished()
    return whole("".join(parts), generation.stats)
