"""Numbered, append-only migrations of devices.db; never edit one that has shipped."""

from __future__ import annotations

import time

from sqlite_utils import Database


def m001_devices(db: Database) -> None:
    """Paired devices, the frames each sent (for exactly-once), samples and media."""
    db.execute(
        "CREATE TABLE devices (id TEXT PRIMARY KEY, kind TEXT NOT NULL, model TEXT NOT NULL, "
        "capabilities TEXT NOT NULL, status TEXT NOT NULL, stored_key BLOB, server_key BLOB, "
        "paired_at REAL, revoked_at REAL, last_seen REAL, epoch INTEGER NOT NULL DEFAULT 0, "
        "acked_seq INTEGER NOT NULL DEFAULT 0, "
        "battery INTEGER, charging INTEGER, status_at REAL)"
    )
    # One row per data frame ever committed: the primary key is what drops a resent frame.
    # Each pairing starts a new epoch (a new sequence space), so a reset device that pairs
    # again and counts from 1 is not taken for a resend.
    db.execute(
        "CREATE TABLE frames (device_id TEXT NOT NULL, epoch INTEGER NOT NULL, "
        "seq INTEGER NOT NULL, type TEXT NOT NULL, received_at REAL NOT NULL, "
        "PRIMARY KEY (device_id, epoch, seq)) WITHOUT ROWID"
    )
    db.execute(
        "CREATE TABLE samples (id INTEGER PRIMARY KEY, device_id TEXT NOT NULL, "
        "epoch INTEGER NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL, t REAL NOT NULL, "
        "value REAL, data TEXT)"
    )
    db.execute("CREATE INDEX samples_by_device_kind_time ON samples (device_id, kind, t)")
    db.execute("CREATE INDEX samples_by_device_time ON samples (device_id, t)")
    db.execute(
        "CREATE TABLE media (device_id TEXT NOT NULL, epoch INTEGER NOT NULL, "
        "seq INTEGER NOT NULL, type TEXT NOT NULL, t REAL NOT NULL, header TEXT NOT NULL, "
        "payload BLOB NOT NULL, PRIMARY KEY (device_id, epoch, seq))"
    )


def m002_rollups(db: Database) -> None:
    """1-minute and 1-hour aggregates of numeric samples, kept up to date at ingest."""
    db.execute(
        "CREATE TABLE rollups (device_id TEXT NOT NULL, kind TEXT NOT NULL, "
        "resolution INTEGER NOT NULL, bucket REAL NOT NULL, count INTEGER NOT NULL, "
        "total REAL NOT NULL, min REAL NOT NULL, max REAL NOT NULL, "
        "PRIMARY KEY (device_id, kind, resolution, bucket)) WITHOUT ROWID"
    )


def m003_summary_marks(db: Database) -> None:
    """How far each device's data has been summarized into memories (hub/summaries)."""
    # events_from: events starting before it are told; digests_until: hours before it are told.
    db.execute(
        "CREATE TABLE summary_marks (device_id TEXT PRIMARY KEY, "
        "events_from REAL NOT NULL DEFAULT 0, digests_until REAL NOT NULL DEFAULT 0)"
    )


def m004_received_at(db: Database) -> None:
    """When raw samples and media reached the hub: retention goes by it, since a device's own
    clock (``t``) may say any time, and a future one would be kept forever."""
    now = time.time()
    # The frames table has noted when every frame came since the start; a row without one
    # (none are expected) counts as received when measured, or now if that is later.
    arrival = (
        "coalesce((SELECT f.received_at FROM frames f WHERE f.device_id = {0}.device_id "
        "AND f.epoch = {0}.epoch AND f.seq = {0}.seq), min({0}.t, ?))"
    )
    # Media rows are few: each has its time and an index finds the old ones.
    db.execute("ALTER TABLE media ADD COLUMN received_at REAL NOT NULL DEFAULT 0")
    db.execute(f"UPDATE media SET received_at = {arrival.format('media')}", [now])
    db.execute("CREATE INDEX media_by_received ON media (received_at)")
    # Samples come tens of thousands a second: a time on each row cost a tenth of ingest. Their
    # ids grow in arrival order, so one mark per commit (when, the highest id stored) says when
    # every sample arrived.
    db.execute(
        "CREATE TABLE sample_arrivals (received_at REAL NOT NULL, last_id INTEGER NOT NULL, "
        "PRIMARY KEY (received_at, last_id)) WITHOUT ROWID"
    )
    db.execute(
        "INSERT OR IGNORE INTO sample_arrivals (received_at, last_id) "
        f"SELECT {arrival.format('samples')}, max(samples.id) FROM samples "
        "GROUP BY samples.device_id, samples.epoch, samples.seq",
        [now],
    )


def m005_bridges(db: Database) -> None:
    """Bridges (apps and devices that cannot speak the device protocol): their name and the
    hashes of their secret, and the key of every reading each stored, so a resent one is not."""
    # A bridge is also a row of `devices` (its kind, last seen, revoked or not); this adds what
    # only a bridge has. Only hashes of the secret are kept: SHA-256 of the secret, and SHA-256
    # of its SHA-1 hex, which is what Nightscout uploaders send in their api-secret header.
    db.execute(
        "CREATE TABLE bridges (device_id TEXT PRIMARY KEY REFERENCES devices (id), "
        "name TEXT NOT NULL, created_at REAL NOT NULL, secret_sha256 BLOB NOT NULL UNIQUE, "
        "secret_sha1_sha256 BLOB NOT NULL UNIQUE)"
    )
    db.execute(
        "CREATE TABLE bridge_readings (device_id TEXT NOT NULL, key TEXT NOT NULL, "
        "PRIMARY KEY (device_id, key)) WITHOUT ROWID"
    )


def m006_ble_bridges(db: Database) -> None:
    """The radio address of each Bluetooth LE bridge (a heart-rate strap, an Omi pendant)."""
    db.execute(
        "CREATE TABLE ble_bridges (device_id TEXT PRIMARY KEY REFERENCES devices (id), "
        "address TEXT NOT NULL)"
    )


MIGRATIONS = [
    m001_devices,
    m002_rollups,
    m003_summary_marks,
    m004_received_at,
    m005_bridges,
    m006_ble_bridges,
]
