"""Schema of conversations.db: numbered, append-only; never edit a shipped migration."""

from __future__ import annotations

import sqlite_utils

from hub.sqlite_db import Migration


def m001_initial(db: sqlite_utils.Database) -> None:
    """Conversations, their messages, and the person's chat preferences."""
    db.execute(
        """
        CREATE TABLE conversations (
            id INTEGER PRIMARY KEY,
            title TEXT NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        )
        """
    )
    db.execute(
        """
        CREATE TABLE messages (
            id INTEGER PRIMARY KEY,
            conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
            content TEXT NOT NULL,
            created_at REAL NOT NULL,
            model TEXT,
            stopped INTEGER NOT NULL DEFAULT 0,
            finish_reason TEXT,
            tokens_per_second REAL,
            citations TEXT NOT NULL DEFAULT '[]'
        )
        """
    )
    db.execute("CREATE INDEX messages_by_conversation ON messages (conversation_id, id)")
    db.execute("CREATE INDEX conversations_by_update ON conversations (updated_at)")
    db.execute("CREATE TABLE preferences (key TEXT PRIMARY KEY, value TEXT NOT NULL)")


MIGRATIONS: list[Migration] = [m001_initial]
