"""Answer in a stored conversation: history in, SSE out, the answer stored when the model stops.

The answer is streamed in OpenAI's ``chat.completion.chunk`` format. The first chunk adds
``conversation_id`` (and ``user_message`` when one was stored); the final chunk adds
``message_id``, ``stopped``, ``timings``, ``usage``, ``citations`` and ``conversation``, and is
sent only after the answer is committed. A client that goes away (the Stop button) cancels the
generation, and what it had received is stored, marked stopped.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from fastapi.responses import StreamingResponse

from hub.api.chat_turns import ChatTurn, TurnOptions, start_chat_turn
from hub.api.errors import to_api_error
from hub.api.openai_format import (
    chat_chunk,
    error_body_for,
    finish_reason,
    new_id,
    now,
    sse,
    timings,
    usage,
)
from hub.api.services import HubServices
from hub.conversations.preferences import ChatPreferences
from hub.conversations.store import AssistantAnswer, ConversationSummary, StoredMessage
from hub.engine.types import ChatMessage, SamplingParams


def summary_object(summary: ConversationSummary) -> dict[str, Any]:
    """A conversation as the API shows it."""
    return {
        "id": summary.id,
        "object": "conversation",
        "title": summary.title,
        "created_at": summary.created_at,
        "updated_at": summary.updated_at,
        "learn": summary.learn,
    }


def message_object(message: StoredMessage) -> dict[str, Any]:
    """A stored message as the API shows it."""
    return {
        "id": message.id,
        "role": message.role,
        "content": message.content,
        "created_at": message.created_at,
        "model": message.model,
        "stopped": message.stopped,
        "finish_reason": message.finish_reason,
        "tokens_per_second": message.tokens_per_second,
        "citations": message.citations,
        "rating": message.rating,
        "edited_content": message.edited_content,
    }


def model_messages(preferences: ChatPreferences, history: list[StoredMessage]) -> list[ChatMessage]:
    """The persona, then the conversation (answers stopped before any text are left out)."""
    messages = []
    if preferences.system_prompt.strip():
        messages.append(ChatMessage("system", preferences.system_prompt.strip()))
    for message in history:
        if message.role == "assistant" and not message.content.strip():
            continue
        messages.append(ChatMessage(message.role, message.content))
    return messages


@dataclass
class _AnswerRecord:
    """What one streamed answer has sent so far, and whether it has been handed to the store."""

    pieces: list[str] = field(default_factory=list)
    save_started: bool = False


async def start_conversation_turn(services: HubServices, history: list[StoredMessage]) -> ChatTurn:
    """Start answering ``history`` with the person's preferences (errors surface here)."""
    preferences = await asyncio.to_thread(services.web.preferences.read_preferences)
    options = TurnOptions(
        params=SamplingParams(max_tokens=1, temperature=preferences.temperature),
        max_tokens=preferences.max_tokens,
        trim_oldest=True,
    )
    return await start_chat_turn(services, None, model_messages(preferences, history), options)


def stream_conversation_turn(
    services: HubServices,
    conversation_id: int,
    turn: ChatTurn,
    replaces: int | None = None,
    user_message: StoredMessage | None = None,
) -> StreamingResponse:
    """Stream the answer as SSE and store it when the model stops, however it stops."""
    generation = turn.generation
    store = services.web.conversations
    response_id, created, model = new_id("chatcmpl"), now(), generation.model_name
    record = _AnswerRecord()

    def answer(client_left: bool) -> AssistantAnswer:
        stats = generation.stats
        return AssistantAnswer(
            content="".join(record.pieces),
            model=model,
            stopped=client_left or stats.finish_reason == "cancelled",
            finish_reason=stats.finish_reason,
            tokens_per_second=stats.decode_tokens_per_second,
            citations=turn.citations,
        )

    async def save_after_stop() -> None:
        await generation.wait_finished()
        await asyncio.to_thread(
            store.add_assistant_message, conversation_id, answer(True), replaces
        )

    def first_chunk() -> dict[str, Any]:
        chunk = chat_chunk(response_id, created, model, {"role": "assistant", "content": ""})
        chunk["conversation_id"] = conversation_id
        if user_message is not None:
            chunk["user_message"] = message_object(user_message)
        return chunk

    async def final_chunk() -> dict[str, Any]:
        stored = await asyncio.to_thread(
            store.add_assistant_message, conversation_id, answer(False), replaces
        )
        stats = generation.stats
        chunk = chat_chunk(response_id, created, model, {}, finish_reason(stats))
        chunk["timings"] = timings(stats)
        chunk["usage"] = usage(stats)
        chunk["citations"] = turn.citations
        chunk["message_id"] = stored.id if stored else None
        chunk["stopped"] = stored.stopped if stored else False
        chunk["conversation"] = None
        if stored is not None:  # None: the conversation was deleted while it answered
            summary = await asyncio.to_thread(store.get_summary, conversation_id)
            chunk["conversation"] = summary_object(summary)
        return chunk

    async def events() -> AsyncIterator[str]:
        try:
            yield sse(first_chunk())
            async for piece in generation:
                record.pieces.append(piece)
                yield sse(chat_chunk(response_id, created, model, {"content": piece}))
            await generation.wait_finished()
            record.save_started = True
            yield sse(await final_chunk())
            yield sse("[DONE]")
        except Exception as exc:  # the status line is sent already: report in-band
            error = to_api_error(exc)
            yield sse(error_body_for(error.message, error.error_type, error.code))
        finally:
            generation.cancel()
            if not record.save_started:
                record.save_started = True
                # This task may itself be cancelled (the client left): store from a new task.
                services.web.pending.spawn(save_after_stop())

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
