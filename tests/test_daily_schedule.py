"""The hub's one daily schedule (personalization, memory housekeeping), with its clock and sleep
seams: the job runs at the time asked for, and an error waits for the next day."""

from __future__ import annotations

import asyncio
from datetime import datetime

from hub.daily_schedule import DailySchedule
from hub.engine.activity import ModelActivity


def test_the_job_runs_each_day_at_its_time_and_an_error_waits_for_the_next() -> None:
    now = datetime(2026, 12, 2, 1, 30)
    slept: list[float] = []
    runs: list[int] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        if len(slept) > 2:
            await asyncio.Event().wait()  # the third night never comes: the test stops here

    async def job() -> None:
        runs.append(len(slept))
        if len(runs) == 1:
            raise RuntimeError("the disk was busy")  # logged; tomorrow's run still happens

    async def scenario() -> None:
        schedule = DailySchedule.start(
            "test", "04:00", 0.0, ModelActivity(), job, clock=lambda: now, sleep=sleep
        )
        while len(slept) < 3:
            await asyncio.sleep(0)
        await schedule.stop()
        assert schedule.task is not None and schedule.task.cancelled()

    asyncio.run(scenario())
    assert slept[:2] == [2.5 * 3600, 2.5 * 3600] and runs == [1, 2]


def test_a_schedule_that_is_off_runs_nothing() -> None:
    async def scenario() -> None:
        await DailySchedule.off().stop()

    asyncio.run(scenario())
