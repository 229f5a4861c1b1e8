"""Turn a running Generation into an HTTP answer: a JSON body, or server-sent events.

Every streamed answer (chat completions, text completions, the web UI's conversations) goes
through ``stream_answer``: one loop that batches what the model has ready into one write, sends
the closing events once the model has stopped, reports a late error in-band, and cancels the
generation when the client goes away.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, StreamingResponse

from hub.api.errors import error_body, to_api_error
from hub.engine.runner import Generation
from hub.engine.types import GenerationStats

logger = logging.getLogger(__name__)

DISCONNECT_CHECK_EVERY = 8
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

Event = dict[str, Any]


def sse(data: Event | str) -> str:
    """One server-sent event."""
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return f"data: {payload}\n\n"


async def _no_events(stats: GenerationStats, text: str) -> list[Event]:
    return []


def _nothing_to_do(closed: bool, text: str) -> None:
    return None


@dataclass(frozen=True)
class StreamedAnswer:
    """How one streamed answer is worded: what opens it, one event per piece of text, and the
    events that close it once the model has stopped (they may store the answer first)."""

    opening: list[Event]
    piece: Callable[[str], Event]
    closing: Callable[[GenerationStats, str], Awaitable[list[Event]]] = _no_events
    # Called when the stream ends however it ends: whether the closing was reached, and the
    # text sent so far (a conversation stores a stopped answer from it).
    on_end: Callable[[bool, str], None] = _nothing_to_do


def stream_answer(generation: Generation, answer: StreamedAnswer) -> StreamingResponse:
    """Stream the answer as SSE; a client that disconnects cancels the generation at once."""

    async def events() -> AsyncIterator[str]:
        # The opening events go out with the first text, so the client is not woken while the
        # model is still reading the prompt.
        opening = "".join(sse(event) for event in answer.opening)
        sent: list[str] = []
        closed = False
        try:
            async for batch in generation.batches():
                sent.extend(batch)
                yield opening + "".join(sse(answer.piece(piece)) for piece in batch)
                opening = ""
            await generation.wait_finished()
            closed = True
            closing = await answer.closing(generation.stats, "".join(sent))
            yield opening + "".join(sse(event) for event in closing) + sse("[DONE]")
        except Exception as exc:  # the status line is sent already: report in-band
            error = to_api_error(exc)
            yield sse(error_body(error.message, error.error_type, error.code))
        finally:
            generation.cancel()
            answer.on_end(closed, "".join(sent))

    return StreamingResponse(events(), media_type="text/event-stream", headers=SSE_HEADERS)


async def collect_answer(
    generation: Generation, request: Request, whole: Callable[[str, GenerationStats], Any]
) -> JSONResponse:
    """Gather the whole answer; stop the model early if the client goes away."""
    parts: list[str] = []
    async for piece in generation:
        parts.append(piece)
        if len(parts) % DISCONNECT_CHECK_EVERY == 0 and await request.is_disconnected():
            generation.cancel()
            break
    await generation.wait_finished()
    return JSONResponse(whole("".join(parts), generation.stats))
