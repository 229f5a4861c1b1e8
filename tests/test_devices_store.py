"""devices.db: exactly-once commits, epochs per pairing, rollups and retention."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from devices.link_auth import VerifierKeys
from devices.media import MediaFrame
from devices.protocol import Hello
from devices.samples import Sample, SensorBatch, Status
from hub.wearables.store import DeviceNotPairedError, DeviceStore, SampleQuery

T0 = 1_763_900_000.0


def paired_store(tmp_path: Path) -> DeviceStore:
    store = DeviceStore(tmp_path / "devices.db")
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
    store = paired_store(tmp_path)
    store.commit("w", [batch(1, T0), batch(2, T0 + 7200)])
    assert store.prune(T0 + 3600, chunk=7) == 30
    rows = store.samples(SampleQuery("w", limit=10_000))
    assert {row.seq for row in rows} == {2}
    assert sum(row.count for row in store.samples(SampleQuery("w", resolution="1h"))) == 60
    store.close()
