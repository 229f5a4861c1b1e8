"""DeviceStore: devices.db, where paired devices, their samples and media are kept."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path
from typing import Any

from devices.link_auth import VerifierKeys
from devices.media import MediaFrame
from devices.protocol import Hello
from devices.samples import SensorBatch, Status
from devices.sensor_kinds import SENSOR_KINDS
from hub.wearables.migrations import MIGRATIONS
from hub.wearables.rollups import SampleRollup, add_rollups_after, read_rollups
from memory.sqlite_database import LockedDatabase, open_database

DEVICES_DB_NAME = "devices.db"
DataFrame = SensorBatch | Status | MediaFrame
DEVICE_COLUMNS = (
    "id, kind, model, capabilities, status, paired_at, revoked_at, last_seen, acked_seq, "
    "battery, charging, status_at"
)


class DeviceNotPairedError(Exception):
    """The device is not (or no longer) paired; its frames are refused."""


@dataclass(frozen=True)
class DeviceRecord:
    """A device the hub has paired at some time, as devices.db keeps it."""

    id: str
    kind: str
    model: str
    capabilities: tuple[str, ...]
    status: str  # "paired" or "revoked"
    paired_at: float | None
    revoked_at: float | None
    last_seen: float | None
    acked_seq: int
    battery: int | None
    charging: bool | None
    status_at: float | None  # when the battery reading was taken, on the device's clock


@dataclass(frozen=True, slots=True)
class StoredSample:
    """One raw sample as stored (and as GET /v1/devices/{id}/samples shows it)."""

    epoch: int
    """The pairing it came under: each pairing starts a new sequence space."""
    seq: int
    """The sequence number of the frame that brought it."""
    kind: str
    t: float
    """When it was measured, Unix seconds."""
    v: float | list[int | float] | None
    """A number, or a list of numbers for a vector kind (imu, location)."""


@dataclass(frozen=True)
class SampleQuery:
    """Which samples to read back."""

    device_id: str
    kind: str | None = None
    since: float | None = None
    until: float | None = None
    limit: int = 1000
    resolution: str = "raw"


class DeviceStore:
    """Blocking SQLite access; the hub calls it from worker threads."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        # When frames are received (retention counts from it); tests move it.
        self.clock = clock
        self._db: LockedDatabase = open_database(path, MIGRATIONS)

    @classmethod
    def open(cls, data_dir: Path) -> DeviceStore:
        """devices.db in the data directory."""
        return cls(data_dir / DEVICES_DB_NAME)

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    @property
    def database(self) -> LockedDatabase:
        """The open devices.db, for the bridge store that shares it (hub/bridges/store.py)."""
        return self._db

    def keys_for(self, device_id: str) -> VerifierKeys | None:
        """The verifier keys of a paired device, or None."""
        with self._db.reading() as db:
            row = db.execute(
                "SELECT stored_key, server_key FROM devices WHERE id = ? AND status = 'paired'",
                [device_id],
            ).fetchone()
        return None if row is None else VerifierKeys(bytes(row[0]), bytes(row[1]))

    def save_pairing(self, hello: Hello, keys: VerifierKeys) -> None:
        """Record a newly paired device (or a re-paired one: its old keys stop working)."""
        with self._db.transaction() as db:
            db.execute(
                "INSERT INTO devices (id, kind, model, capabilities, status, stored_key, "
                "server_key, paired_at, last_seen) VALUES (?, ?, ?, ?, 'paired', ?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, model = excluded.model, "
                "capabilities = excluded.capabilities, status = 'paired', "
                "stored_key = excluded.stored_key, server_key = excluded.server_key, "
                "paired_at = excluded.paired_at, revoked_at = NULL, "
                "last_seen = excluded.last_seen, epoch = devices.epoch + 1, acked_seq = 0",
                [
                    hello.device_id,
                    hello.kind,
                    hello.model,
                    json.dumps(list(hello.capabilities)),
                    keys.stored_key,
                    keys.server_key,
                    time.time(),
                    time.time(),
                ],
            )

    def revoke(self, device_id: str) -> bool:
        """Forget the device's keys; False when it was never paired."""
        with self._db.transaction() as db:
            cursor = db.execute(
                "UPDATE devices SET status = 'revoked', stored_key = NULL, server_key = NULL, "
                "revoked_at = ? WHERE id = ?",
                [time.time(), device_id],
            )
            return bool(cursor.rowcount)

    def acked_seq(self, device_id: str) -> int:
        """The highest sequence number committed for the device (0 when none)."""
        with self._db.reading() as db:
            row = db.execute("SELECT acked_seq FROM devices WHERE id = ?", [device_id]).fetchone()
        return int(row[0]) if row else 0

    def touch(self, device_id: str) -> None:
        """Note that the device was just heard from."""
        with self._db.transaction() as db:
            db.execute("UPDATE devices SET last_seen = ? WHERE id = ?", [time.time(), device_id])

    def commit(self, device_id: str, frames: Sequence[DataFrame]) -> int:
        """Store the frames not stored before, in one transaction; return the new acked seq."""
        return self.commit_new(device_id, frames)[0]

    def commit_new(
        self, device_id: str, frames: Sequence[DataFrame]
    ) -> tuple[int, list[DataFrame]]:
        """Like commit, and also return the frames stored now (resent ones left out)."""
        result = self.commit_many([(device_id, frames)])[0]
        if isinstance(result, DeviceNotPairedError):
            raise result
        return result

    def commit_many(
        self, batches: Sequence[tuple[str, Sequence[DataFrame]]]
    ) -> list[tuple[int, list[DataFrame]] | DeviceNotPairedError]:
        """Commit several devices' frames in one transaction (one disk sync for all); per
        batch, the new acked seq and the frames stored now, or why that device was refused."""
        now = self.clock()
        results: list[tuple[int, list[DataFrame]] | DeviceNotPairedError] = []
        with self._db.transaction() as db:
            before = db.conn.execute("SELECT max(id) FROM samples").fetchone()[0]
            for device_id, frames in batches:
                try:
                    results.append(self._commit_device(db.conn, device_id, frames, now))
                except DeviceNotPairedError as exc:
                    results.append(exc)
            last = db.conn.execute("SELECT max(id) FROM samples").fetchone()[0]
            if last is not None and last != before:  # one mark says when all of them came
                db.conn.execute(
                    "INSERT OR IGNORE INTO sample_arrivals (received_at, last_id) VALUES (?, ?)",
                    [now, last],
                )
        return results

    def _commit_device(
        self, conn: Any, device_id: str, frames: Sequence[DataFrame], now: float
    ) -> tuple[int, list[DataFrame]]:
        stored: list[DataFrame] = []
        row = conn.execute("SELECT status, epoch FROM devices WHERE id = ?", [device_id]).fetchone()
        if row is None or row[0] != "paired":
            raise DeviceNotPairedError(f"device {device_id!r} is not paired")
        epoch = int(row[1])
        last_id = conn.execute("SELECT max(id) FROM samples").fetchone()[0] or 0
        for frame in frames:
            kind = frame.type if isinstance(frame, MediaFrame) else frame.TYPE
            cursor = conn.execute(
                "INSERT OR IGNORE INTO frames (device_id, epoch, seq, type, received_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [device_id, epoch, frame.seq, kind, now],
            )
            if cursor.rowcount == 0:
                continue  # a resent frame: stored before, so stored exactly once
            self._store_frame(conn, device_id, epoch, frame, now)
            stored.append(frame)
        if any(isinstance(frame, SensorBatch) for frame in stored):
            add_rollups_after(conn, device_id, last_id)
        top = max(frame.seq for frame in frames)
        conn.execute(
            "UPDATE devices SET acked_seq = max(acked_seq, ?), last_seen = ? WHERE id = ?",
            [top, now, device_id],
        )
        acked = conn.execute("SELECT acked_seq FROM devices WHERE id = ?", [device_id]).fetchone()
        return int(acked[0]), stored

    @staticmethod
    def _store_frame(
        conn: Any, device_id: str, epoch: int, frame: DataFrame, received: float
    ) -> None:
        if isinstance(frame, SensorBatch):
            for series in frame.series:
                # Rows zipped from the columns in C: no Python work per sample for scalars.
                same = (repeat(device_id), repeat(epoch), repeat(frame.seq), repeat(series.kind))
                # A vector kind's list is kept as JSON; only scalars have a value to roll up.
                if not SENSOR_KINDS[series.kind].scalar:
                    values: Iterable[Any] = repeat(None)
                    data: Iterable[Any] = map(json.dumps, series.v)  # a tuple becomes a JSON list
                else:
                    values, data = series.v, repeat(None)
                conn.executemany(
                    "INSERT INTO samples (device_id, epoch, seq, kind, t, value, data) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    zip(*same, series.t, values, data, strict=False),  # repeat() is endless
                )
        elif isinstance(frame, Status):
            conn.execute(
                "UPDATE devices SET battery = ?, charging = ?, status_at = ? "
                "WHERE id = ? AND (status_at IS NULL OR status_at <= ?)",
                [frame.battery, int(frame.charging), frame.t, device_id, frame.t],
            )
        else:
            conn.execute(
                "INSERT INTO media (device_id, epoch, seq, type, t, header, payload, received_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    device_id,
                    epoch,
                    frame.seq,
                    frame.type,
                    frame.t,
                    json.dumps(frame.header()),
                    frame.payload,
                    received,
                ],
            )

    def devices(self) -> list[DeviceRecord]:
        """Every device ever paired, with its status, last seen and battery."""
        with self._db.reading() as db:
            cursor = db.execute(f"SELECT {DEVICE_COLUMNS} FROM devices ORDER BY id")
            names = [c[0] for c in cursor.description]
            rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        for row in rows:
            row["capabilities"] = tuple(json.loads(row["capabilities"]))
            row["charging"] = None if row["charging"] is None else bool(row["charging"])
        return [DeviceRecord(**row) for row in rows]

    def samples(self, query: SampleQuery) -> list[StoredSample] | list[SampleRollup]:
        """Samples of one device, oldest first, filtered by kind and time."""
        if query.resolution != "raw":
            with self._db.reading() as db:
                return read_rollups(
                    db.conn,
                    query.device_id,
                    query.resolution,
                    query.kind,
                    query.since,
                    query.until,
                    query.limit,
                )
        clauses: list[str] = ["device_id = ?"]
        params: list[str | float | int] = [query.device_id]
        filters: list[tuple[str, str | float | None]] = [
            ("kind = ?", query.kind),
            ("t >= ?", query.since),
        ]
        for clause, value in filters:
            if value is not None:
                clauses.append(clause)
                params.append(value)
        if query.until is not None:
            clauses.append("t < ?")
            params.append(query.until)
        sql = (
            "SELECT epoch, seq, kind, t, value, data FROM samples WHERE "
            + " AND ".join(clauses)
            + " ORDER BY t, id LIMIT ?"
        )
        with self._db.reading() as db:
            rows = db.execute(sql, [*params, query.limit]).fetchall()
        return [
            StoredSample(epoch, seq, kind, t, json.loads(data) if data else value)
            for epoch, seq, kind, t, value, data in rows
        ]

    def prune(self, before: float, chunk: int = 10_000) -> int:
        """Delete raw samples and media received before ``before``, a chunk per transaction
        (by the hub's clock: a device's own times can be anything)."""
        removed = 0
        with self._db.reading() as db:
            marked = db.execute(
                "SELECT max(last_id) FROM sample_arrivals WHERE received_at < ?", [before]
            ).fetchone()[0]
        deletes = (
            (
                "DELETE FROM samples WHERE id IN (SELECT id FROM samples WHERE id <= ? LIMIT ?)",
                -1 if marked is None else marked,
            ),
            (
                "DELETE FROM media WHERE rowid IN "
                "(SELECT rowid FROM media WHERE received_at < ? LIMIT ?)",
                before,
            ),
        )
        for statement, bound in deletes:
            while True:
                with self._db.transaction() as db:
                    count = db.execute(statement, [bound, chunk]).rowcount
                removed += count
                if count < chunk:
                    break
        with self._db.transaction() as db:
            db.execute("DELETE FROM sample_arrivals WHERE received_at < ?", [before])
        return removed

    def media_count(self, device_id: str) -> int:
        """How many media frames the device has stored."""
        with self._db.reading() as db:
            row = db.execute("SELECT count(*) FROM media WHERE device_id = ?", [device_id])
            return int(row.fetchone()[0])
