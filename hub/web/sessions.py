"""Browser sessions in sessions.db: only a hash of each session id is stored."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from pathlib import Path

import sqlite_utils

from memory.sqlite_database import LockedDatabase, Migration, open_database

SESSIONS_DB_NAME = "sessions.db"
SESSION_LIFETIME_SECONDS = 30 * 24 * 3600
REFRESH_AFTER_SECONDS = 3600


def m001_sessions(db: sqlite_utils.Database) -> None:
    """One row per signed-in browser."""
    db.execute(
        """
        CREATE TABLE sessions (
            id_hash TEXT PRIMARY KEY,
            created_at REAL NOT NULL,
            last_seen_at REAL NOT NULL,
            expires_at REAL NOT NULL
        )
        """
    )


def m002_passphrase_tag(db: sqlite_utils.Database) -> None:
    """Each session belongs to the passphrase it was opened with: a new or reset passphrase ends
    it (sessions from before this migration have none, so they end once)."""
    db.execute("ALTER TABLE sessions ADD COLUMN passphrase_tag TEXT NOT NULL DEFAULT ''")


MIGRATIONS: list[Migration] = [m001_sessions, m002_passphrase_tag]


def hash_session_id(session_id: str) -> str:
    """The stored form of a session id (a leaked database gives no usable cookie)."""
    return hashlib.sha256(session_id.encode()).hexdigest()


class SqliteSessionStore:
    """Create, check and end sessions; blocking (call it from a thread)."""

    def __init__(
        self,
        database: LockedDatabase,
        lifetime: float = SESSION_LIFETIME_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.database = database
        self.lifetime = lifetime
        self.clock = clock

    @classmethod
    def open(cls, data_dir: Path) -> SqliteSessionStore:
        """Open sessions.db in the data directory, migrating it if needed."""
        return cls(open_database(data_dir / SESSIONS_DB_NAME, MIGRATIONS))

    def close(self) -> None:
        """Close the database."""
        self.database.close()

    def create_session(self, passphrase_tag: str = "") -> str:
        """Start a session under the passphrase ``passphrase_tag`` names and return its id (the
        cookie value); only its hash is kept."""
        session_id = secrets.token_urlsafe(32)
        now = self.clock()
        with self.database.transaction() as db:
            db.execute("DELETE FROM sessions WHERE expires_at <= ?", [now])
            db.execute(
                "INSERT INTO sessions "
                "(id_hash, created_at, last_seen_at, expires_at, passphrase_tag) "
                "VALUES (?, ?, ?, ?, ?)",
                [hash_session_id(session_id), now, now, now + self.lifetime, passphrase_tag],
            )
        return session_id

    def check_session(self, session_id: str, passphrase_tag: str = "") -> bool:
        """True for a live session opened under the passphrase ``passphrase_tag`` names; an
        active one is extended now and then."""
        if not session_id or len(session_id) > 200:
            return False
        now = self.clock()
        id_hash = hash_session_id(session_id)
        with self.database.reading() as db:
            row = db.execute(
                "SELECT last_seen_at, expires_at, passphrase_tag FROM sessions WHERE id_hash = ?",
                [id_hash],
            ).fetchone()
        if row is None or float(row[1]) <= now or row[2] != passphrase_tag:
            return False
        if now - float(row[0]) > REFRESH_AFTER_SECONDS:
            with self.database.transaction() as db:
                db.execute(
                    "UPDATE sessions SET last_seen_at = ?, expires_at = ? WHERE id_hash = ?",
                    [now, now + self.lifetime, id_hash],
                )
        return True

    def end_session(self, session_id: str) -> None:
        """Forget one session (sign-out)."""
        with self.database.transaction() as db:
            db.execute("DELETE FROM sessions WHERE id_hash = ?", [hash_session_id(session_id)])

    def end_all_sessions(self) -> None:
        """Sign every browser out."""
        with self.database.transaction() as db:
            db.execute("DELETE FROM sessions")
