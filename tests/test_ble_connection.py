"""The reconnect loop with a fake Bluetooth backend: connects, reads, drops, retries with a
pause that doubles up to a cap, and stops cleanly; heart-rate and Omi readers through it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

import numpy as np

from devices.ble.connection import Backoff, GattClient, ReconnectLoop
from devices.ble.heart_rate import HEART_RATE_MEASUREMENT
from devices.ble.omi import OMI_AUDIO_DATA
from devices.ble.readers import AudioChunk, HeartRateReader, OmiAudioReader
from devices.ble.scan import Advert, usable
from devices.bridge_samples import BridgeSample
from tests.ble_fakes import FakeRadio, Visit

STRAP = "C8:FD:19:4A:0B:21"
HR_72 = bytes([0x06, 0x48])  # contact detected, 72 bpm
HR_80 = bytes([0x06, 0x50])
HR_OFF_SKIN = bytes([0x04, 0x48])


class Stored:
    """A sample sink like the hub's bridge store: keeps each key once."""

    def __init__(self) -> None:
        self.samples: dict[str, BridgeSample] = {}
        self.batches = 0
        self.changed = asyncio.Event()

    async def __call__(self, samples: Sequence[BridgeSample]) -> int:
        self.batches += 1
        new = [s for s in samples if s.key not in self.samples]
        self.samples.update((s.key, s) for s in new)
        self.changed.set()
        return len(new)

    def values(self, kind: str) -> list[float | tuple[float, ...]]:
        return [s.v for s in self.samples.values() if s.kind == kind]


class Pauses:
    """Records each pause instead of waiting it out."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        await asyncio.sleep(0)


def clock() -> Callable[[], float]:
    ticks = iter(range(1_764_650_000, 1_764_660_000))
    return lambda: float(next(ticks))


async def run_until(loop: ReconnectLoop, done: Callable[[], bool]) -> None:
    task = asyncio.create_task(loop.run())
    while not done():
        await asyncio.sleep(0)
        assert not task.done(), "the loop ended by itself"
    loop.stop()
    await asyncio.wait_for(task, 10)


def test_drops_and_failures_are_retried_with_a_doubling_pause_reset_by_a_good_connection() -> None:
    radio = FakeRadio(
        [
            Visit(fail=True),
            Visit(fail=True),
            Visit(sends=[HR_72]),  # delivers, then drops
            Visit(fail=True),
            Visit(sends=[HR_80], stays=True),
        ]
    )
    stored, pauses = Stored(), Pauses()
    loop = ReconnectLoop(
        STRAP, radio.client, HeartRateReader(STRAP, stored), pause=pauses, clock=clock()
    )

    asyncio.run(run_until(loop, lambda: 80.0 in stored.values("heart_rate")))

    assert stored.values("heart_rate") == [72.0, 80.0]
    assert pauses.delays == [1.0, 2.0, 1.0, 1.0]
    assert (loop.counts.attempts, loop.counts.connections, loop.counts.failures) == (5, 2, 3)
    assert loop.counts.drops == 1
    assert "not found" in loop.last_error
    assert all(c.subscribed == [HEART_RATE_MEASUREMENT] for c in radio.clients if c.connected)
    assert loop.state == "stopped"


def test_the_pause_doubles_up_to_its_cap() -> None:
    radio = FakeRadio([Visit(fail=True)] * 7 + [Visit(sends=[HR_72], stays=True)])
    stored, pauses = Stored(), Pauses()
    loop = ReconnectLoop(
        STRAP,
        radio.client,
        HeartRateReader(STRAP, stored),
        backoff=Backoff(first=1, factor=2, cap=5),
        pause=pauses,
        clock=clock(),
    )
    asyncio.run(run_until(loop, lambda: bool(stored.samples)))
    assert pauses.delays == [1, 2, 4, 5, 5, 5, 5]


def test_stop_disconnects_and_makes_no_new_attempt() -> None:
    radio = FakeRadio([Visit(sends=[HR_72], stays=True)])
    stored = Stored()
    loop = ReconnectLoop(STRAP, radio.client, HeartRateReader(STRAP, stored), clock=clock())
    asyncio.run(run_until(loop, lambda: bool(stored.samples)))
    assert len(radio.clients) == 1
    assert radio.clients[0].disconnect_calls == 1
    assert loop.state == "stopped"
    assert loop.counts.drops == 0  # stopping is not a drop


def test_stop_while_waiting_to_retry_ends_the_loop_without_the_pause() -> None:
    radio = FakeRadio([Visit(fail=True)] * 100)

    async def scenario() -> None:
        loop = ReconnectLoop(
            STRAP,
            radio.client,
            HeartRateReader(STRAP, Stored()),
            backoff=Backoff(first=3600, cap=3600),  # an hour: stop must not wait it out
        )
        task = asyncio.create_task(loop.run())
        while loop.state != "waiting":
            await asyncio.sleep(0)
        loop.stop()
        await asyncio.wait_for(task, 10)
        assert loop.state == "stopped"
        assert loop.counts.attempts == 1

    asyncio.run(scenario())


def test_a_bridge_no_longer_wanted_is_not_reconnected() -> None:
    radio = FakeRadio([Visit(sends=[HR_72]), Visit(sends=[HR_80], stays=True)])
    stored = Stored()
    answers = iter([True, False])

    async def wanted() -> bool:
        return next(answers)

    loop = ReconnectLoop(
        STRAP,
        radio.client,
        HeartRateReader(STRAP, stored),
        keep_going=wanted,
        pause=Pauses(),
        clock=clock(),
    )
    asyncio.run(asyncio.wait_for(loop.run(), 10))
    assert stored.values("heart_rate") == [72.0]
    assert len(radio.clients) == 1
    assert loop.state == "stopped"


def test_a_malformed_or_off_skin_notification_is_skipped_and_reading_goes_on() -> None:
    radio = FakeRadio([Visit(sends=[b"", bytes([0x01, 0x48]), HR_OFF_SKIN, HR_80], stays=True)])
    stored = Stored()
    loop = ReconnectLoop(STRAP, radio.client, HeartRateReader(STRAP, stored), clock=clock())
    asyncio.run(run_until(loop, lambda: bool(stored.samples)))
    assert stored.values("heart_rate") == [80.0]
    assert loop.counts.bad_notifications == 2
    assert loop.counts.notifications == 4


def test_a_failing_sink_does_not_end_the_loop() -> None:
    calls: list[int] = []

    async def flaky(samples: Sequence[BridgeSample]) -> None:
        calls.append(len(samples))
        if len(calls) == 1:
            raise OSError("disk full")

    radio = FakeRadio([Visit(sends=[HR_72, HR_80], stays=True)])
    loop = ReconnectLoop(STRAP, radio.client, HeartRateReader(STRAP, flaky), clock=clock())
    asyncio.run(run_until(loop, lambda: len(calls) == 2))
    assert loop.counts.bad_notifications == 1


def omi_notes(pcm: bytes, piece: int = 248) -> list[bytes]:
    out = []
    for counter, at in enumerate(range(0, len(pcm), 320)):
        frame = pcm[at : at + 320]
        for index, cut in enumerate(range(0, len(frame), piece)):
            n = counter * 2 + index
            out.append(bytes([n & 0xFF, n >> 8, index]) + frame[cut : cut + piece])
    return out


def test_omi_audio_reaches_the_sink_in_chunks_and_the_tail_on_a_drop() -> None:
    pcm = (np.sin(np.arange(16000) / 5) * 5000).astype("<i2").tobytes()  # one second
    radio = FakeRadio([Visit(sends=omi_notes(pcm)), Visit(stays=True)], codec=b"\x00")
    chunks: list[AudioChunk] = []

    async def heard(chunk: AudioChunk) -> None:
        chunks.append(chunk)

    loop = ReconnectLoop("omi", radio.client, OmiAudioReader(heard), pause=Pauses(), clock=clock())
    asyncio.run(run_until(loop, lambda: len(radio.clients) == 2 and radio.clients[1].connected))
    assert b"".join(c.pcm for c in chunks) == pcm
    assert all(len(c.pcm) >= 8000 for c in chunks[:-1])
    assert radio.clients[0].subscribed == [OMI_AUDIO_DATA]
    assert [c.t for c in chunks] == sorted(c.t for c in chunks)


def test_an_omi_codec_the_hub_cannot_decode_is_a_failed_attempt_naming_it() -> None:
    radio = FakeRadio([Visit(stays=True)] * 3, codec=b"\x63")

    async def heard(chunk: AudioChunk) -> None:
        raise AssertionError("nothing should be heard")

    loop = ReconnectLoop("omi", radio.client, OmiAudioReader(heard), pause=Pauses(), clock=clock())
    asyncio.run(run_until(loop, lambda: loop.counts.failures >= 2))
    assert "codec id 99" in loop.last_error
    assert all(c.disconnect_calls >= 1 for c in radio.clients)


def test_scanning_lists_heart_rate_devices_and_omi_pendants_strongest_first() -> None:
    heard = [
        Advert(
            "AA:00:00:00:00:01", "Polar H10 7A1B2C", -70, ("0000180d-0000-1000-8000-00805f9b34fb",)
        ),
        Advert("AA:00:00:00:00:02", "Omi", -50, ()),
        Advert("AA:00:00:00:00:03", "", -40, ("0000180f-0000-1000-8000-00805f9b34fb",)),
        Advert("AA:00:00:00:00:04", "DevKit", None, ("19B10000-E8F2-537E-4F6C-D104768A1214",)),
    ]
    assert [(kind, a.address[-2:]) for kind, a in usable(heard)] == [
        ("omi", "02"),
        ("heart-rate", "01"),
        ("omi", "04"),
    ]


def test_omi_chunks_follow_each_other_in_stream_time_despite_radio_jitter() -> None:
    chunks: list[AudioChunk] = []

    async def heard(chunk: AudioChunk) -> None:
        chunks.append(chunk)

    class Codec:
        async def read_gatt_char(self, uuid: str) -> bytearray:
            return bytearray(b"\x00")

    async def scenario() -> None:
        reader = OmiAudioReader(heard, chunk_bytes=3200)  # 0.1 s chunks
        await reader.prepare(Codec())  # type: ignore[arg-type]
        frame = b"\x01\x00" * 1600  # 0.1 s
        # Arrivals 0.1 s apart with up to 0.2 s of jitter, then 5 s with nothing (lost).
        arrivals = [100.1, 100.35, 100.3, 100.4, 100.55, 105.6]
        for counter, at in enumerate(arrivals):
            await reader.take(bytes([counter, 0, 0]) + frame, at)
        await reader.end()

    asyncio.run(scenario())
    starts = [round(c.t, 3) for c in chunks]
    # A frame is whole when the next begins: the first, whole at 100.35, began at 100.25;
    # the next ones follow it whatever the jitter; after the radio's silence, anew.
    assert starts == [100.25, 100.35, 100.45, 100.55, 105.5, 105.6]


def test_a_client_that_cannot_even_be_made_is_a_failed_attempt_not_a_crash() -> None:
    made: list[str] = []

    def no_radio(address: str, dropped: Callable[[object], None]) -> GattClient:
        made.append(address)
        raise RuntimeError("no Bluetooth adapter")

    pauses = Pauses()
    loop = ReconnectLoop(STRAP, no_radio, HeartRateReader(STRAP, Stored()), pause=pauses)
    asyncio.run(run_until(loop, lambda: len(made) == 3))
    assert pauses.delays[:2] == [1.0, 2.0]
    assert loop.last_error == "RuntimeError: no Bluetooth adapter"
