"""DailySchedule: run a job once a day at a local HH:MM, once the model has been idle a while.

The one schedule pattern of the hub's daily work (the nightly personalization run, memory
housekeeping): sleep until the time, wait (a bounded while) for the model to be idle, run the
job; an error is logged and the schedule waits for the next day.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from hub.engine.activity import ModelActivity

logger = logging.getLogger(__name__)

GIVE_UP_AFTER = timedelta(hours=6)

Job = Callable[[], Awaitable[None]]
Clock = Callable[[], datetime]
Sleep = Callable[[float], Awaitable[None]]


def next_run_at(now: datetime, hour_minute: str) -> datetime:
    """The next local time at HH:MM strictly after ``now`` (a naive local datetime)."""
    hour, minute = (int(part) for part in hour_minute.split(":"))
    candidate = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    return candidate if candidate > now else candidate + timedelta(days=1)


@dataclass
class DailySchedule:
    """A background task that runs one job a day; ``task`` is None when the job is off."""

    task: asyncio.Task[None] | None

    @classmethod
    def start(
        cls,
        name: str,
        at: str,
        idle_seconds: float,
        activity: ModelActivity,
        job: Job,
        clock: Clock = datetime.now,
        sleep: Sleep = asyncio.sleep,
    ) -> DailySchedule:
        """Start running ``job`` every day at local ``at`` (HH:MM); ``clock`` (naive local
        time) and ``sleep`` are seams for exact tests."""
        loop = partial(_daily, name, at, idle_seconds, activity, job, clock, sleep)
        return cls(asyncio.create_task(loop(), name=f"daily-{name}"))

    @classmethod
    def off(cls) -> DailySchedule:
        """A schedule that runs nothing (its job is turned off)."""
        return cls(None)

    async def stop(self) -> None:
        """Stop waiting for the next day (a job running now is cancelled)."""
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task


async def _daily(
    name: str,
    at: str,
    idle_seconds: float,
    activity: ModelActivity,
    job: Job,
    clock: Clock,
    sleep: Sleep,
) -> None:
    while True:
        due = next_run_at(clock(), at)
        await sleep(max(0.0, (due - clock()).total_seconds()))
        if not await activity.wait_idle(idle_seconds, GIVE_UP_AFTER.total_seconds()):
            logger.info("the hub stayed busy all night; %s waits for tomorrow", name)
            continue
        try:
            await job()
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("the daily %s run failed; it runs again tomorrow", name)
