"""Stream an answer in a stored conversation as SSE, and store it when the model stops.

The answer is streamed in OpenAI's ``chat.completion.chunk`` format. The first chunk adds
``conversation_id`` (and ``user_message`` when one was stored); the final chunk adds
``message_id``, ``stopped``, ``timings``, ``usage``, ``citations`` and ``conversation``, and is
sent only after the answer is committed. A client that goes away (the Stop button) cancels the
generation, and what it had received is stored, marked stopped.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi.responses import StreamingResponse

from hub.api.openai_format import chat_chunk, finish_reason, new_id, now, timings, usage
from hub.api.sse import Event, StreamedAnswer, stream_answer
from hub.chat.turns import ChatTurn
from hub.conversations.store import AssistantAnswer, ConversationSummary, StoredMessage
from hub.web.web_services import WebServices


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


def stream_conversation_turn(
    web: WebServices,
    conversation_id: int,
    turn: ChatTurn,
    replaces: int | None = None,
    user_message: StoredMessage | None = None,
) -> StreamingResponse:
    """Stream the answer as SSE and store it when the model stops, however it stops."""
    generation = turn.generation
    store = web.conversations
    response_id, created, model = new_id("chatcmpl"), now(), generation.model_name

    def answer(text: str, client_left: bool) -> AssistantAnswer:
        stats = generation.stats
        return AssistantAnswer(
            content=text,
            model=model,
            stopped=client_left or stats.finish_reason == "cancelled",
            finish_reason=stats.finish_reason,
            tokens_per_second=stats.decode_tokens_per_second,
            citations=turn.citations,
        )

    async def save_after_stop(text: str) -> None:
        await generation.wait_finished()
        await asyncio.to_thread(
            store.add_assistant_message, conversation_id, answer(text, True), replaces
        )

    def on_end(closed: bool, text: str) -> None:
        if not closed:  # the client left first: store what it had (from a task of its own,
            web.pending.spawn(save_after_stop(text))  # since this one may be cancelled)

    first = chat_chunk(response_id, created, model, {"role": "assistant", "content": ""})
    first["conversation_id"] = conversation_id
    if user_message is not None:
        first["user_message"] = message_object(user_message)

    async def closing(stats: Any, text: str) -> list[Event]:
        stored = await asyncio.to_thread(
            store.add_assistant_message, conversation_id, answer(text, False), replaces
        )
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
        return [chunk]

    return stream_answer(
        generation,
        StreamedAnswer(
            opening=[first],
            piece=lambda piece: chat_chunk(response_id, created, model, {"content": piece}),
            closing=closing,
            on_end=on_end,
        ),
    )
