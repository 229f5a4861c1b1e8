"""POST /v1/completions: plain text continuation."""

from __future__ import annotations

import asyncio
from functools import partial

from fastapi import APIRouter, Depends, Request

from hub.api.deps import ChatDep, HubDep
from hub.api.openai_format import answer_head, finish_reason, text_completion
from hub.api.openai_schemas import TextCompletion, TextCompletionChunk, Timings, Usage
from hub.api.routes_chat import sampling_of
from hub.api.schemas import CompletionRequest
from hub.api.scopes import require_scope
from hub.api.sse import (
    EventStream,
    StreamedAnswer,
    collect_answer,
    event_stream_doc,
    stream_answer,
)
from hub.engine.context_window import fit_text
from hub.engine.types import GenerationStats

router = APIRouter(
    prefix="/v1",
    tags=["completions"],
    dependencies=[Depends(require_scope("chat"))],
)


@router.post(
    "/completions",
    response_model=TextCompletion,
    responses=event_stream_doc(
        TextCompletionChunk,
        "The whole continuation as JSON; with `stream: true`, server-sent events instead: the "
        "prompt first when `echo` is true, one chunk per piece of text, then one with "
        "finish_reason and timings (and usage, with `stream_options.include_usage`).",
    ),
)
async def create_completion(
    body: CompletionRequest, request: Request, hub: HubDep, chat: ChatDep
) -> TextCompletion | EventStream:
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
    head = answer_head("cmpl", generation.model_name)
    prefix = prompt_text if body.echo else ""
    if not body.stream:
        return await collect_answer(
            generation,
            request,
            lambda text, stats: text_completion(head, prefix + text, stats),
        )

    async def closing(stats: GenerationStats, text: str) -> list[TextCompletionChunk]:
        extra: dict[str, Usage] = {}  # usage is left out unless asked for, not null
        if body.stream_options and body.stream_options.include_usage:
            extra["usage"] = Usage.from_stats(stats)
        last = TextCompletionChunk.of(
            head, "", finish_reason(stats), timings=Timings.from_stats(stats), **extra
        )
        return [last]

    return stream_answer(
        generation,
        StreamedAnswer(
            opening=[TextCompletionChunk.of(head, prefix)] if prefix else [],
            piece=lambda piece: TextCompletionChunk.of(head, piece),
            closing=closing,
        ),
    )
