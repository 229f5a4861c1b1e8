"""POST /api/chat and /api/generate: the Ollama-compatible way to chat, streamed as NDJSON by
default, through the hub's one chat path (``ChatTurns.start``), so /api/chat recalls memories
and cites them as /v1/chat/completions does, within the caller's scopes."""

from __future__ import annotations

import asyncio
import time
from functools import partial
from typing import Any

from fastapi import APIRouter, Depends, Request

from hub.api.deps import ChatDep, HubDep
from hub.api.errors import HubAPIError
from hub.api.ollama_format import created_at, done_fields, hub_name, sampling_of
from hub.api.ollama_schemas import (
    KeepAlive,
    OllamaChatChunk,
    OllamaChatIn,
    OllamaGenerateChunk,
    OllamaGenerateIn,
    OllamaMessageIn,
    OllamaMessageOut,
    OllamaToolCallOut,
)
from hub.api.scopes import ChatCaller, memory_access, require_scope
from hub.api.sse import NdjsonStream, StreamedAnswer, collect_answer, stream_ndjson
from hub.api.tool_schemas import tool_request_of
from hub.chat.turns import TurnOptions
from hub.engine.context_window import fit_text
from hub.engine.runner import Generation
from hub.engine.tool_prompt import call_text, result_message
from hub.engine.tool_reader import ToolAnswer, ToolCallReader, reading_calls
from hub.engine.tools import ToolCall
from hub.engine.types import ChatMessage, GenerationStats
from hub.recall.chat_memory import MemoryAccess

router = APIRouter(prefix="/api", tags=["ollama"])

NO_IMAGES = "this hub's models read text only; send the message without images"
# /api/generate is a one-off prompt (titles, tags, summaries a program asks for), not the
# person talking: it neither recalls memories nor keeps the prompt as one.
NO_MEMORY = MemoryAccess(read=False, write=False)


def ndjson_doc(
    chunk: type[OllamaChatChunk | OllamaGenerateChunk], what: str
) -> dict[int | str, Any]:
    """The OpenAPI answer of a route that streams ``chunk`` lines unless ``stream`` is false."""
    return {
        200: {
            "description": f"With `stream: false`, {what} as one JSON object; by default one "
            "JSON object a line (application/x-ndjson): the text in pieces, then a line with "
            "`done: true` and the counters. An error after the answer began is a last line "
            '`{"error": "..."}`.',
            "content": {"application/x-ndjson": {"schema": chunk.model_json_schema()}},
        }
    }


async def _hub_model(hub: HubDep, requested: str) -> str:
    return hub_name(requested, await asyncio.to_thread(hub.catalog.names))


def unloads(keep_alive: KeepAlive) -> bool:
    """True when ``keep_alive`` asks to unload the model now (0, "0", "0s", "0m")."""
    if isinstance(keep_alive, int | float):
        return keep_alive == 0
    return isinstance(keep_alive, str) and keep_alive.strip().rstrip("smh") in ("0", "0.0")


def chat_messages(messages: list[OllamaMessageIn]) -> list[ChatMessage]:
    """The conversation as the hub's chat path takes it: earlier calls as the model writes
    them, each tool result named (by ``tool_name``, else after the last call made)."""
    if any(message.images for message in messages):
        raise HubAPIError(400, NO_IMAGES, param="messages")
    converted = []
    last_called: str | None = None
    for message in messages:
        text = message.content or ""
        if message.role == "tool":
            converted.append(result_message(message.tool_name or last_called, text))
            continue
        for call_in in message.tool_calls or []:
            call = call_in.call()
            last_called = call.name
            text = f"{text}\n{call_text(call)}" if text else call_text(call)
        converted.append(ChatMessage(message.role, text))
    return converted


def calls_out(calls: list[ToolCall]) -> list[OllamaToolCallOut] | None:
    """The answer's calls in Ollama's shape (None when it made none)."""
    return [OllamaToolCallOut.of(call) for call in calls] or None


@router.post(
    "/chat",
    response_model=OllamaChatChunk,
    response_model_exclude_none=True,
    responses=ndjson_doc(OllamaChatChunk, "the whole answer"),
)
async def create_ollama_chat(
    body: OllamaChatIn, request: Request, hub: HubDep, chat: ChatDep, caller: ChatCaller
) -> OllamaChatChunk | NdjsonStream:
    """Ollama's chat: the next message of a conversation, with memory as the scopes allow."""
    started = time.monotonic_ns()
    name = await _hub_model(hub, body.model)

    def line(text: str, calls: list[ToolCall] | None = None, **done: Any) -> OllamaChatChunk:
        called = calls_out(calls or [])
        message = OllamaMessageOut(role="assistant", content=text, tool_calls=called)
        return OllamaChatChunk(model=body.model, created_at=created_at(), message=message, **done)

    if not body.messages:  # Ollama's way to load (or, keep_alive 0, unload) a model
        return line("", done=True, done_reason="unload" if unloads(body.keep_alive) else "load")
    messages = chat_messages(body.messages)
    options = TurnOptions(
        sampling=sampling_of(body),
        max_tokens=body.options.max_tokens(),
        trim_oldest=True,  # as Ollama does: the oldest turns give way to a long conversation
        memory=memory_access(caller),
        tools=tool_request_of(body.tools, None),  # Ollama has no tool_choice: the model decides
    )
    turn = await chat.start(name, messages, options)
    generation = turn.generation
    reader: ToolCallReader | None = None
    if turn.tools is not None:  # text streams on; a call is held until whole, then checked
        generation, reader = reading_calls(generation, turn.tools)

    def read(text: str) -> ToolAnswer:
        return ToolAnswer(text) if reader is None else reader.finish()

    def done(stats: GenerationStats) -> dict[str, Any]:
        return done_fields(stats, started, turn.citations).model_dump(exclude_none=True)

    if not body.stream:

        def whole(text: str, stats: GenerationStats) -> OllamaChatChunk:
            answer = read(text)
            return line(answer.text, answer.calls, **done(stats))

        return await collect_answer(generation, request, whole)

    async def closing(stats: GenerationStats, text: str) -> list[OllamaChatChunk]:
        answer = read(text)
        told: list[OllamaChatChunk] = []
        if answer.calls:  # as Ollama streams them: the calls whole in one line, then done
            told.append(line("", answer.calls, done=False))
        elif answer.unreleased:  # held as a call that turned out not to be one
            told.append(line(answer.unreleased, done=False))
        return [*told, line("", **done(stats))]

    return stream_ndjson(
        generation,
        StreamedAnswer(opening=[], piece=lambda piece: line(piece, done=False), closing=closing),
    )


@router.post(
    "/generate",
    response_model=OllamaGenerateChunk,
    response_model_exclude_none=True,
    responses=ndjson_doc(OllamaGenerateChunk, "the whole answer"),
    dependencies=[Depends(require_scope("chat"))],
)
async def create_ollama_generation(
    body: OllamaGenerateIn, request: Request, hub: HubDep, chat: ChatDep
) -> OllamaGenerateChunk | NdjsonStream:
    """Ollama's generate: an answer to one prompt (``raw``: the prompt continued as it is)."""
    started = time.monotonic_ns()
    name = await _hub_model(hub, body.model)
    if body.images:
        raise HubAPIError(400, NO_IMAGES, param="images")
    if body.suffix:
        raise HubAPIError(400, "suffix (fill in the middle) is not supported", param="suffix")

    def line(text: str, **done: Any) -> OllamaGenerateChunk:
        return OllamaGenerateChunk(model=body.model, created_at=created_at(), response=text, **done)

    if not body.prompt:  # Ollama's way to load (or, keep_alive 0, unload) a model
        return line("", done=True, done_reason="unload" if unloads(body.keep_alive) else "load")
    sampling = sampling_of(body)
    generation: Generation
    cited: list[dict[str, Any]] = []
    if body.raw:
        prepare = partial(
            fit_text,
            text=body.prompt,
            requested_max_tokens=body.options.max_tokens(),
            default_max_tokens=hub.settings.default_max_tokens,
            sampling=sampling,
        )
        generation = await hub.runner.start(name, prepare)
        chat.count_when_finished(generation)
    else:
        system = [ChatMessage("system", body.system)] if body.system else []
        options = TurnOptions(
            sampling=sampling, max_tokens=body.options.max_tokens(), memory=NO_MEMORY
        )
        turn = await chat.start(name, [*system, ChatMessage("user", body.prompt)], options)
        generation, cited = turn.generation, turn.citations

    def done(stats: GenerationStats) -> dict[str, Any]:
        return done_fields(stats, started, cited).model_dump(exclude_none=True)

    if not body.stream:
        return await collect_answer(
            generation, request, lambda text, stats: line(text, **done(stats))
        )

    async def closing(stats: GenerationStats, text: str) -> list[OllamaGenerateChunk]:
        return [line("", **done(stats))]

    return stream_ndjson(
        generation,
        StreamedAnswer(opening=[], piece=lambda piece: line(piece, done=False), closing=closing),
    )
