"""POST /v1/chat/completions: chat with the active or the named model."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from hub.api.auth import require_owner
from hub.api.deps import ChatDep
from hub.api.openai_format import (
    chat_chunk,
    chat_completion,
    finish_reason,
    new_id,
    now,
    timings,
    usage,
)
from hub.api.schemas import ChatCompletionRequest, SamplingFields
from hub.api.sse import Event, StreamedAnswer, collect_answer, stream_answer
from hub.chat.turns import TurnOptions
from hub.engine.types import ChatMessage, GenerationStats, Sampling

router = APIRouter(prefix="/v1", tags=["chat"], dependencies=[Depends(require_owner)])

ROLE_ALIASES = {"developer": "system"}


def sampling_of(body: SamplingFields) -> Sampling:
    """Sampling settings from a request; unset fields keep the hub's defaults."""
    defaults = Sampling()
    return Sampling(
        temperature=defaults.temperature if body.temperature is None else body.temperature,
        top_p=body.top_p or defaults.top_p,
        top_k=defaults.top_k if body.top_k is None else body.top_k,
        min_p=defaults.min_p if body.min_p is None else body.min_p,
        repeat_penalty=body.repeat_penalty or defaults.repeat_penalty,
        frequency_penalty=body.frequency_penalty or 0.0,
        presence_penalty=body.presence_penalty or 0.0,
        seed=body.seed,
        stop=body.stop_sequences(),
    )


@router.post("/chat/completions", response_model=None)
async def create_chat_completion(
    body: ChatCompletionRequest, request: Request, chat: ChatDep
) -> Response:
    """OpenAI-compatible chat completion, streamed as SSE when ``stream`` is true."""
    messages = [ChatMessage(ROLE_ALIASES.get(m.role, m.role), m.text()) for m in body.messages]
    options = TurnOptions(
        sampling=sampling_of(body),
        max_tokens=body.max_completion_tokens or body.max_tokens,
        trim_oldest=body.context_overflow == "trim_oldest",
    )
    turn = await chat.start(body.model, messages, options)
    generation = turn.generation
    response_id, created, model = new_id("chatcmpl"), now(), generation.model_name
    if not body.stream:

        def whole(text: str, stats: GenerationStats) -> Event:
            answer = chat_completion(response_id, created, model, text, stats)
            answer["citations"] = turn.citations
            return answer

        return await collect_answer(generation, request, whole)

    async def closing(stats: GenerationStats, text: str) -> list[Event]:
        last = chat_chunk(response_id, created, model, {}, finish_reason(stats))
        last["timings"] = timings(stats)
        last["citations"] = turn.citations
        events = [last]
        if body.stream_options and body.stream_options.include_usage:
            usage_chunk = chat_chunk(response_id, created, model, {})
            usage_chunk["choices"] = []
            usage_chunk["usage"] = usage(stats)
            events.append(usage_chunk)
        return events

    return stream_answer(
        generation,
        StreamedAnswer(
            opening=[chat_chunk(response_id, created, model, {"role": "assistant", "content": ""})],
            piece=lambda piece: chat_chunk(response_id, created, model, {"content": piece}),
            closing=closing,
        ),
    )
