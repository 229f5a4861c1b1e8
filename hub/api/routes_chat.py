"""POST /v1/chat/completions: chat with the active or the named model."""

from __future__ import annotations

from fastapi import APIRouter, Request

from hub.api.deps import ChatDep
from hub.api.openai_format import answer_head, chat_completion, finish_reason
from hub.api.openai_schemas import (
    ChatCompletion,
    ChatCompletionChunk,
    ChunkDelta,
    Timings,
    Usage,
    citations_of,
)
from hub.api.schemas import ChatCompletionRequest, SamplingFields
from hub.api.scopes import ChatCaller, memory_access
from hub.api.sse import (
    EventStream,
    StreamedAnswer,
    collect_answer,
    event_stream_doc,
    stream_answer,
)
from hub.chat.turns import TurnOptions
from hub.engine.types import ChatMessage, GenerationStats, Sampling

router = APIRouter(prefix="/v1", tags=["chat"])

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


@router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    responses=event_stream_doc(
        ChatCompletionChunk,
        "The whole answer as JSON; with `stream: true`, server-sent events instead: a first "
        "chunk with the role, one chunk per piece of text, then one with finish_reason, "
        "timings and citations, and with `stream_options.include_usage` one more with usage.",
    ),
)
async def create_chat_completion(
    body: ChatCompletionRequest, request: Request, chat: ChatDep, caller: ChatCaller
) -> ChatCompletion | EventStream:
    """OpenAI-compatible chat completion, streamed as SSE when ``stream`` is true."""
    messages = [ChatMessage(ROLE_ALIASES.get(m.role, m.role), m.text()) for m in body.messages]
    options = TurnOptions(
        sampling=sampling_of(body),
        max_tokens=body.max_completion_tokens or body.max_tokens,
        trim_oldest=body.context_overflow == "trim_oldest",
        memory=memory_access(caller),
    )
    turn = await chat.start(body.model, messages, options)
    generation = turn.generation
    head = answer_head("chatcmpl", generation.model_name)
    if not body.stream:
        return await collect_answer(
            generation,
            request,
            lambda text, stats: chat_completion(head, text, stats, turn.citations),
        )

    async def closing(stats: GenerationStats, text: str) -> list[ChatCompletionChunk]:
        last = ChatCompletionChunk.of(
            head,
            ChunkDelta(),
            finish_reason(stats),
            timings=Timings.from_stats(stats),
            citations=citations_of(turn.citations),
        )
        if not (body.stream_options and body.stream_options.include_usage):
            return [last]
        usage_only = ChatCompletionChunk(
            id=head.id,
            object="chat.completion.chunk",
            created=head.created,
            model=head.model,
            choices=[],
            usage=Usage.from_stats(stats),
        )
        return [last, usage_only]

    return stream_answer(
        generation,
        StreamedAnswer(
            opening=[ChatCompletionChunk.of(head, ChunkDelta(role="assistant", content=""))],
            piece=lambda piece: ChatCompletionChunk.of(head, ChunkDelta(content=piece)),
            closing=closing,
        ),
    )
