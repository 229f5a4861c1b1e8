"""Copy one SQLite database with the online backup API, and hash files as they are copied."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from pathlib import Path

from hub.backup.manifest import SchemaVersion
from memory.sqlite_database import MIGRATIONS_TABLE

HASH_CHUNK = 1024 * 1024


def snapshot_database(source: Path, target: Path) -> None:
    """Copy a live database consistently: one read transaction, so writers are never blocked.

    In WAL mode a reader sees one committed state while writers go on; copying every page in
    a single step keeps the copy at that state even under constant writes (a stepwise backup
    would restart on each write from another connection).
    """
    src = sqlite3.connect(f"file:{source}?mode=rw", uri=True, timeout=30)
    try:
        dst = sqlite3.connect(str(target))
        try:
            src.backup(dst, pages=-1)
            # The copy is a single self-contained file: no -wal to carry along.
            dst.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            dst.close()
    finally:
        src.close()


def schema_version(path: Path) -> SchemaVersion:
    """PRAGMA user_version and the names in the _migrations table, when it exists."""
    conn = sqlite3.connect(f"file:{path}?mode=rw", uri=True)
    try:
        user_version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        has_table = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", [MIGRATIONS_TABLE]
        ).fetchone()
        names: tuple[str, ...] = ()
        if has_table:
            rows = conn.execute(f"SELECT name FROM {MIGRATIONS_TABLE} ORDER BY name").fetchall()
            names = tuple(str(row[0]) for row in rows)
    finally:
        conn.close()
    return SchemaVersion(user_version, names)


def check_integrity(path: Path) -> str | None:
    """None when SQLite's quick_check passes, else what it found."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=rw", uri=True)
        try:
            result = conn.execute("PRAGMA quick_check").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    return None if result == "ok" else str(result)


def sha256_of(path: Path) -> str:
    """The file's sha256, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def copy_file(source: Path, target: Path) -> None:
    """Copy a plain file's bytes (owner-only permissions are set by the caller)."""
    shutil.copyfile(source, target)
