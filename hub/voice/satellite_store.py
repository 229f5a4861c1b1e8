"""voice.db: the Wyoming satellites the hub knows of, and which ones the person approved."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlite_utils import Database

from hub.errors import HubError
from memory.sqlite_database import LockedDatabase, open_database

VOICE_DB_NAME = "voice.db"
# Satellites found on mDNS but never approved, kept for the list: anyone on the network can
# announce any number, so only the newest are kept, and none unseen for a month.
MAX_DISCOVERED = 100
FORGET_DISCOVERED_AFTER_S = 30 * 86_400.0
SATELLITE_COLUMNS = "id, name, host, port, status, source, approved_at, last_seen"


def m001_satellites(db: Database) -> None:
    """Satellites found by mDNS or added by address; status discovered, approved or revoked."""
    db.execute(
        "CREATE TABLE satellites (id TEXT PRIMARY KEY, name TEXT NOT NULL, host TEXT NOT NULL, "
        "port INTEGER NOT NULL, status TEXT NOT NULL, source TEXT NOT NULL, "
        "approved_at REAL, last_seen REAL)"
    )


MIGRATIONS = [m001_satellites]


@dataclass(frozen=True)
class Satellite:
    """One Wyoming satellite: where it is and whether the hub may listen to it."""

    id: str
    name: str
    host: str
    port: int
    status: str
    source: str
    approved_at: float | None = None
    last_seen: float | None = None


class UnknownSatelliteError(HubError, LookupError):
    """No satellite with that id."""

    http_status = 404
    error_code = "unknown_satellite"


class SatelliteStore:
    """Blocking SQLite access; called from worker threads."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock  # when satellites are seen; tests move it
        self._db: LockedDatabase = open_database(path, MIGRATIONS)

    @classmethod
    def open(cls, data_dir: Path) -> SatelliteStore:
        """voice.db in the data directory."""
        return cls(data_dir / VOICE_DB_NAME)

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def all(self) -> list[Satellite]:
        """Every satellite, by id."""
        with self._db.reading() as db:
            rows = db.execute(f"SELECT {SATELLITE_COLUMNS} FROM satellites ORDER BY id").fetchall()
        return [Satellite(*row) for row in rows]

    def get(self, satellite_id: str) -> Satellite:
        """One satellite, or UnknownSatelliteError."""
        with self._db.reading() as db:
            row = db.execute(
                f"SELECT {SATELLITE_COLUMNS} FROM satellites WHERE id = ?", [satellite_id]
            ).fetchone()
        if row is None:
            raise UnknownSatelliteError(
                f"no satellite {satellite_id!r}; see `hub voice satellites` for the ids"
            )
        return Satellite(*row)

    def seen(self, satellite_id: str, name: str, host: str, port: int) -> Satellite:
        """Note a satellite found on mDNS. An approved one that moved to another address is
        approved no longer: the person approved that address, and anyone can advertise a name."""
        now = self.clock()
        with self._db.transaction() as db:
            row = db.execute(
                "SELECT host, port, status FROM satellites WHERE id = ?", [satellite_id]
            ).fetchone()
            if row is None:
                db.execute(
                    "INSERT INTO satellites (id, name, host, port, status, source, last_seen) "
                    "VALUES (?, ?, ?, ?, 'discovered', 'mdns', ?)",
                    [satellite_id, name, host, port, now],
                )
                self._forget_stale(db, now)
            elif (row[0], row[1]) != (host, port):
                status = "discovered" if row[2] == "approved" else row[2]
                db.execute(
                    "UPDATE satellites SET host = ?, port = ?, status = ?, last_seen = ?, "
                    "approved_at = CASE WHEN ? = 'discovered' THEN NULL ELSE approved_at END "
                    "WHERE id = ?",
                    [host, port, status, now, status, satellite_id],
                )
            else:
                db.execute("UPDATE satellites SET last_seen = ? WHERE id = ?", [now, satellite_id])
        return self.get(satellite_id)

    @staticmethod
    def _forget_stale(db: Database, now: float) -> None:
        """Drop never-approved mDNS finds unseen for a month, then all but the newest few
        (approved, revoked and typed-in satellites are the person's: always kept)."""
        found = "status = 'discovered' AND source = 'mdns'"
        db.execute(
            f"DELETE FROM satellites WHERE {found} AND last_seen < ?",
            [now - FORGET_DISCOVERED_AFTER_S],
        )
        db.execute(
            f"DELETE FROM satellites WHERE {found} AND id NOT IN (SELECT id FROM satellites "
            f"WHERE {found} ORDER BY last_seen DESC, rowid DESC LIMIT ?)",
            [MAX_DISCOVERED],
        )

    def add(self, name: str, host: str, port: int) -> Satellite:
        """A satellite the person typed the address of: approved at once."""
        satellite_id = f"{host}:{port}"
        now = time.time()
        with self._db.transaction() as db:
            db.execute(
                "INSERT INTO satellites (id, name, host, port, status, source, approved_at) "
                "VALUES (?, ?, ?, ?, 'approved', 'address', ?) ON CONFLICT (id) DO UPDATE SET "
                "name = excluded.name, status = 'approved', approved_at = excluded.approved_at",
                [satellite_id, name, host, port, now],
            )
        return self.get(satellite_id)

    def set_status(self, satellite_id: str, status: str) -> Satellite:
        """Approve or revoke."""
        self.get(satellite_id)
        with self._db.transaction() as db:
            db.execute(
                "UPDATE satellites SET status = ?, approved_at = ? WHERE id = ?",
                [status, time.time() if status == "approved" else None, satellite_id],
            )
        return self.get(satellite_id)
