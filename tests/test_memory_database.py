"""The one SQLite opener: settings, ordered migrations, and databases made by the older runners."""

from __future__ import annotations

import sqlite3
import time
from datetime import datetime
from pathlib import Path

import pytest
import sqlite_utils

from hub.backup.snapshot import schema_version
from hub.conversations.migrations import MIGRATIONS as CONVERSATION_MIGRATIONS
from hub.conversations.migrations import m001_initial as m001_conversations
from memory.fake_embedder import HashingEmbedder
from memory.migrations import MIGRATIONS as MEMORY_MIGRATIONS
from memory.migrations import m001_initial as m001_memory
from memory.sqlite_database import MigrationOrderError, connect, open_database
from memory.sqlite_store import SqliteMemoryStore
from memory.types import NewMemory


def migration_rows(path: Path) -> list[tuple[str, str, object]]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "SELECT name, typeof(applied_at), applied_at FROM _migrations ORDER BY name"
        ).fetchall()
    return [(str(name), str(kind), value) for name, kind, value in rows]


def test_a_new_database_is_durable_and_stamps_migrations_in_iso_time(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    database = open_database(path, CONVERSATION_MIGRATIONS)
    with database.reading() as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    database.close()
    rows = migration_rows(path)
    assert [name for name, _, _ in rows] == ["m001_initial", "m002_learning_feedback"]
    for _, kind, value in rows:
        assert kind == "text"
        assert datetime.fromisoformat(str(value)).utcoffset() is not None


def test_migrations_out_of_order_are_refused_with_the_name_to_use(tmp_path: Path) -> None:
    def m002_second(db: sqlite_utils.Database) -> None:
        db.execute("CREATE TABLE second (x)")

    with pytest.raises(MigrationOrderError, match="name it m001_"):
        open_database(tmp_path / "bad.db", [m002_second])


def test_a_memory_db_made_by_the_old_memory_runner_gets_only_the_new_migrations(
    tmp_path: Path,
) -> None:
    path = tmp_path / "memory.db"
    # As memory/migrations.py did before: a TEXT column, an ISO time per migration.
    old = sqlite_utils.Database(path)
    old.execute("CREATE TABLE [_migrations] ([name] TEXT PRIMARY KEY, [applied_at] TEXT)")
    m001_memory(old)
    old.execute(
        "INSERT INTO _migrations (name, applied_at) VALUES (?, ?)",
        ["m001_initial", "2025-05-01T03:00:00.000000+00:00"],
    )
    old.execute(
        "INSERT INTO items (id, kind, text, source, happened_at, stored_at, updated_at, metadata, "
        "pinned) VALUES ('mem_0123456789abcdef', 'note', 'The boiler was serviced.', 'manual', "
        "'2025-05-01T03:00:00.000000+00:00', '2025-05-01T03:00:00.000000+00:00', "
        "'2025-05-01T03:00:00.000000+00:00', '{}', 0)"
    )
    old.conn.commit()
    old.close()

    store = SqliteMemoryStore(path, HashingEmbedder())
    assert store.get("mem_0123456789abcdef").text == "The boiler was serviced."
    store.add(NewMemory(text="The boiler is in the cellar.", kind="note"))
    store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM fact_jobs").fetchone() == (0,)
    rows = migration_rows(path)
    assert rows[0] == ("m001_initial", "text", "2025-05-01T03:00:00.000000+00:00")
    assert [name for name, _, _ in rows] == [m.__name__ for m in MEMORY_MIGRATIONS]
    assert rows[1][1] == "text" and datetime.fromisoformat(str(rows[1][2])).year >= 2025


def test_a_hub_db_made_by_the_old_hub_runner_gets_only_the_new_migrations(tmp_path: Path) -> None:
    path = tmp_path / "conversations.db"
    # As hub/sqlite_db.py did before: a REAL column, seconds since the epoch.
    old = sqlite_utils.Database(path)
    old.execute(
        "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)"
    )
    m001_conversations(old)
    old.execute(
        "INSERT INTO _migrations (name, applied_at) VALUES (?, ?)", ["m001_initial", 1746068400.0]
    )
    old.conn.commit()
    old.close()

    before = time.time()
    database = open_database(path, CONVERSATION_MIGRATIONS)
    database.close()
    rows = migration_rows(path)
    assert rows[0] == ("m001_initial", "real", 1746068400.0)
    assert rows[1][:2] == ("m002_learning_feedback", "real")
    assert float(rows[1][2]) >= before  # type: ignore[arg-type]
    # Opening again applies nothing, and a backup reads the names whatever the column's form.
    open_database(path, CONVERSATION_MIGRATIONS).close()
    assert len(migration_rows(path)) == 2
    assert schema_version(path).migrations == ("m001_initial", "m002_learning_feedback")


def test_connect_alone_applies_no_schema(tmp_path: Path) -> None:
    db = connect(tmp_path / "plain.db")
    assert db.table_names() == []
    db.close()
