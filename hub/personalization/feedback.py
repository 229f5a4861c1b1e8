"""The person's say over learning: exclude a conversation, rate or correct an answer."""

from __future__ import annotations

from dataclasses import dataclass

from hub.conversations.store import ConversationNotFoundError, MessageNotFoundError
from hub.errors import HubError
from memory.sqlite_database import LockedDatabase


class NotAnAnswerError(HubError, ValueError):
    """Only the assistant's answers can be rated or corrected."""

    error_code = "not_an_answer"


@dataclass(frozen=True)
class MessageFeedback:
    """The person's verdict on one answer."""

    message_id: int
    rating: str | None
    edited_content: str | None


def set_conversation_learning(database: LockedDatabase, conversation_id: int, learn: bool) -> bool:
    """Allow or forbid learning from one conversation; returns the new setting."""
    with database.transaction() as db:
        cursor = db.execute(
            "UPDATE conversations SET learn = ? WHERE id = ?", [int(learn), conversation_id]
        )
        if cursor.rowcount == 0:
            raise ConversationNotFoundError(
                f"no conversation with id {conversation_id}; list them with GET /v1/conversations"
            )
    return learn


def conversation_learning(database: LockedDatabase, conversation_id: int) -> bool:
    """Whether personalization may learn from this conversation."""
    with database.reading() as db:
        row = db.execute(
            "SELECT learn FROM conversations WHERE id = ?", [conversation_id]
        ).fetchone()
    if row is None:
        raise ConversationNotFoundError(f"no conversation with id {conversation_id}")
    return bool(row[0])


def set_message_feedback(
    database: LockedDatabase, message_id: int, rating: str | None, edited_content: str | None
) -> MessageFeedback:
    """Rate an assistant answer and/or store the person's corrected version of it."""
    with database.transaction() as db:
        row = db.execute("SELECT role FROM messages WHERE id = ?", [message_id]).fetchone()
        if row is None:
            raise MessageNotFoundError(
                f"no message with id {message_id}; read a conversation to see its message ids"
            )
        if row[0] != "assistant":
            raise NotAnAnswerError(
                f"message {message_id} is the person's own; only answers can be rated or corrected"
            )
        db.execute(
            "UPDATE messages SET rating = ?, edited_content = ? WHERE id = ?",
            [rating, edited_content, message_id],
        )
    return MessageFeedback(message_id, rating, edited_content)
