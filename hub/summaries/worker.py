"""The summarizer in the running hub: told of stored frames, it summarizes off the device links.

``frames_stored`` only marks the device and wakes the worker (the links never wait on it); the
worker waits a moment for more frames, then summarizes each marked device in a thread, waiting
first (a bounded while) for the chat model to be idle, so embedding never competes with decoding.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from devices.samples import SensorBatch
from hub.engine.activity import ModelActivity
from hub.summaries.ledger import SummaryLedger
from hub.summaries.summarize import KINDS, PassResult, summarize_device
from hub.wearables.service import DeviceService
from hub.wearables.store import DataFrame
from memory.protocol import MemoryStore

logger = logging.getLogger(__name__)

# Frames come in bursts, a streaming watch every second: a pass at most every 2 s is enough.
SETTLE_S = 2.0
IDLE_WAIT_MAX_S = 30.0  # under a steady chat load, summarize anyway after this long
RETRY_AFTER_S = 30.0


@dataclass
class SensorSummaryWorker:
    """Turns each device's new sensor data into sensor_summary memories."""

    ledger: SummaryLedger
    store: MemoryStore
    model_activity: ModelActivity = field(default_factory=ModelActivity)
    settle_s: float = SETTLE_S
    dirty: set[str] = field(default_factory=set, init=False)  # devices with data to look at
    # Per device, the earliest reading stored since its last pass.
    rewind: dict[str, float] = field(default_factory=dict, init=False)
    _wake: asyncio.Event = field(default_factory=asyncio.Event, init=False)
    _loop: asyncio.AbstractEventLoop | None = field(default=None, init=False)
    # The pass running in a thread; stopping waits for it, so it never meets closed databases.
    inflight: asyncio.Future[PassResult] | None = field(default=None, init=False)
    # A sleep session is over an hour after its end even when nothing more comes (a source
    # that sends only sleep): one timer per device looks again then.
    _look_again: dict[str, asyncio.TimerHandle] = field(default_factory=dict, init=False)

    def frames_stored(self, device_id: str, frames: Sequence[DataFrame]) -> None:
        """Mark the device if the frames hold summarized kinds; returns at once."""
        if self._loop is None:
            return
        times = [
            min(series.t)
            for frame in frames
            if isinstance(frame, SensorBatch)
            for series in frame.series
            if series.kind in KINDS
        ]
        if times:
            # Safe from any thread; on the loop itself it runs right after this call.
            self._loop.call_soon_threadsafe(self._mark, device_id, min(times))

    def _mark(self, device_id: str, earliest: float | None = None) -> None:
        # Readings older than how far the device was summarized (an import lists one kind
        # after another; a device sends what it kept while away): the next pass goes back to
        # them. The summaries' keys keep anything told before from being told again.
        if earliest is not None:
            self.rewind[device_id] = min(earliest, self.rewind.get(device_id, earliest))
        self.dirty.add(device_id)
        self._wake.set()

    async def run(self) -> None:
        """Summarize marked devices until cancelled, starting with every known device."""
        self._loop = asyncio.get_running_loop()
        # Data committed before a restart may not be summarized yet: look at every device once.
        for device_id in await asyncio.to_thread(self.ledger.device_ids):
            self._mark(device_id)
        while True:
            await self._wake.wait()
            await asyncio.sleep(self.settle_s)
            self._wake.clear()
            pending, self.dirty = self.dirty, set()
            for device_id in sorted(pending):
                await self.model_activity.wait_idle(timeout=IDLE_WAIT_MAX_S)
                earliest = self.rewind.pop(device_id, None)
                try:
                    self.inflight = asyncio.ensure_future(
                        asyncio.to_thread(self._pass, device_id, earliest)
                    )
                    result = await asyncio.shield(self.inflight)
                except Exception:
                    logger.exception(
                        "summarizing device %s failed; trying again in %g s",
                        device_id,
                        RETRY_AFTER_S,
                    )
                    self._loop.call_later(RETRY_AFTER_S, self._mark, device_id, earliest)
                    continue
                if result.more:
                    self._mark(device_id)
                if result.look_again_at is not None:
                    self._look_again_at(device_id, result.look_again_at)

    def _pass(self, device_id: str, earliest: float | None) -> PassResult:
        if earliest is not None:
            self.ledger.rewind_marks(device_id, earliest)
        return summarize_device(self.ledger, self.store, device_id)

    def _look_again_at(self, device_id: str, when: float) -> None:
        if self._loop is None:
            return
        previous = self._look_again.pop(device_id, None)
        if previous is not None:
            previous.cancel()
        delay = max(when - time.time(), 0.0) + 1.0
        self._look_again[device_id] = self._loop.call_later(delay, self._mark, device_id)

    def forget_timers(self) -> None:
        """Cancel the looks planned for later (the worker is stopping)."""
        for handle in self._look_again.values():
            handle.cancel()
        self._look_again.clear()


@dataclass
class SensorSummaryWork:
    """The running summarizer of one hub (nothing when memory or devices are off)."""

    devices: DeviceService | None = None
    worker: SensorSummaryWorker | None = None
    task: asyncio.Task[None] | None = None

    @classmethod
    def start(
        cls,
        store: MemoryStore | None,
        devices: DeviceService | None,
        model_activity: ModelActivity,
    ) -> SensorSummaryWork:
        """Listen to the devices' ingest and summarize into ``store`` (when both exist)."""
        if store is None or devices is None:
            return cls()
        worker = SensorSummaryWorker(SummaryLedger(devices.store.path), store, model_activity)
        devices.listeners.append(worker)
        task = asyncio.create_task(worker.run(), name="sensor-summaries")
        return cls(devices, worker, task)

    async def stop(self) -> None:
        """Stop listening, cancel the worker and close its connection."""
        if self.devices is not None and self.worker in self.devices.listeners:
            self.devices.listeners.remove(self.worker)
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        if self.worker is not None:
            self.worker.forget_timers()
            if self.worker.inflight is not None:
                await asyncio.gather(self.worker.inflight, return_exceptions=True)
            await asyncio.to_thread(self.worker.ledger.close)
