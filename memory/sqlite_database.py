"""Open a SQLite database the one way every store does: WAL, foreign keys, synchronous=FULL,
numbered append-only migrations checked for order, and a lock for sharing one connection.

It lives in ``memory`` because both ``memory`` and the hub use it and ``memory`` never imports
the hub.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import sqlite_utils

from memory.timestamps import to_stored, utc_now

Migration = Callable[[sqlite_utils.Database], None]

MIGRATIONS_TABLE = "_migrations"
# A writer in another connection (a backup, the CLI beside the hub) is waited for this long.
BUSY_TIMEOUT_SECONDS = 10.0


class MigrationOrderError(RuntimeError):
    """The migration list is not numbered in order (a shipped migration was edited or moved)."""


def check_order(migrations: Sequence[Migration]) -> None:
    """Each migration is named m<its number>_…, numbered from 1 with no gap."""
    for number, migration in enumerate(migrations, start=1):
        if not migration.__name__.startswith(f"m{number:03d}_"):
            raise MigrationOrderError(
                f"migration {migration.__name__!r} is number {number}; name it "
                f"m{number:03d}_<what it does> and only ever append new migrations"
            )


def applied_migrations(db: sqlite_utils.Database) -> set[str]:
    """The names of the migrations this database has had (none before the table exists)."""
    if MIGRATIONS_TABLE not in db.table_names():
        return set()
    return {str(row[0]) for row in db.execute(f"SELECT name FROM {MIGRATIONS_TABLE}").fetchall()}


def _stamp_for(db: sqlite_utils.Database) -> Callable[[], float | str]:
    # Databases made before the runners were one keep the form they began with: the hub's wrote
    # applied_at as REAL seconds since the epoch, memory's as ISO 8601 text. Following the
    # column's declared type keeps every row of one table alike, so an older hub reading it
    # after a downgrade, or a person in the sqlite3 shell, sees one kind of value. New tables
    # are TEXT: ISO 8601 in UTC says what it is without knowing the epoch.
    declared = {column.name: column.type.upper() for column in db.table(MIGRATIONS_TABLE).columns}
    if declared.get("applied_at") == "REAL":
        return time.time
    return lambda: to_stored(utc_now())


def apply_migrations(db: sqlite_utils.Database, migrations: Sequence[Migration]) -> list[str]:
    """Run the migrations this database has not seen yet, each in its own transaction (with its
    row in _migrations); return their names."""
    check_order(migrations)
    db.execute(
        f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} "
        "(name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
    )
    done = applied_migrations(db)
    stamp = _stamp_for(db)
    applied = []
    for migration in migrations:
        if migration.__name__ in done:
            continue
        with db.atomic():
            migration(db)
            db.execute(
                f"INSERT INTO {MIGRATIONS_TABLE} (name, applied_at) VALUES (?, ?)",
                [migration.__name__, stamp()],
            )
        applied.append(migration.__name__)
    return applied


def connect(path: Path) -> sqlite_utils.Database:
    """A connection usable from any thread (the caller serializes), in WAL mode with foreign
    keys enforced and every commit synced to disk."""
    conn = sqlite3.connect(str(path), check_same_thread=False, timeout=BUSY_TIMEOUT_SECONDS)
    db = sqlite_utils.Database(conn)
    db.enable_wal()
    db.execute("PRAGMA foreign_keys=ON")
    # FULL: an acknowledged write survives a power cut, not only a crash.
    db.execute("PRAGMA synchronous=FULL")
    return db


def fold_wal(conn: sqlite3.Connection, timeout: float = BUSY_TIMEOUT_SECONDS) -> bool:
    """Copy every frame of the WAL into the database file and empty the WAL, retrying while a
    reader still holds an older snapshot; False when it could not within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if not busy:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


@contextmanager
def immediate_transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """Run the block in one write transaction that takes the write lock when it begins (BEGIN
    IMMEDIATE): committed on success, rolled back whole on any error. The caller serializes
    use of ``conn`` and must not be in a transaction already."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    else:
        try:
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise


@dataclass
class LockedDatabase:
    """A sqlite-utils database shared by worker threads, one statement group at a time."""

    db: sqlite_utils.Database
    lock: threading.Lock = field(default_factory=threading.Lock)

    @contextmanager
    def transaction(self) -> Iterator[sqlite_utils.Database]:
        """Hold the lock and run the block in one write transaction (committed on success).

        The transaction takes the database's write lock when it begins (BEGIN IMMEDIATE),
        waiting for another connection's writer as long as the busy timeout allows. A deferred
        BEGIN would read first and ask for the lock later, and SQLite refuses that at once,
        without waiting, when another connection wrote in between ("database is locked")."""
        with self.lock:
            conn = self.db.conn
            if conn.in_transaction:  # a nested block: sqlite-utils' savepoint
                with self.db.atomic():
                    yield self.db
                return
            with immediate_transaction(conn):
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
    """Open (creating if needed) the database at ``path`` and bring its schema up to date."""
    db = connect(path)
    apply_migrations(db, migrations)
    return LockedDatabase(db)
