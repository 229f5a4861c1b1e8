"""Turn a running Generation into an HTTP answer: a JSON body or a stream of server-sent events."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, StreamingResponse

from hub.api.errors import to_api_error
from hub.api.openai_format import error_body_for, sse
from hub.api.services import HubServices
from hub.engine.runner import Generation
from hub.engine.types import GenerationStats

logger = logging.getLogger(__name__)

DISCONNECT_CHECK_EVERY = 8

ChunkFn = Callable[[str], dict[str, Any]]
FinalFn = Callable[[GenerationStats], list[dict[str, Any]]]
WholeFn = Callable[[str, GenerationStats], dict[str, Any]]


def record_when_finished(services: HubServices, generation: Generation) -> None:
    """Count the generation in the metrics once the model is done with it."""
    generation.add_finish_callback(
        lambda: services.metrics.record_generation(generation.model_name, generation.stats)
    )


async def collect_answer(generation: Generation, request: Request, whole: WholeFn) -> JSONResponse:
    """Gather the whole answer; stop the model early if the client goes away."""
    parts: list[str] = []
    async for piece in generation:
        parts.append(piece)
        if len(parts) % DISCONNECT_CHECK_EVERY == 0 and await request.is_disconnected():
            generation.cancel()
            break
    await generation.wait_finished()
    return JSONResponse(whole("".join(parts), generation.stats))


def stream_answer(
    generation: Generation, first: list[dict[str, Any]], chunk: ChunkFn, final: FinalFn
) -> StreamingResponse:
    """Stream pieces as SSE; a client that disconnects cancels the generation at once."""

    async def events() -> AsyncIterator[str]:
        # The opening events go out with the first text, so the client is not woken while the
        # model is still reading the prompt.
        opening = "".join(sse(event) for event in first)
        try:
            async for batch in generation.batches():
                yield opening + "".join(sse(chunk(piece)) for piece in batch)
                opening = ""
            await generation.wait_finished()
            if opening:
                yield opening
            for event in final(generation.stats):
                yield sse(event)
            yield sse("[DONE]")
        except Exception as exc:  # the status line is sent already: report in-band
            error = to_api_error(exc)
            yield sse(error_body_for(error.message, error.error_type, error.code))
        finally:
            generation.cancel()

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
