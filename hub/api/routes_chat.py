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
from hub.api.sampling import sampling_from
from hub.api.schemas import ChatCompletionRequest, ChatMessageIn, SamplingFields
from hub.api.scopes import ChatCaller, memory_access
from hub.api.sse import (
    EventStream,
    StreamedAnswer,
    collect_answer,
    event_stream_doc,
    stream_answer,
)
from hub.api.tool_schemas import ToolCallDelta, tool_request_of
from hub.chat.turns import TurnOptions
from hub.engine.tool_prompt import call_text, result_message
from hub.engine.tool_reader import ToolAnswer, ToolCallReader, reading_calls
from hub.engine.types import ChatMessage, GenerationStats, Sampling

router = APIRouter(prefix="/v1", tags=["chat"])

ROLE_ALIASES = {"developer": "system"}


def sampling_of(body: SamplingFields) -> Sampling:
    """Sampling settings from a request; unset fields keep the hub's defaults."""
    return sampling_from(body)


def messages_of(messages: list[ChatMessageIn]) -> list[ChatMessage]:
    """The conversation for the engine: earlier calls as the model writes them, and each tool
    result named after the call it answers."""
    names: dict[str, str] = {}
    converted = []
    for message in messages:
        if message.role == "tool":
            name = names.get(message.tool_call_id or "")
            converted.append(result_message(name, message.text()))
            continue
        text = message.text()
        for call_in in message.tool_calls or []:
            call = call_in.call()
            names[call.id] = call.name
            text = f"{text}\n{call_text(call)}" if text else call_text(call)
        converted.append(ChatMessage(ROLE_ALIASES.get(message.role, message.role), text))
    return converted


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
    tools = tool_request_of(body.tools, body.tool_choice)
    options = TurnOptions(
        sampling=sampling_of(body),
        max_tokens=body.max_completion_tokens or body.max_tokens,
        trim_oldest=body.context_overflow == "trim_oldest",
        memory=memory_access(caller),
        tools=tools,
    )
    turn = await chat.start(body.model, messages_of(body.messages), options)
    generation = turn.generation
    head = answer_head("chatcmpl", generation.model_name)
    reader: ToolCallReader | None = None
    if turn.tools is not None:  # text streams on; a call is held until whole, then checked
        generation, reader = reading_calls(generation, turn.tools)

    def read(text: str) -> ToolAnswer:
        return ToolAnswer(text) if reader is None else reader.finish()

    if not body.stream:

        def whole(text: str, stats: GenerationStats) -> ChatCompletion:
            answer = read(text)
            return chat_completion(head, answer.text, stats, turn.citations, answer.calls)

        return await collect_answer(generation, request, whole)

    async def closing(stats: GenerationStats, text: str) -> list[ChatCompletionChunk]:
        answer = read(text)
        told: list[ChatCompletionChunk] = []
        if answer.calls:
            calls = [ToolCallDelta.at(index, call) for index, call in enumerate(answer.calls)]
            told.append(ChatCompletionChunk.of(head, ChunkDelta(tool_calls=calls)))
        elif answer.unreleased:  # held as a call that turned out not to be one
            told.append(ChatCompletionChunk.of(head, ChunkDelta(content=answer.unreleased)))
        last = ChatCompletionChunk.of(
            head,
            ChunkDelta(),
            "tool_calls" if answer.calls else finish_reason(stats),
            timings=Timings.from_stats(stats),
            citations=citations_of(turn.citations),
        )
        if not (body.stream_options and body.stream_options.include_usage):
            return [*told, last]
        usage_only = ChatCompletionChunk(
            id=head.id,
            object="chat.completion.chunk",
            created=head.created,
            model=head.model,
            choices=[],
            usage=Usage.from_stats(stats),
        )
        return [*told, last, usage_only]

    return stream_answer(
        generation,
        StreamedAnswer(
            opening=[ChatCompletionChunk.of(head, ChunkDelta(role="assistant", content=""))],
            piece=lambda piece: ChatCompletionChunk.of(head, ChunkDelta(content=piece)),
            closing=closing,
        ),
    )
