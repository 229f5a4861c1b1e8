"""Open a hub SQLite database: WAL mode, one lock, and numbered append-only migrations."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import sqlite_utils

Migration = Callable[[sqlite_utils.Database], None]

MIGRATIONS_TABLE = "_migrations"


class MigrationOrderError(RuntimeError):
    """The migration list is not numbered in order (a shipped migration was edited or moved)."""


def _check_order(migrations: Sequence[Migration]) -> None:
    for number, migration in enumerate(migrations, start=1):
        if not migration.__name__.startswith(f"m{number:03d}_"):
            raise MigrationOrderError(
                f"migration {migration.__name__!r} is number {number}; name it "
                f"m{number:03d}_<what it does> and only ever append new migrations"
            )


def apply_migrations(db: sqlite_utils.Database, migrations: Sequence[Migration]) -> list[str]:
    """Run the migrations this database has not seen yet, each in its own transaction."""
    _check_order(migrations)
    db.execute(
        f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} "
        "(name TEXT PRIMARY KEY, applied_at REAL NOT NULL)"
    )
    done = {row[0] for row in db.execute(f"SELECT name FROM {MIGRATIONS_TABLE}").fetchall()}
    applied = []
    for migration in migrations:
        if migration.__name__ in done:
            continue
        with db.atomic():
            migration(db)
            db.execute(
                f"INSERT INTO {MIGRATIONS_TABLE} (name, applied_at) VALUES (?, ?)",
                [migration.__name__, time.time()],
            )
        applied.append(migration.__name__)
    return applied


@dataclass
class LockedDatabase:
    """A sqlite-utils database shared by worker threads, one statement group at a time."""

    db: sqlite_utils.Database
    lock: threading.Lock = field(default_factory=threading.Lock)

    @contextmanager
    def transaction(self) -> Iterator[sqlite_utils.Database]:
        """Hold the lock and run the block in one transaction (committed on success)."""
        with self.lock, self.db.atomic():
            yield self.db

    @contextmanager
    def reading(self) -> Iterator[sqlite_utils.Database]:
        """Hold the lock for reads."""
        with self.lock:
            yield self.db

    def close(self) -> None:
        """Close the connection."""
        with self.lock:
            self.db.close()


def open_database(path: Path, migrations: Sequence[Migration]) -> LockedDatabase:
    """Open (creating if needed) a WAL-mode database at ``path`` and bring its schema up to date."""
    conn = sqlite3.connect(str(path), check_same_thread=False, timeout=10)
    db = sqlite_utils.Database(conn)
    db.enable_wal()
    db.execute("PRAGMA foreign_keys=ON")
    # FULL: an acknowledged write survives a power cut, not only a crash.
    db.execute("PRAGMA synchronous=FULL")
    apply_migrations(db, migrations)
    return LockedDatabase(db)
