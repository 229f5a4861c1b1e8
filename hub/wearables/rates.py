"""StreamRates: samples/s and frames/s per device and stream kind over the last minute, counted
in memory as frames are stored (a 60-slot ring of one-second counts per stream)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from devices.media import MediaFrame
from devices.samples import SensorBatch
from hub.wearables.store import DataFrame

WINDOW_S = 60


@dataclass(frozen=True)
class StreamRateReading:
    """A device's stream rates over the last minute (or its age, when younger)."""

    window_s: int  # the seconds averaged over
    samples_per_s: dict[str, float]  # by sample kind; kinds with nothing in the window left out
    frames_per_s: dict[str, float]  # by frame type (sensor_batch, status, audio, camera)


@dataclass
class _Counter:
    """Counts per second for the last WINDOW_S seconds."""

    counts: list[int] = field(default_factory=lambda: [0] * WINDOW_S)
    seconds: list[int] = field(default_factory=lambda: [-1] * WINDOW_S)

    def add(self, second: int, amount: int) -> None:
        slot = second % WINDOW_S
        if self.seconds[slot] != second:
            self.seconds[slot] = second
            self.counts[slot] = 0
        self.counts[slot] += amount

    def total(self, now: int) -> int:
        return sum(
            count
            for count, second in zip(self.counts, self.seconds, strict=True)
            if now - WINDOW_S < second <= now
        )


@dataclass
class _DeviceRates:
    first_second: int
    samples: dict[str, _Counter] = field(default_factory=dict)
    frames: dict[str, _Counter] = field(default_factory=dict)


class StreamRates:
    """Per-device stream rates; record() is O(frames), read() is O(streams x 60)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._devices: dict[str, _DeviceRates] = {}

    def record(self, device_id: str, frames: Sequence[DataFrame]) -> None:
        """Count frames just stored for the device."""
        second = int(self._clock())
        rates = self._devices.setdefault(device_id, _DeviceRates(second))
        sample_counts: Counter[str] = Counter()
        frame_counts: Counter[str] = Counter()
        for frame in frames:
            frame_counts[frame.type if isinstance(frame, MediaFrame) else frame.TYPE] += 1
            if isinstance(frame, SensorBatch):
                for series in frame.series:
                    sample_counts[series.kind] += len(series.t)
        for kind, count in sample_counts.items():
            rates.samples.setdefault(kind, _Counter()).add(second, count)
        for kind, count in frame_counts.items():
            rates.frames.setdefault(kind, _Counter()).add(second, count)

    def read(self, device_id: str) -> StreamRateReading:
        """Samples/s per sample kind and frames/s per frame type, averaged over the last minute
        (or over the time since the hub first stored anything of the device, when shorter)."""
        rates = self._devices.get(device_id)
        now = int(self._clock())
        if rates is None:
            return StreamRateReading(WINDOW_S, {}, {})
        window = max(1, min(WINDOW_S, now - rates.first_second + 1))

        def per_second(counters: dict[str, _Counter]) -> dict[str, float]:
            totals = {kind: counter.total(now) for kind, counter in sorted(counters.items())}
            return {kind: round(total / window, 2) for kind, total in totals.items() if total}

        return StreamRateReading(window, per_second(rates.samples), per_second(rates.frames))

    def forget(self, device_id: str) -> None:
        """Drop a device's counters (revoked)."""
        self._devices.pop(device_id, None)
