"""Schema of conversations.db: numbered, append-only; never edit a shipped migration."""

from __future__ import annotations

import sqlite_utils

from memory.sqlite_database import Migration


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


def m002_learning_feedback(db: sqlite_utils.Database) -> None:
    """What personalization may learn: a per-conversation opt-out, and the person's verdict on
    an answer ("good" or "bad") or their own corrected answer."""
    db.execute("ALTER TABLE conversations ADD COLUMN learn INTEGER NOT NULL DEFAULT 1")
    db.execute("ALTER TABLE messages ADD COLUMN rating TEXT CHECK (rating IN ('good', 'bad'))")
    db.execute("ALTER TABLE messages ADD COLUMN edited_content TEXT")


MIGRATIONS: list[Migration] = [m001_initial, m002_learning_feedback]
