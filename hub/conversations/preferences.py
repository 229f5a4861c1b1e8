"""The person's chat preferences (persona, temperature, answer length), kept in conversations.db."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields

from memory.sqlite_database import LockedDatabase

PREFERENCES_KEY = "chat"


@dataclass(frozen=True)
class ChatPreferences:
    """How the assistant answers in the web UI's conversations."""

    system_prompt: str = ""
    temperature: float = 0.7
    max_tokens: int | None = None


class SqlitePreferencesStore:
    """Reads and writes ChatPreferences; blocking (call it from a thread)."""

    def __init__(self, database: LockedDatabase) -> None:
        self.database = database

    def read_preferences(self) -> ChatPreferences:
        """The saved preferences, or the defaults."""
        with self.database.reading() as db:
            row = db.execute(
                "SELECT value FROM preferences WHERE key = ?", [PREFERENCES_KEY]
            ).fetchone()
        if row is None:
            return ChatPreferences()
        saved = json.loads(row[0])
        known = {f.name for f in fields(ChatPreferences)}
        return ChatPreferences(**{k: v for k, v in saved.items() if k in known})

    def save_preferences(self, preferences: ChatPreferences) -> ChatPreferences:
        """Replace the saved preferences."""
        with self.database.transaction() as db:
            db.execute(
                "INSERT INTO preferences (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [PREFERENCES_KEY, json.dumps(asdict(preferences))],
            )
        return preferences
