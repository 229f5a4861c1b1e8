"""1-minute and 1-hour rollups of numeric samples: count, sum, min, max per bucket.

Only kinds whose sample is one number (``SensorKind.scalar`` in devices/sensor_kinds.py) have a
value to roll up; the store keeps a vector kind's list as JSON with no value, so none is needed
here by name.

They are updated in the same transaction as the samples they summarize, and a resent frame is
never stored twice, so the rollups are exact.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

RESOLUTIONS = {"1m": 60, "1h": 3600}


@dataclass(frozen=True, slots=True)
class SampleRollup:
    """One bucket of one kind's numeric samples (as GET /v1/devices/{id}/samples shows it)."""

    kind: str
    t: float
    """The start of the minute or hour, Unix seconds."""
    count: int
    mean: float
    min: float
    max: float
    sum: float


def add_rollups_after(conn: sqlite3.Connection, device_id: str, after_id: int) -> None:
    """Fold the device's samples stored with ids above ``after_id`` (those just inserted, in
    the caller's transaction) into the rollups; SQLite groups them, so no Python per sample."""
    for seconds in RESOLUTIONS.values():
        conn.execute(
            "INSERT INTO rollups (device_id, kind, resolution, bucket, count, total, min, max) "
            "SELECT ?1, kind, ?2, CAST(t / ?2 AS INTEGER) * ?2 AS start, count(*), sum(value), "
            "min(value), max(value) FROM samples "
            # '+device_id': walk the new rows by id, never the device's whole index entry.
            "WHERE id > ?3 AND +device_id = ?1 AND value IS NOT NULL GROUP BY kind, start "
            "ON CONFLICT (device_id, kind, resolution, bucket) "
            "DO UPDATE SET count = count + excluded.count, total = total + excluded.total, "
            "min = min(min, excluded.min), max = max(max, excluded.max)",
            [device_id, seconds, after_id],
        )


def read_rollups(
    conn: sqlite3.Connection,
    device_id: str,
    resolution: str,
    kind: str | None,
    since: float | None,
    until: float | None,
    limit: int,
) -> list[SampleRollup]:
    """Rollup rows, oldest first: t is the bucket's start."""
    clauses = ["device_id = ?", "resolution = ?"]
    params: list[str | float | int] = [device_id, RESOLUTIONS[resolution]]
    for clause, value in (("kind = ?", kind), ("bucket >= ?", since), ("bucket < ?", until)):
        if value is not None:
            clauses.append(clause)
            params.append(value)
    rows = conn.execute(
        "SELECT kind, bucket, count, total, min, max FROM rollups WHERE "
        + " AND ".join(clauses)
        + " ORDER BY bucket, kind LIMIT ?",
        [*params, limit],
    ).fetchall()
    return [
        SampleRollup(kind_, bucket, count, total / count, low, high, total)
        for kind_, bucket, count, total, low, high in rows
    ]
