"""The daily housekeeping run on the hub's daily schedule (hub/daily_schedule.py)."""

from __future__ import annotations

import logging

from hub.daily_schedule import DailySchedule
from hub.engine.activity import ModelActivity
from hub.housekeeping.service import HousekeepingBusyError, HousekeepingService

logger = logging.getLogger(__name__)

IDLE_SECONDS = 60.0


def start_housekeeping_schedule(
    service: HousekeepingService | None, activity: ModelActivity
) -> DailySchedule:
    """Run housekeeping every day at ``memory_housekeeping_time`` (nothing when memory is off).
    It runs even when every kind is kept raw: held items still reach their grace period."""
    if service is None:
        return DailySchedule.off()

    async def daily_run() -> None:
        try:
            run_id = await service.run_now("schedule")
        except HousekeepingBusyError:
            return  # one asked for by hand is going: it does the same work
        logger.info("daily memory housekeeping %s done", run_id)

    return DailySchedule.start(
        "memory housekeeping",
        service.settings.memory_housekeeping_time,
        IDLE_SECONDS,
        activity,
        daily_run,
    )
