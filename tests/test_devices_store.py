"""devices.db: exactly-once commits, epochs per pairing, rollups and retention."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlite_utils import Database

from devices.link_auth import VerifierKeys
from devices.media import MediaFrame
from devices.protocol import Hello
from devices.samples import Sample, SensorBatch, Status
from hub.wearables.migrations import MIGRATIONS
from hub.wearables.store import DeviceNotPairedError, DeviceStore, SampleQuery
from memory.sqlite_database import apply_migrations

T0 = 1_763_900_000.0
DAY = 86_400.0


class Clock:
    """The hub's clock, moved by the test."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def paired_store(tmp_path: Path, clock: Callable[[], float] = time.time) -> DeviceStore:
    store = DeviceStore(tmp_path / "devices.db", clock)
    hello = Hello("w", "watch", "W", (), b"n" * 16, b"k" * 32)
    store.save_pairing(hello, VerifierKeys.from_secret(secrets.token_bytes(32)))
    return store


def batch(seq: int, start: float) -> SensorBatch:
    return SensorBatch.of(seq, tuple(Sample("heart_rate", start + i, 60.0 + i) for i in range(30)))


def test_resent_frames_are_stored_once_and_rollups_stay_exact(tmp_path: Path) -> None:
    store = paired_store(tmp_path)
    assert store.commit("w", [batch(1, T0), batch(2, T0 + 30)]) == 2
    assert store.commit("w", [batch(2, T0 + 30), batch(3, T0 + 60)]) == 3
    assert store.commit("w", [batch(1, T0)]) == 3
    assert len(store.samples(SampleQuery("w", limit=10_000))) == 90
    minutes = store.samples(SampleQuery("w", resolution="1m"))
    assert sum(row.count for row in minutes) == 90
    hours = store.samples(SampleQuery("w", resolution="1h"))
    assert sum(row.sum for row in hours) == pytest.approx(3 * sum(60.0 + i for i in range(30)))
    store.close()


def test_status_media_and_refusal_once_revoked(tmp_path: Path) -> None:
    store = paired_store(tmp_path)
    store.commit("w", [Status(1, T0 + 10, 50, False), Status(2, T0, 90, True)])
    audio = MediaFrame("audio", 3, T0, b"\x00\x00" * 100)
    store.commit("w", [audio, audio])
    device = store.devices()[0]
    assert (device.battery, device.charging) == (50, False)  # the newest reading wins
    assert store.media_count("w") == 1
    assert store.revoke("w")
    assert store.keys_for("w") is None
    with pytest.raises(DeviceNotPairedError):
        store.commit("w", [batch(4, T0)])
    store.close()


def test_pairing_again_starts_a_new_sequence_space(tmp_path: Path) -> None:
    store = paired_store(tmp_path)
    store.commit("w", [batch(1, T0)])
    store.save_pairing(
        Hello("w", "watch", "W", (), b"n" * 16, b"k" * 32), VerifierKeys.from_secret(b"k" * 32)
    )
    assert store.acked_seq("w") == 0
    assert store.commit("w", [batch(1, T0 + 100)]) == 1
    rows = store.samples(SampleQuery("w", limit=10_000))
    assert sorted({(row.epoch, row.seq) for row in rows}) == [(0, 1), (1, 1)]
    store.close()


def test_retention_removes_old_raw_samples_but_keeps_rollups(tmp_path: Path) -> None:
    clock = Clock(T0)
    store = paired_store(tmp_path, clock)
    store.commit("w", [batch(1, T0)])
    clock.now = T0 + 7200  # the second batch arrives two hours later
    store.commit("w", [batch(2, T0 + 7200)])
    assert store.prune(T0 + 3600, chunk=7) == 30
    rows = store.samples(SampleQuery("w", limit=10_000))
    assert {row.seq for row in rows} == {2}
    assert sum(row.count for row in store.samples(SampleQuery("w", resolution="1h"))) == 60
    store.close()


def test_retention_goes_by_arrival_so_a_device_clock_cannot_dodge_it(tmp_path: Path) -> None:
    clock = Clock(T0)
    store = paired_store(tmp_path, clock)
    future = T0 + 10 * 365 * DAY  # a device claiming its data is from ten years on
    audio = MediaFrame("audio", 2, future, b"\0\0" * 100)
    store.commit("w", [batch(1, future), audio])
    clock.now = T0 + 31 * DAY
    store.commit("w", [batch(3, T0 - 400 * DAY)])  # far past, yet it arrived just now
    assert store.prune(clock.now - 30 * DAY) == 31  # the 30 future samples and the audio
    assert store.media_count("w") == 0
    rows = store.samples(SampleQuery("w", limit=10_000))
    assert {row.seq for row in rows} == {3}
    store.close()


def test_the_migration_dates_stored_rows_by_when_their_frame_arrived(tmp_path: Path) -> None:
    path = tmp_path / "devices.db"
    db = Database(path)
    apply_migrations(db, MIGRATIONS[:3])  # devices.db as the hub before received_at made it
    db.execute(
        "INSERT INTO devices (id, kind, model, capabilities, status) VALUES "
        "('w', 'watch', 'W', '[]', 'paired')"
    )
    db.execute("INSERT INTO frames VALUES ('w', 0, 1, 'sensor_batch', ?)", [T0])
    db.execute(
        "INSERT INTO samples (device_id, epoch, seq, kind, t, value) VALUES "
        "('w', 0, 1, 'heart_rate', ?, 60), ('w', 0, 2, 'heart_rate', ?, 61)",
        [T0 + 50 * 365 * DAY, T0 - DAY],
    )
    db.conn.commit()
    db.close()
    store = DeviceStore(path)
    # Seq 1 arrived at T0 (its frame says so), whatever its sample time; seq 2 has no frame
    # row, so it counts from its sample time.
    assert store.prune(T0 + 1) == 2
    store.close()


def test_retention_finds_the_arrival_boundary_among_many_receipts(tmp_path: Path) -> None:
    clock = Clock(T0)
    store = paired_store(tmp_path, clock)
    for seq in range(1, 41):  # one batch of 30 an hour, for 40 hours
        store.commit("w", [batch(seq, T0)])
        clock.now += 3600
    for hours, left in ((0, 1200), (0.5, 1170), (10, 900), (10, 900), (39, 30), (39.5, 0)):
        store.prune(T0 + hours * 3600, chunk=17)
        assert len(store.samples(SampleQuery("w", limit=10_000))) == left
    store.close()
