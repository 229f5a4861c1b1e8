"""POST /v1/completions: plain text continuation."""

from __future__ import annotations

import asyncio
from functools import partial

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from hub.api.auth import require_owner
from hub.api.openai_format import (
    finish_reason,
    new_id,
    now,
    text_chunk,
    text_completion,
    timings,
    usage,
)
from hub.api.routes_chat import sampling_params
from hub.api.schemas import CompletionRequest
from hub.api.services import ServicesDep
from hub.api.streaming import collect_answer, record_when_finished, stream_answer
from hub.engine.context_window import fit_text
from hub.engine.types import GenerationStats

router = APIRouter(prefix="/v1", tags=["completions"], dependencies=[Depends(require_owner)])


@router.post("/completions", response_model=None)
async def create_completion(
    body: CompletionRequest, request: Request, services: ServicesDep
) -> Response:
    """OpenAI-compatible text completion, streamed as SSE when ``stream`` is true."""
    await asyncio.to_thread(services.catalog.get, body.model)
    prompt_text = body.prompt_text()
    prepare = partial(
        fit_text,
        text=prompt_text,
        requested_max_tokens=body.max_tokens,
        default_max_tokens=services.settings.default_max_tokens,
        params=sampling_params(body),
    )
    generation = await services.runner.start(body.model, prepare)
    record_when_finished(services, generation)
    response_id, created, model = new_id("cmpl"), now(), generation.model_name
    prefix = prompt_text if body.echo else ""
    if not body.stream:
        return await collect_answer(
            generation,
            request,
            lambda text, stats: text_completion(response_id, created, model, prefix + text, stats),
        )

    def final(stats: GenerationStats) -> list[dict[str, object]]:
        last = text_chunk(response_id, created, model, "", finish_reason(stats))
        last["timings"] = timings(stats)
        if body.stream_options and body.stream_options.include_usage:
            last["usage"] = usage(stats)
        return [last]

    first = [text_chunk(response_id, created, model, prefix)] if prefix else []
    return stream_answer(
        generation, first, lambda piece: text_chunk(response_id, created, model, piece), final
    )
