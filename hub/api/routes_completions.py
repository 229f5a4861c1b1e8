"""POST /v1/completions: plain text continuation."""

from __future__ import annotations

import asyncio
from functools import partial

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from hub.api.auth import require_owner
from hub.api.deps import ChatDep, HubDep
from hub.api.openai_format import (
    finish_reason,
    new_id,
    now,
    text_chunk,
    text_completion,
    timings,
    usage,
)
from hub.api.routes_chat import sampling_of
from hub.api.schemas import CompletionRequest
from hub.api.sse import Event, StreamedAnswer, collect_answer, stream_answer
from hub.engine.context_window import fit_text
from hub.engine.types import GenerationStats

router = APIRouter(prefix="/v1", tags=["completions"], dependencies=[Depends(require_owner)])


@router.post("/completions", response_model=None)
async def create_completion(
    body: CompletionRequest, request: Request, hub: HubDep, chat: ChatDep
) -> Response:
    """OpenAI-compatible text completion, streamed as SSE when ``stream`` is true."""
    await asyncio.to_thread(hub.catalog.get, body.model)
    prompt_text = body.prompt_text()
    prepare = partial(
        fit_text,
        text=prompt_text,
        requested_max_tokens=body.max_tokens,
        default_max_tokens=hub.settings.default_max_tokens,
        sampling=sampling_of(body),
    )
    generation = await hub.runner.start(body.model, prepare)
    chat.count_when_finished(generation)
    response_id, created, model = new_id("cmpl"), now(), generation.model_name
    prefix = prompt_text if body.echo else ""
    if not body.stream:
        return await collect_answer(
            generation,
            request,
            lambda text, stats: text_completion(response_id, created, model, prefix + text, stats),
        )

    async def closing(stats: GenerationStats, text: str) -> list[Event]:
        last = text_chunk(response_id, created, model, "", finish_reason(stats))
        last["timings"] = timings(stats)
        if body.stream_options and body.stream_options.include_usage:
            last["usage"] = usage(stats)
        return [last]

    return stream_answer(
        generation,
        StreamedAnswer(
            opening=[text_chunk(response_id, created, model, prefix)] if prefix else [],
            piece=lambda piece: text_chunk(response_id, created, model, piece),
            closing=closing,
        ),
    )
