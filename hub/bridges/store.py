"""BridgeStore: bridges in devices.db, and their readings stored exactly once."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import Any

from devices.bridge_samples import BridgeSample, all_checked
from devices.sensor_kinds import SENSOR_KINDS
from hub.bridges.kinds import BridgeKind
from hub.bridges.secrets import SecretHashes, sha256_of
from hub.wearables.rollups import add_rollups_after
from hub.wearables.store import DeviceNotPairedError, DeviceStore

BRIDGE_COLUMNS = "d.id, d.kind, b.name, d.status, b.created_at, d.last_seen, d.revoked_at"


@dataclass(frozen=True)
class BridgeRecord:
    """A bridge as devices.db keeps it (its secret is never kept, only hashes of it)."""

    id: str
    kind: str
    name: str
    status: str  # "paired" (working) or "revoked"
    created_at: float
    last_seen: float | None
    revoked_at: float | None


class BridgeStore:
    """Blocking access to the bridge tables of devices.db, shared with the DeviceStore."""

    def __init__(self, devices: DeviceStore, clock: Callable[[], float] = time.time) -> None:
        self.devices = devices
        self.clock = clock

    def add(self, kind: BridgeKind, name: str, hashes: SecretHashes) -> BridgeRecord:
        """Record a new bridge of ``kind`` called ``name``, known by the hashes of its secret."""
        device_id = f"{kind.name}-{secrets.token_hex(4)}"
        now = self.clock()
        with self.devices.database.transaction() as db:
            db.execute(
                "INSERT INTO devices (id, kind, model, capabilities, status, paired_at, "
                "last_seen) VALUES (?, ?, ?, ?, 'paired', ?, NULL)",
                [device_id, kind.name, name, json.dumps(list(kind.sends)), now],
            )
            db.execute(
                "INSERT INTO bridges (device_id, name, created_at, secret_sha256, "
                "secret_sha1_sha256) VALUES (?, ?, ?, ?, ?)",
                [device_id, name, now, hashes.sha256, hashes.sha1_sha256],
            )
        return BridgeRecord(device_id, kind.name, name, "paired", now, None, None)

    def bridges(self) -> list[BridgeRecord]:
        """Every bridge ever added, newest first, revoked ones too."""
        with self.devices.database.reading() as db:
            rows = db.execute(
                f"SELECT {BRIDGE_COLUMNS} FROM bridges b JOIN devices d ON d.id = b.device_id "
                "ORDER BY b.created_at DESC"
            ).fetchall()
        return [BridgeRecord(*row) for row in rows]

    def find(self, presented: str, kinds: Sequence[str]) -> BridgeRecord | None:
        """The working bridge of one of ``kinds`` whose secret, or the SHA-1 hex of it (as
        Nightscout uploaders send), is ``presented``; None when none is."""
        digest = sha256_of(presented.strip().lower())
        marks = ", ".join("?" for _ in kinds)
        with self.devices.database.reading() as db:
            row = db.execute(
                f"SELECT {BRIDGE_COLUMNS} FROM bridges b JOIN devices d ON d.id = b.device_id "
                f"WHERE (b.secret_sha256 = ? OR b.secret_sha1_sha256 = ?) "
                f"AND d.status = 'paired' AND d.kind IN ({marks})",
                [digest, digest, *kinds],
            ).fetchone()
        return None if row is None else BridgeRecord(*row)

    def get(self, device_id: str) -> BridgeRecord | None:
        """The bridge with this id, working or revoked, or None."""
        with self.devices.database.reading() as db:
            row = db.execute(
                f"SELECT {BRIDGE_COLUMNS} FROM bridges b JOIN devices d ON d.id = b.device_id "
                "WHERE d.id = ?",
                [device_id],
            ).fetchone()
        return None if row is None else BridgeRecord(*row)

    def touch(self, device_id: str) -> None:
        """Note that the bridge was heard from now (it may have sent nothing new)."""
        with self.devices.database.transaction() as db:
            db.execute("UPDATE devices SET last_seen = ? WHERE id = ?", [self.clock(), device_id])

    def commit(self, device_id: str, samples: Sequence[BridgeSample]) -> list[BridgeSample]:
        """Store the readings whose key this bridge has not stored before, in one transaction
        with their rollups; return those stored now. A revoked bridge stores nothing."""
        checked = all_checked(samples, SENSOR_KINDS)
        now = self.clock()
        stored: list[BridgeSample] = []
        with self.devices.database.transaction() as db:
            conn = db.conn
            row = conn.execute(
                "SELECT status, epoch FROM devices WHERE id = ?", [device_id]
            ).fetchone()
            if row is None or row[0] != "paired":
                raise DeviceNotPairedError(f"bridge {device_id!r} is revoked or unknown")
            epoch = int(row[1])
            last_id = conn.execute("SELECT max(id) FROM samples").fetchone()[0] or 0
            stored = _keep_new_readings(conn, device_id, checked)
            _insert_samples(conn, device_id, epoch, stored)
            if stored:
                add_rollups_after(conn, device_id, last_id)
                top = conn.execute("SELECT max(id) FROM samples").fetchone()[0]
                conn.execute(
                    "INSERT OR IGNORE INTO sample_arrivals (received_at, last_id) VALUES (?, ?)",
                    [now, top],
                )
            conn.execute("UPDATE devices SET last_seen = ? WHERE id = ?", [now, device_id])
        return stored


def _keep_new_readings(
    conn: Any, device_id: str, samples: Sequence[BridgeSample]
) -> list[BridgeSample]:
    """Note the keys of the samples the bridge has not stored, and return those samples, each
    key once (the first wins)."""
    # The batch's keys go into a temporary table and into bridge_readings in one statement
    # that returns the ones it added: a statement per reading cost a sixth of an import.
    conn.execute(
        "CREATE TEMP TABLE IF NOT EXISTS incoming_keys (key TEXT PRIMARY KEY) WITHOUT ROWID"
    )
    conn.execute("DELETE FROM incoming_keys")
    conn.executemany(
        "INSERT OR IGNORE INTO incoming_keys (key) VALUES (?)", ((s.key,) for s in samples)
    )
    added = {
        row[0]
        for row in conn.execute(
            "INSERT OR IGNORE INTO bridge_readings (device_id, key) "
            "SELECT ?, key FROM incoming_keys WHERE true RETURNING key",
            [device_id],
        )
    }
    conn.execute("DELETE FROM incoming_keys")
    fresh: list[BridgeSample] = []
    for sample in samples:
        if sample.key in added:
            added.discard(sample.key)
            fresh.append(sample)
    return fresh


def _insert_samples(conn: Any, device_id: str, epoch: int, samples: Sequence[BridgeSample]) -> None:
    # seq 0: a bridge's readings come under no frame; their keys are what makes them once.
    ordered = sorted(samples, key=lambda sample: sample.kind)
    for kind, group in groupby(ordered, key=lambda sample: sample.kind):
        scalar = SENSOR_KINDS[kind].scalar
        conn.executemany(
            "INSERT INTO samples (device_id, epoch, seq, kind, t, value, data) "
            "VALUES (?, ?, 0, ?, ?, ?, ?)",
            [(device_id, epoch, kind, sample.t, *_columns(sample.v, scalar)) for sample in group],
        )


def _columns(value: float | tuple[float, ...], scalar: bool) -> tuple[float | None, str | None]:
    """(value, data) as the samples table keeps them: a number, or a vector as a JSON list."""
    numbers = value if isinstance(value, tuple) else (value,)
    return (numbers[0], None) if scalar else (None, json.dumps(list(numbers)))
