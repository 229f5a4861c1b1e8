"""The nightly schedule: at the configured local time, once the model has been idle a while."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from hub.engine.activity import ModelActivity
from hub.personalization.service import PersonalizationService, RunInProgressError

logger = logging.getLogger(__name__)

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
    def start(cls, service: PersonalizationService, activity: ModelActivity) -> NightlySchedule:
        """Start the schedule if personalization is enabled."""
        if not service.settings.personalize_enabled:
            return cls(None)
        return cls(asyncio.create_task(_nightly(service, activity)))

    async def stop(self) -> None:
        """Stop waiting for the next night."""
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task


async def _nightly(service: PersonalizationService, activity: ModelActivity) -> None:
    settings = service.settings
    while True:
        due = next_run_at(datetime.now(), settings.personalize_time)
        await asyncio.sleep(max(0.0, (due - datetime.now()).total_seconds()))
        idle = settings.personalize_idle_seconds
        if not await activity.wait_idle(idle, GIVE_UP_AFTER.total_seconds()):
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
