"""Stream an answer in a stored conversation as SSE, and store it when the model stops.

The answer is streamed in OpenAI's ``chat.completion.chunk`` format. The first chunk adds
``conversation_id`` (and ``user_message`` when one was stored); the final chunk adds
``message_id``, ``stopped``, ``timings``, ``usage``, ``citations`` and ``conversation``, and is
sent only after the answer is committed. A client that goes away (the Stop button) cancels the
generation, and what it had received is stored, marked stopped.
"""

from __future__ import annotations

import asyncio

from hub.api.conversation_schemas import ConversationChunk, ConversationObject, MessageObject
from hub.api.openai_format import answer_head, finish_reason
from hub.api.openai_schemas import ChunkDelta, Timings, Usage, citations_of
from hub.api.sse import EventStream, StreamedAnswer, stream_answer
from hub.chat.turns import ChatTurn
from hub.conversations.store import AssistantAnswer, StoredMessage
from hub.engine.types import GenerationStats
from hub.web.web_services import WebServices


def stream_conversation_turn(
    web: WebServices,
    conversation_id: int,
    turn: ChatTurn,
    replaces: int | None = None,
    user_message: StoredMessage | None = None,
) -> EventStream:
    """Stream the answer as SSE and store it when the model stops, however it stops."""
    generation = turn.generation
    store = web.conversations
    head = answer_head("chatcmpl", generation.model_name)

    def answer(text: str, client_left: bool) -> AssistantAnswer:
        stats = generation.stats
        return AssistantAnswer(
            content=text,
            model=head.model,
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

    opening = ChunkDelta(role="assistant", content="")
    if user_message is None:
        first = ConversationChunk.of(head, opening, conversation_id=conversation_id)
    else:
        first = ConversationChunk.of(
            head,
            opening,
            conversation_id=conversation_id,
            user_message=MessageObject.from_domain(user_message),
        )

    async def closing(stats: GenerationStats, text: str) -> list[ConversationChunk]:
        stored = await asyncio.to_thread(
            store.add_assistant_message, conversation_id, answer(text, False), replaces
        )
        conversation = None
        if stored is not None:  # None: the conversation was deleted while it answered
            summary = await asyncio.to_thread(store.get_summary, conversation_id)
            conversation = ConversationObject.from_domain(summary)
        last = ConversationChunk.of(
            head,
            ChunkDelta(),
            finish_reason(stats),
            timings=Timings.from_stats(stats),
            usage=Usage.from_stats(stats),
            citations=citations_of(turn.citations),
            message_id=stored.id if stored else None,
            stopped=stored.stopped if stored else False,
            conversation=conversation,
        )
        return [last]

    return stream_answer(
        generation,
        StreamedAnswer(
            opening=[first],
            piece=lambda piece: ConversationChunk.of(head, ChunkDelta(content=piece)),
            closing=closing,
            on_end=on_end,
        ),
    )
