"""Flow control of device links, exactly: token buckets, stream rates, dial backoff, and group
commits over a real devices.db."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from devices.discovery import DeviceAdvert
from devices.errors import ProtocolError
from devices.link_auth import VerifierKeys
from devices.media import MediaFrame
from devices.protocol import Hello
from devices.samples import Sample, SensorBatch, Status
from hub.disk_space import MB, DiskFullError, DiskSpaceGuard
from hub.wearables.admission import FrameAdmission
from hub.wearables.dialer import DeviceDialer, dialable, endpoint_url
from hub.wearables.rates import StreamRateReading, StreamRates
from hub.wearables.service import MAX_DISCOVERED, DeviceService
from hub.wearables.store import DeviceNotPairedError, DeviceStore
from hub.wearables.throttle import LinkThrottle, TokenBucket
from tests.devices_support import T0

DAY = 86_400.0


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_token_bucket_allows_a_burst_then_the_rate() -> None:
    clock = Clock()
    bucket = TokenBucket(rate=100, burst=100, clock=clock)
    assert bucket.take(60) == 0
    assert bucket.take(40) == 0
    assert bucket.take(50) == pytest.approx(0.5)  # in debt by 50 at 100/s
    clock.now += 0.5
    assert bucket.take(0) == 0
    clock.now += 10  # refills only up to the burst
    assert bucket.take(100) == 0
    assert bucket.take(1) == pytest.approx(0.01)
    assert TokenBucket(rate=0, burst=0, clock=clock).take(10**9) == 0  # 0: unlimited


def test_link_throttle_waits_for_the_tighter_of_samples_and_bytes() -> None:
    clock = Clock()
    throttle = LinkThrottle(samples_per_second=1000, bytes_per_second=10_000, clock=clock)
    assert throttle.delay(1000, 5000) == 0
    assert throttle.delay(500, 1000) == pytest.approx(0.5)  # samples are short
    clock.now += 0.5
    assert throttle.delay(0, 20_000) == pytest.approx(1.1)  # now bytes are: 11,000 short
    assert LinkThrottle(0, 0, clock).delay(10**6, 10**9) == 0


def sensor(seq: int, kinds: list[str]) -> SensorBatch:
    return SensorBatch.of(seq, tuple(Sample(kind, T0 + i, 60.0) for i, kind in enumerate(kinds)))


def test_stream_rates_average_over_the_last_minute() -> None:
    clock = Clock(5000.0)
    rates = StreamRates(clock)
    assert rates.read("w") == StreamRateReading(window_s=60, samples_per_s={}, frames_per_s={})
    rates.record("w", [sensor(1, ["heart_rate"] * 10 + ["steps"] * 2)])
    clock.now += 3.5  # a young stream is averaged over its own age, not a whole minute
    rates.record("w", [sensor(2, ["heart_rate"] * 10), MediaFrame("audio", 3, T0, b"\0\0")])
    assert rates.read("w") == StreamRateReading(
        window_s=4,
        samples_per_s={"heart_rate": 5.0, "steps": 0.5},
        frames_per_s={"audio": 0.25, "sensor_batch": 0.5},
    )
    clock.now += 58  # the first second has left the window
    rates.record("w", [Status(4, T0, 50, False)])
    assert rates.read("w") == StreamRateReading(
        window_s=60,
        samples_per_s={"heart_rate": round(10 / 60, 2)},
        frames_per_s={
            "audio": round(1 / 60, 2),
            "sensor_batch": round(1 / 60, 2),
            "status": round(1 / 60, 2),
        },
    )
    clock.now += 120
    assert rates.read("w").samples_per_s == {}
    assert rates.read("other").frames_per_s == {}


def test_dial_backoff_doubles_with_jitter_up_to_the_cap(tmp_path: Path) -> None:
    service = DeviceService(DeviceStore.open(tmp_path))
    dialer = DeviceDialer(service, max_backoff=4.0, first_pause=0.5, rng=random.Random(7))
    for failures, ceiling in [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (10, 4.0), (500, 4.0)]:
        pauses = [dialer.backoff(failures) for _ in range(50)]
        assert all(ceiling / 2 <= pause <= ceiling for pause in pauses)
        assert len(set(pauses)) > 40  # jittered: many hubs do not retry in step
    service.store.close()


def test_only_adverts_with_an_endpoint_are_dialed() -> None:
    def advert(address: str | None, port: int) -> DeviceAdvert:
        return DeviceAdvert("w", "watch", "W", (), False, address, port)

    assert endpoint_url(advert("127.0.0.1", 8555)) == "ws://127.0.0.1:8555/"
    assert endpoint_url(advert("fe80::1", 8555)) == "ws://[fe80::1]:8555/"
    assert dialable(advert("127.0.0.1", 8555))
    assert not dialable(advert("127.0.0.1", 0))  # port 0: the device dials the hub
    assert not dialable(advert(None, 8555))


def test_concurrent_links_share_commits_and_a_revoked_device_fails_alone(
    tmp_path: Path,
) -> None:
    store = DeviceStore.open(tmp_path)
    for device_id in ("a", "b", "c"):
        hello = Hello(device_id, "watch", "W", (), b"n" * 16, b"k" * 32)
        store.save_pairing(hello, VerifierKeys(b"s" * 32, b"k" * 32))
    store.revoke("c")
    service = DeviceService(store)

    async def scenario() -> list[object]:
        calls = [
            service.committer.commit(device_id, [sensor(seq, ["heart_rate"] * 3)])
            for seq in (1, 2, 3)
            for device_id in ("a", "b", "c")
        ]
        return await asyncio.gather(*calls, return_exceptions=True)

    results = asyncio.run(scenario())
    assert service.committer.commits < 9  # nine requests, fewer transactions
    for index, result in enumerate(results):
        if index % 3 == 2:
            assert isinstance(result, DeviceNotPairedError)
        else:
            acked, stored = result  # type: ignore[misc]
            assert acked == index // 3 + 1
            assert len(stored) == 1
    assert store.acked_seq("a") == store.acked_seq("b") == 3
    store.close()


def test_a_full_disk_refuses_frames_unacked_until_there_is_room(tmp_path: Path) -> None:
    free = {"bytes": 100 * MB}
    clock = Clock()
    guard = DiskSpaceGuard(tmp_path, 500 * MB, free=lambda path: free["bytes"], clock=clock)
    store = DeviceStore.open(tmp_path)
    store.save_pairing(
        Hello("a", "watch", "W", (), b"n" * 16, b"k" * 32), VerifierKeys(b"s" * 32, b"k" * 32)
    )
    service = DeviceService(store, admission=FrameAdmission(guard))
    frames = [sensor(1, ["heart_rate"]), MediaFrame("audio", 2, T0, b"\0\0" * 100)]

    with pytest.raises(DiskFullError) as refused:
        asyncio.run(service.committer.commit("a", frames))
    # The link sends it as an error frame without a seq: the device keeps every frame.
    assert isinstance(refused.value, ProtocolError) and refused.value.seq is None
    assert refused.value.code == "disk_full" and "HUB_MIN_FREE_DISK_MB" in refused.value.message
    assert "100 MB free" in refused.value.message
    assert store.acked_seq("a") == 0 and store.media_count("a") == 0
    free["bytes"] = 600 * MB  # room again; the reading is kept for a second
    with pytest.raises(DiskFullError):
        asyncio.run(service.committer.commit("a", frames))
    clock.now += 1
    assert asyncio.run(service.committer.commit("a", frames))[0] == 2
    assert store.media_count("a") == 1
    store.close()


def test_frames_timed_far_ahead_of_the_hub_are_refused_by_seq(tmp_path: Path) -> None:
    store = DeviceStore.open(tmp_path)
    store.save_pairing(
        Hello("a", "watch", "W", (), b"n" * 16, b"k" * 32), VerifierKeys(b"s" * 32, b"k" * 32)
    )
    now = T0 + 3 * 3600
    service = DeviceService(store, admission=FrameAdmission(clock=lambda: now))
    soon = SensorBatch.of(1, [Sample("heart_rate", now + 23 * 3600, 60.0)])  # within a day
    assert asyncio.run(service.committer.commit("a", [soon]))[0] == 1
    for frame in (
        SensorBatch.of(2, [Sample("heart_rate", now, 60.0), Sample("steps", now + 2 * DAY, 5.0)]),
        Status(2, now + 400 * DAY, 80, False),
        MediaFrame("camera", 2, now + 2 * DAY, b"jpeg"),
    ):
        with pytest.raises(ProtocolError) as refused:
            asyncio.run(service.committer.commit("a", [frame]))
        # With its seq: the device drops this frame, and is told to set its clock.
        assert refused.value.seq == 2 and refused.value.code == "invalid_field"
        assert "ahead of the hub's clock" in refused.value.message
        assert "set the device's clock" in refused.value.message
    assert store.acked_seq("a") == 1
    store.close()


def test_the_mdns_table_keeps_the_newest_adverts_and_linked_devices(tmp_path: Path) -> None:
    service = DeviceService(DeviceStore.open(tmp_path))

    def advert(device_id: str) -> DeviceAdvert:
        return DeviceAdvert(device_id, "watch", "W", (), False, "127.0.0.1", 0)

    service.note_advert("linked._wnas-device._tcp.local.", advert("linked"))
    service.links["linked"] = object()  # type: ignore[assignment]  # its link is open
    service.note_advert("early._wnas-device._tcp.local.", advert("early"))
    forgotten: list[str] = []
    for i in range(MAX_DISCOVERED + 10):
        forgotten += service.note_advert(f"fake-{i}._wnas-device._tcp.local.", advert(f"f{i}"))
    assert len(service.discovered) == MAX_DISCOVERED
    # The oldest go first, except a device with an open link.
    assert forgotten[:2] == ["early._wnas-device._tcp.local.", "fake-0._wnas-device._tcp.local."]
    assert "linked._wnas-device._tcp.local." in service.discovered
    service.store.close()


def test_a_device_over_its_daily_media_quota_waits_for_the_next_day(tmp_path: Path) -> None:
    store = DeviceStore.open(tmp_path)
    for device_id in ("a", "b"):
        hello = Hello(device_id, "watch", "W", (), b"n" * 16, b"k" * 32)
        store.save_pairing(hello, VerifierKeys(b"s" * 32, b"k" * 32))
    clock = Clock(T0)
    service = DeviceService(store, admission=FrameAdmission(media_bytes_per_day=1000, clock=clock))

    def audio(seq: int) -> MediaFrame:
        return MediaFrame("audio", seq, T0, b"\0" * 600)

    commit = service.committer.commit
    assert asyncio.run(commit("a", [audio(1)]))[0] == 1
    assert asyncio.run(commit("a", [audio(2)]))[0] == 2  # 1200 bytes: the quota is reached
    assert asyncio.run(commit("a", [audio(2)]))[0] == 2  # a resend is stored already: it passes
    with pytest.raises(ProtocolError) as refused:
        asyncio.run(commit("a", [audio(3)]))
    # Without a seq: the device keeps the frame for later; the message names the setting.
    assert refused.value.code == "quota_exceeded" and refused.value.seq is None
    assert "HUB_DEVICE_MEDIA_MB_PER_DAY" in refused.value.message
    assert asyncio.run(commit("a", [sensor(3, ["heart_rate"])]))[0] == 3  # samples go on
    assert asyncio.run(commit("b", [audio(1)]))[0] == 1  # other devices have their own
    clock.now += DAY  # a new day (UTC)
    assert asyncio.run(commit("a", [audio(4)]))[0] == 4
    assert store.media_count("a") == 3
    store.close()
