"""The nightly schedule: at the configured local time, once the model has been idle a while."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from hub.personalization.service import PersonalizationService, RunInProgressError

logger = logging.getLogger(__name__)

IDLE_POLL_SECONDS = 5.0
GIVE_UP_AFTER = timedelta(hours=6)


def next_run_at(now: datetime, hour_minute: str) -> datetime:
    """The next local time at HH:MM strictly after ``now`` (a naive local datetime)."""
    hour, minute = (int(part) for part in hour_minute.split(":"))
    candidate = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    return candidate if candidate > now else candidate + timedelta(days=1)


@dataclass
class NightlySchedule:
    """A background task that starts a run each night when the hub is idle."""

    task: asyncio.Task[None] | None

    @classmethod
    def start(cls, service: PersonalizationService, busy: Callable[[], bool]) -> NightlySchedule:
        """Start the schedule if personalization is enabled."""
        if not service.settings.personalize_enabled:
            return cls(None)
        return cls(asyncio.create_task(_nightly(service, busy)))

    async def stop(self) -> None:
        """Stop waiting for the next night."""
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task


async def wait_until_idle(busy: Callable[[], bool], idle_seconds: float, until: datetime) -> bool:
    """Wait until the model has been free for ``idle_seconds``; False if ``until`` comes first."""
    idle_since: datetime | None = None
    while datetime.now() < until:
        now = datetime.now()
        if busy():
            idle_since = None
        elif idle_since is None:
            idle_since = now
        if idle_since is not None and (now - idle_since).total_seconds() >= idle_seconds:
            return True
        await asyncio.sleep(IDLE_POLL_SECONDS)
    return False


async def _nightly(service: PersonalizationService, busy: Callable[[], bool]) -> None:
    settings = service.settings
    while True:
        due = next_run_at(datetime.now(), settings.personalize_time)
        await asyncio.sleep(max(0.0, (due - datetime.now()).total_seconds()))
        if not await wait_until_idle(busy, settings.personalize_idle_seconds, due + GIVE_UP_AFTER):
            logger.info("the hub stayed busy all night; personalization waits for tomorrow")
            continue
        try:
            status = await service.start_run(force=False)
        except RunInProgressError:
            continue
        except Exception:
            logger.exception("the nightly personalization run could not start")
            continue
        if status.running is None and service.last_outcome is not None:
            logger.info("nightly personalization skipped: %s", service.last_outcome.message)
        await service.wait()
