"""SqliteConversationStore: conversations and their messages in conversations.db."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlite_utils

from hub.conversations.migrations import MIGRATIONS
from hub.errors import HubError
from memory.sqlite_database import LockedDatabase, open_database

CONVERSATIONS_DB_NAME = "conversations.db"
DEFAULT_TITLE = "New chat"
TITLE_FROM_MESSAGE_CHARS = 60


class ConversationNotFoundError(HubError, LookupError):
    """No conversation with that id."""

    http_status = 404
    error_code = "conversation_not_found"


class MessageNotFoundError(HubError, LookupError):
    """No message with that id."""

    http_status = 404
    error_code = "message_not_found"


class ConversationStateError(HubError, ValueError):
    """The conversation is not in a state that allows this change."""

    http_status = 409
    error_code = "conversation_conflict"


@dataclass(frozen=True)
class ConversationSummary:
    """A conversation without its messages, as the list shows it."""

    id: int
    title: str
    created_at: float
    updated_at: float
    learn: bool = True  # False: the person said "don't learn from this conversation"


@dataclass(frozen=True)
class StoredMessage:
    """One stored message; assistant messages carry how they were made."""

    id: int
    conversation_id: int
    role: str
    content: str
    created_at: float
    model: str | None = None
    stopped: bool = False
    finish_reason: str | None = None
    tokens_per_second: float | None = None
    citations: list[dict[str, Any]] = field(default_factory=list)
    rating: str | None = None  # the person's verdict on an answer: "good", "bad" or None
    edited_content: str | None = None  # the answer as the person corrected it


@dataclass(frozen=True)
class Conversation:
    """A conversation with all its messages, oldest first."""

    summary: ConversationSummary
    messages: list[StoredMessage]


@dataclass(frozen=True)
class AssistantAnswer:
    """A finished (or stopped) answer, ready to be stored."""

    content: str
    model: str
    stopped: bool
    finish_reason: str
    tokens_per_second: float | None
    citations: list[dict[str, Any]] = field(default_factory=list)


def _summary(row: tuple[Any, ...]) -> ConversationSummary:
    return ConversationSummary(int(row[0]), str(row[1]), float(row[2]), float(row[3]), bool(row[4]))


_SUMMARY_COLUMNS = "id, title, created_at, updated_at, learn"


_MESSAGE_COLUMNS = (
    "id, conversation_id, role, content, created_at, model, stopped, finish_reason, "
    "tokens_per_second, citations, rating, edited_content"
)


def _message(row: tuple[Any, ...]) -> StoredMessage:
    return StoredMessage(
        id=int(row[0]),
        conversation_id=int(row[1]),
        role=str(row[2]),
        content=str(row[3]),
        created_at=float(row[4]),
        model=row[5],
        stopped=bool(row[6]),
        finish_reason=row[7],
        tokens_per_second=row[8],
        citations=json.loads(row[9] or "[]"),
        rating=row[10],
        edited_content=row[11],
    )


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def title_from_message(content: str) -> str:
    """A conversation title made from its first message: one line, cut at a word."""
    line = " ".join(content.split())
    if len(line) <= TITLE_FROM_MESSAGE_CHARS:
        return line or DEFAULT_TITLE
    cut = line[:TITLE_FROM_MESSAGE_CHARS].rsplit(" ", 1)[0]
    return (cut or line[:TITLE_FROM_MESSAGE_CHARS]) + "…"


class SqliteConversationStore:
    """Conversations kept in SQLite; every method is blocking (call it from a thread)."""

    def __init__(self, database: LockedDatabase) -> None:
        self.database = database

    @classmethod
    def open(cls, data_dir: Path) -> SqliteConversationStore:
        """Open conversations.db in the data directory, migrating it if needed."""
        return cls(open_database(data_dir / CONVERSATIONS_DB_NAME, MIGRATIONS))

    def close(self) -> None:
        """Close the database."""
        self.database.close()

    @staticmethod
    def _require(db: sqlite_utils.Database, conversation_id: int) -> ConversationSummary:
        row = db.execute(
            f"SELECT {_SUMMARY_COLUMNS} FROM conversations WHERE id = ?",
            [conversation_id],
        ).fetchone()
        if row is None:
            raise ConversationNotFoundError(
                f"no conversation with id {conversation_id}; list them with GET /v1/conversations"
            )
        return _summary(row)

    @staticmethod
    def _messages(db: sqlite_utils.Database, conversation_id: int) -> list[StoredMessage]:
        rows = db.execute(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? ORDER BY id",
            [conversation_id],
        ).fetchall()
        return [_message(row) for row in rows]

    @staticmethod
    def _touch(db: sqlite_utils.Database, conversation_id: int, now: float) -> None:
        db.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", [now, conversation_id])

    def list_conversations(
        self, query: str | None = None, limit: int = 200
    ) -> list[ConversationSummary]:
        """Conversations, most recently active first; ``query`` matches titles and message text."""
        with self.database.reading() as db:
            if query:
                pattern = _like_pattern(query)
                rows = db.execute(
                    f"SELECT {_SUMMARY_COLUMNS} FROM conversations c "
                    "WHERE c.title LIKE :p ESCAPE '\\' OR EXISTS (SELECT 1 FROM messages m "
                    "WHERE m.conversation_id = c.id AND m.content LIKE :p ESCAPE '\\') "
                    "ORDER BY updated_at DESC, id DESC LIMIT :limit",
                    {"p": pattern, "limit": limit},
                ).fetchall()
            else:
                rows = db.execute(
                    f"SELECT {_SUMMARY_COLUMNS} FROM conversations "
                    "ORDER BY updated_at DESC, id DESC LIMIT ?",
                    [limit],
                ).fetchall()
        return [_summary(row) for row in rows]

    def create_conversation(self, title: str | None = None) -> ConversationSummary:
        """Start an empty conversation."""
        now = time.time()
        with self.database.transaction() as db:
            cursor = db.execute(
                "INSERT INTO conversations (title, created_at, updated_at) VALUES (?, ?, ?)",
                [title or DEFAULT_TITLE, now, now],
            )
            return self._require(db, int(cursor.lastrowid or 0))

    def get_conversation(self, conversation_id: int) -> Conversation:
        """A conversation with its messages."""
        with self.database.reading() as db:
            summary = self._require(db, conversation_id)
            return Conversation(summary, self._messages(db, conversation_id))

    def get_summary(self, conversation_id: int) -> ConversationSummary:
        """A conversation's title and times, without its messages."""
        with self.database.reading() as db:
            return self._require(db, conversation_id)

    def rename_conversation(self, conversation_id: int, title: str) -> ConversationSummary:
        """Give a conversation a new title."""
        with self.database.transaction() as db:
            self._require(db, conversation_id)
            db.execute("UPDATE conversations SET title = ? WHERE id = ?", [title, conversation_id])
            return self._require(db, conversation_id)

    def delete_conversation(self, conversation_id: int) -> None:
        """Delete a conversation and all its messages."""
        with self.database.transaction() as db:
            self._require(db, conversation_id)
            db.execute("DELETE FROM conversations WHERE id = ?", [conversation_id])

    def add_user_message(self, conversation_id: int, content: str) -> StoredMessage:
        """Append the person's message; the first one names an untitled conversation."""
        now = time.time()
        with self.database.transaction() as db:
            summary = self._require(db, conversation_id)
            has_messages = db.execute(
                "SELECT 1 FROM messages WHERE conversation_id = ? LIMIT 1", [conversation_id]
            ).fetchone()
            if not has_messages and summary.title == DEFAULT_TITLE:
                db.execute(
                    "UPDATE conversations SET title = ? WHERE id = ?",
                    [title_from_message(content), conversation_id],
                )
            cursor = db.execute(
                "INSERT INTO messages (conversation_id, role, content, created_at) "
                "VALUES (?, 'user', ?, ?)",
                [conversation_id, content, now],
            )
            self._touch(db, conversation_id, now)
            return self._message_by_id(db, int(cursor.lastrowid or 0))

    @staticmethod
    def _message_by_id(db: sqlite_utils.Database, message_id: int) -> StoredMessage:
        row = db.execute(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE id = ?", [message_id]
        ).fetchone()
        if row is None:
            raise MessageNotFoundError(f"no message with id {message_id}")
        return _message(row)

    def regeneration_history(self, conversation_id: int) -> tuple[list[StoredMessage], int | None]:
        """The messages to answer again, and the id of the answer a new one will replace."""
        with self.database.reading() as db:
            self._require(db, conversation_id)
            messages = self._messages(db, conversation_id)
        replaces = None
        if messages and messages[-1].role == "assistant":
            replaces = messages[-1].id
            messages = messages[:-1]
        if not messages or messages[-1].role != "user":
            raise ConversationStateError(
                "there is no message to answer again; send a message first"
            )
        return messages, replaces

    def edit_last_user_message(
        self, conversation_id: int, message_id: int, content: str
    ) -> list[StoredMessage]:
        """Change the person's last message, drop what came after it, and return the history."""
        now = time.time()
        with self.database.transaction() as db:
            self._require(db, conversation_id)
            last_user = db.execute(
                "SELECT id FROM messages WHERE conversation_id = ? AND role = 'user' "
                "ORDER BY id DESC LIMIT 1",
                [conversation_id],
            ).fetchone()
            if last_user is None or int(last_user[0]) != message_id:
                raise ConversationStateError(
                    f"message {message_id} is not the last message you sent in conversation "
                    f"{conversation_id}; only the last one can be edited and sent again"
                )
            db.execute(
                "UPDATE messages SET content = ?, created_at = ? WHERE id = ?",
                [content, now, message_id],
            )
            db.execute(
                "DELETE FROM messages WHERE conversation_id = ? AND id > ?",
                [conversation_id, message_id],
            )
            self._touch(db, conversation_id, now)
            return self._messages(db, conversation_id)

    def add_assistant_message(
        self, conversation_id: int, answer: AssistantAnswer, replaces: int | None = None
    ) -> StoredMessage | None:
        """Store an answer (replacing an older one when regenerating); None if the conversation
        was deleted meanwhile."""
        now = time.time()
        with self.database.transaction() as db:
            exists = db.execute(
                "SELECT 1 FROM conversations WHERE id = ?", [conversation_id]
            ).fetchone()
            if exists is None:
                return None
            if replaces is not None:
                db.execute(
                    "DELETE FROM messages WHERE id = ? AND conversation_id = ? "
                    "AND role = 'assistant'",
                    [replaces, conversation_id],
                )
            cursor = db.execute(
                "INSERT INTO messages (conversation_id, role, content, created_at, model, stopped, "
                "finish_reason, tokens_per_second, citations) "
                "VALUES (?, 'assistant', ?, ?, ?, ?, ?, ?, ?)",
                [
                    conversation_id,
                    answer.content,
                    now,
                    answer.model,
                    int(answer.stopped),
                    answer.finish_reason,
                    answer.tokens_per_second,
                    json.dumps(answer.citations),
                ],
            )
            self._touch(db, conversation_id, now)
            return self._message_by_id(db, int(cursor.lastrowid or 0))
