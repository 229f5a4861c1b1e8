"""devices.db as the summarizer sees it: the rollups it reads and the marks of how far it got.

It keeps its own connection, so reading a day of rollups never holds the lock the device links
commit under (WAL lets readers and the one writer go on together).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from hub.summaries.rules import Minute
from hub.wearables.migrations import MIGRATIONS
from memory.sqlite_database import LockedDatabase, open_database

MINUTE, HOUR = 60, 3600


def hour_start(t: float) -> float:
    """The start of the hour holding ``t``."""
    return float(math.floor(t / HOUR) * HOUR)


class SummaryLedger:
    """Blocking access to devices.db for the summarizer; call it from a worker thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: LockedDatabase = open_database(path, MIGRATIONS)

    def close(self) -> None:
        """Close the connection."""
        self._db.close()

    def device_ids(self) -> list[str]:
        """Every device the hub has paired (some may have data not yet summarized)."""
        with self._db.reading() as db:
            return [row[0] for row in db.execute("SELECT id FROM devices ORDER BY id")]

    def label(self, device_id: str) -> str:
        """How a summary names the device: a bridge by the name the person gave it ("xDrip
        phone"), a paired device by its id."""
        with self._db.reading() as db:
            row = db.execute("SELECT name FROM bridges WHERE device_id = ?", [device_id]).fetchone()
        return str(row[0]) if row else device_id

    def span(self, device_id: str, kinds: Sequence[str]) -> tuple[float, float] | None:
        """The first and the newest minute with data of these kinds, or None."""
        lows, highs = [], []
        with self._db.reading() as db:
            for kind in kinds:  # per kind, so each lookup walks the primary key
                low, high = db.execute(
                    "SELECT min(bucket), max(bucket) FROM rollups "
                    "WHERE device_id = ? AND kind = ? AND resolution = ?",
                    [device_id, kind, MINUTE],
                ).fetchone()
                if low is not None:
                    lows.append(float(low))
                    highs.append(float(high))
        return (min(lows), max(highs)) if lows else None

    def _rollups(
        self, device_id: str, kind: str | None, resolution: int, since: float, until: float
    ) -> list[tuple[str, Minute]]:
        kind_clause = "" if kind is None else " AND kind = ?"
        params: list[str | float] = [device_id, resolution, since, until]
        if kind is not None:
            params.insert(1, kind)
        with self._db.reading() as db:
            rows = db.execute(
                "SELECT kind, bucket, count, total, min, max FROM rollups WHERE device_id = ?"
                f"{kind_clause} AND resolution = ? AND bucket >= ? AND bucket < ? "
                "ORDER BY bucket",
                params,
            ).fetchall()
        return [
            (name, Minute(float(bucket), int(count), total / count, low, high, total))
            for name, bucket, count, total, low, high in rows
        ]

    def minutes(self, device_id: str, kind: str, since: float, until: float) -> list[Minute]:
        """The 1-minute rollups of one kind in [since, until), oldest first."""
        return [minute for _, minute in self._rollups(device_id, kind, MINUTE, since, until)]

    def hours(self, device_id: str, since: float, until: float) -> dict[float, dict[str, Minute]]:
        """The 1-hour rollups in [since, until), by hour start and kind."""
        found: dict[float, dict[str, Minute]] = {}
        for kind, row in self._rollups(device_id, None, HOUR, since, until):
            found.setdefault(row.t, {})[kind] = row
        return found

    def marks(self, device_id: str) -> tuple[float, float]:
        """(events_from, digests_until) of the device; zeros before its first summary."""
        with self._db.reading() as db:
            row = db.execute(
                "SELECT events_from, digests_until FROM summary_marks WHERE device_id = ?",
                [device_id],
            ).fetchone()
        return (0.0, 0.0) if row is None else (float(row[0]), float(row[1]))

    def rewind_marks(self, device_id: str, earliest: float) -> None:
        """Move the device's marks back to ``earliest`` (readings older than them arrived), so
        the next pass looks at those readings too; marks already before it stay."""
        with self._db.transaction() as db:
            db.execute(
                "UPDATE summary_marks SET events_from = min(events_from, ?), "
                "digests_until = min(digests_until, ?) WHERE device_id = ?",
                [earliest, hour_start(earliest), device_id],
            )

    def save_marks(self, device_id: str, events_from: float, digests_until: float) -> None:
        """Remember how far the device's data has been summarized."""
        with self._db.transaction() as db:
            db.execute(
                "INSERT INTO summary_marks (device_id, events_from, digests_until) "
                "VALUES (?, ?, ?) ON CONFLICT (device_id) DO UPDATE SET "
                "events_from = excluded.events_from, digests_until = excluded.digests_until",
                [device_id, events_from, digests_until],
            )
