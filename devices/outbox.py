"""DeviceState: a device's secret, sequence counter and unacknowledged frames, in one small
SQLite file, so neither a lost link nor a device restart loses a frame."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

Frame = str | bytes


class DeviceState:
    """The device side of 'keep everything until it is acknowledged'."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY, body BLOB NOT NULL, "
            "binary INTEGER NOT NULL)"
        )
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL)"
        )

    def _get(self, key: str) -> bytes | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return None if row is None else bytes(row[0])

    def _set(self, key: str, value: bytes) -> None:
        self._conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [key, value],
        )

    def secret(self) -> bytes | None:
        """The secret the hub gave at pairing, or None before pairing."""
        with self._lock:
            return self._get("secret")

    def set_secret(self, secret: bytes | None) -> None:
        """Keep (or, with None, forget) the secret."""
        with self._lock:
            if secret is None:
                self._conn.execute("DELETE FROM meta WHERE key = 'secret'")
            else:
                self._set("secret", secret)

    def append(self, build: Callable[[int], Frame]) -> int:
        """Give the next sequence number to ``build`` and keep the frame it returns."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                last = self._get("last_seq")
                seq = int(last.decode()) + 1 if last else 1
                frame = build(seq)
                body = frame if isinstance(frame, bytes) else frame.encode()
                self._conn.execute(
                    "INSERT INTO outbox (seq, body, binary) VALUES (?, ?, ?)",
                    [seq, body, int(isinstance(frame, bytes))],
                )
                self._set("last_seq", str(seq).encode())
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        return seq

    def pending(self, after: int = 0, limit: int = 500) -> list[tuple[int, Frame]]:
        """Unacknowledged frames with seq above ``after``, oldest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT seq, body, binary FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
                [after, limit],
            ).fetchall()
        return [
            (seq, bytes(body) if binary else bytes(body).decode()) for seq, body, binary in rows
        ]

    def drop_through(self, seq: int) -> None:
        """Forget every frame the hub acknowledged (all up to ``seq``)."""
        with self._lock:
            self._conn.execute("DELETE FROM outbox WHERE seq <= ?", [seq])

    def drop(self, seq: int) -> None:
        """Forget one frame the hub rejected."""
        with self._lock:
            self._conn.execute("DELETE FROM outbox WHERE seq = ?", [seq])

    def unacked(self) -> int:
        """How many frames wait for an ack."""
        with self._lock:
            return int(self._conn.execute("SELECT count(*) FROM outbox").fetchone()[0])

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._conn.close()
