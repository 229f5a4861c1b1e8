"""HousekeepingService: the policy in effect, runs (scheduled or asked for), undo and sizes.

A run compacts, kind by kind, each day older than the kind's policy allows (one transaction per
day, memory/housekeeping.py), then purges what has outlived its grace period. One run at a
time; the work goes to threads, the model's summaries to the runner at background priority.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import cast

from hub.engine.runner import ModelRunner
from hub.errors import HubError
from hub.housekeeping.model_summary import model_summary
from hub.housekeeping.policy import EffectivePolicy, effective_policies
from hub.housekeeping.wording import extractive_summary
from hub.settings import Settings
from memory.housekeeping import StoreHousekeeping
from memory.housekeeping_types import DayGroup, KindSize, Policy, Run
from memory.timestamps import utc_now
from memory.types import MemoryItem

logger = logging.getLogger(__name__)

RUNS_SHOWN = 5
SIZES_MAX_AGE_S = 30.0


class HousekeepingBusyError(HubError, RuntimeError):
    """A housekeeping run is going already."""

    http_status = 409
    error_code = "housekeeping_running"


@dataclass(frozen=True)
class HousekeepingStatus:
    """The policy per kind, the grace period, the latest runs and the sizes per kind."""

    policies: list[EffectivePolicy]
    grace_days: int
    grace_origin: str
    daily_at: str
    running: str | None  # the id of the run going now
    runs: list[Run]
    sizes: list[KindSize]


class HousekeepingService:
    """Memory housekeeping of one hub."""

    def __init__(
        self,
        store: StoreHousekeeping,
        settings: Settings,
        runner: ModelRunner | None,
        clock: Callable[[], datetime] = utc_now,
        tz: tzinfo | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.runner = runner if settings.memory_housekeeping_model_summaries else None
        self._clock = clock
        self._tz = tz
        self._task: asyncio.Task[None] | None = None
        self._running: str | None = None
        self._sizes_cache: tuple[float, list[KindSize]] | None = None
        # No run of this process has started yet: an unfinished one is a stopped process's.
        store.end_interrupted_runs(clock())

    @property
    def tz(self) -> tzinfo:
        """The hub's local time zone (days are local days)."""
        return self._tz or cast(tzinfo, datetime.now().astimezone().tzinfo)

    # ----- reading and setting the policy -------------------------------------------------------

    def grace(self) -> tuple[int, str]:
        """The grace period in days and where it came from."""
        saved = self.store.saved_grace_days()
        if saved is not None:
            return saved, "saved"
        return self.settings.memory_housekeeping_grace_days, "settings"

    def status(self) -> HousekeepingStatus:
        """Everything the Memory page shows (blocking: call it from a thread)."""
        grace, origin = self.grace()
        return HousekeepingStatus(
            policies=effective_policies(self.settings, self.store.saved_policies()),
            grace_days=grace,
            grace_origin=origin,
            daily_at=self.settings.memory_housekeeping_time,
            running=self._running,
            runs=self.store.runs(RUNS_SHOWN),
            sizes=self._sizes(),
        )

    def _sizes(self) -> list[KindSize]:
        # Counting reads every item and chunk (seconds at a million items); the page polls
        # every second during a run, so a count is reused for a while unless a run or an
        # undo changed the sizes since.
        cached = self._sizes_cache
        if cached is not None and time.monotonic() - cached[0] < SIZES_MAX_AGE_S:
            return cached[1]
        sizes = self.store.sizes()
        self._sizes_cache = (time.monotonic(), sizes)
        return sizes

    def save(self, policies: list[Policy], grace_days: int | None) -> HousekeepingStatus:
        """Save the person's choices (blocking); they win over hub.toml from now on."""
        self.store.save_policies(policies, grace_days)
        return self.status()

    # ----- runs ----------------------------------------------------------------------------------

    async def start_run(self, trigger: str) -> str:
        """Start a run in the background; its id."""
        if self._running is not None:
            raise HousekeepingBusyError(
                f"housekeeping run {self._running} is going; wait for it to finish"
            )
        self._running = "starting"  # claimed before the await, so a second caller is refused
        try:
            run_id = await asyncio.to_thread(self.store.start_run, self._clock(), trigger)
        except BaseException:
            self._running = None
            raise
        self._running = run_id
        self._task = asyncio.create_task(self._run(run_id), name="memory-housekeeping")
        return run_id

    async def wait(self) -> None:
        """Wait for the run going now, if any."""
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(self._task)

    async def run_now(self, trigger: str) -> str:
        """Run and wait for it; the run's id (the schedule's way)."""
        run_id = await self.start_run(trigger)
        await self.wait()
        return run_id

    async def _run(self, run_id: str) -> None:
        now = self._clock()
        grace_days, _ = await asyncio.to_thread(self.grace)
        policies = await asyncio.to_thread(self.store.saved_policies)
        error: str | None = None
        purged = 0
        try:
            for effective in effective_policies(self.settings, policies):
                await self._apply(run_id, effective.policy, now, timedelta(days=grace_days))
            purged = await asyncio.to_thread(self.store.purge_due, now)
        except asyncio.CancelledError:
            error = "stopped with the hub; the days not done yet are done by the next run"
            raise
        except Exception as exc:
            logger.exception("housekeeping run %s failed", run_id)
            error = f"{type(exc).__name__}: {exc}; the days done so far stay done"
        finally:
            try:
                await asyncio.to_thread(self.store.finish_run, run_id, self._clock(), purged, error)
            finally:
                self._sizes_cache = None
                self._running = None

    async def _apply(self, run_id: str, policy: Policy, now: datetime, grace: timedelta) -> None:
        if policy.action == "keep":
            return
        before = now - timedelta(days=policy.after_days)
        groups = await asyncio.to_thread(self.store.day_groups, policy.kind, before, self.tz)
        for group in groups:
            summary: str | None = None
            items: list[MemoryItem] | None = None
            if policy.action == "summarize":
                items = await asyncio.to_thread(self.store.items, group)
                if not items:
                    continue
                summary = await self._summary(group, items)
            batch = await asyncio.to_thread(
                self.store.compact, run_id, group, summary, now, grace, items
            )
            if batch is None:
                logger.info(
                    "%s of %s changed meanwhile; left for the next run", group.kind, group.day
                )

    async def _summary(self, group: DayGroup, items: list[MemoryItem]) -> str:
        if self.runner is not None:
            written = await model_summary(self.runner, group, items, self.tz)
            if written is not None:
                return written
        return extractive_summary(group, items, self.tz)

    def undo(self, run_id: str) -> int:
        """Bring back what a run still holds (blocking); how many days came back."""
        days = len(self.store.undo_run(run_id))
        self._sizes_cache = None
        return days

    async def close(self) -> None:
        """Stop a run going now after the day in hand (each day commits whole or not at all)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
