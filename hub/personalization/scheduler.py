"""The nightly personalization run on the hub's daily schedule (hub/daily_schedule.py)."""

from __future__ import annotations

import logging

from hub.daily_schedule import DailySchedule, next_run_at
from hub.engine.activity import ModelActivity
from hub.personalization.service import PersonalizationService, RunInProgressError

logger = logging.getLogger(__name__)

__all__ = ["NightlySchedule", "next_run_at"]


class NightlySchedule:
    """Starts a personalization run each night when the hub is idle."""

    @staticmethod
    def start(service: PersonalizationService, activity: ModelActivity) -> DailySchedule:
        """Start the schedule if personalization is enabled."""
        settings = service.settings
        if not settings.personalize_enabled:
            return DailySchedule.off()

        async def night_run() -> None:
            try:
                status = await service.start_run(force=False)
            except RunInProgressError:
                return
            if status.running is None and service.last_outcome is not None:
                logger.info("nightly personalization skipped: %s", service.last_outcome.message)
            await service.wait()

        return DailySchedule.start(
            "personalization",
            settings.personalize_time,
            settings.personalize_idle_seconds,
            activity,
            night_run,
        )
