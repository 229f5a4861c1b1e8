"""ModelActivity: background work waits until the model has been idle long enough, or gives up.

Time here is a fake clock that moves only when a test advances it, so every wait is exact.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest

from hub.engine.activity import ModelActivity

T = TypeVar("T")


class FakeClock:
    """A clock that moves only on ``advance``; sleepers wake once it passes their time."""

    def __init__(self, now: float = 100.0) -> None:
        self.now = now
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        woken: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sleepers.append((self.now + seconds, woken))
        await woken

    async def advance(self, seconds: float) -> None:
        self.now += seconds
        for when, woken in self._sleepers:
            if when <= self.now and not woken.done():
                woken.set_result(None)
        self._sleepers = [(when, woken) for when, woken in self._sleepers if not woken.done()]
        await settle()


async def settle() -> None:
    """Let every task run until it waits again (the loop's clock never matters here)."""
    for _ in range(20):
        await asyncio.sleep(0)


def run(scenario: Callable[[FakeClock, ModelActivity], Awaitable[T]]) -> T:
    clock = FakeClock()

    async def main() -> T:
        return await scenario(clock, ModelActivity(clock, clock.sleep))

    return asyncio.run(asyncio.wait_for(main(), 10))


def test_an_idle_model_is_waited_for_exactly_the_quiet_time_asked() -> None:
    async def scenario(clock: FakeClock, activity: ModelActivity) -> None:
        assert await activity.wait_idle() is True  # no quiet time asked: at once
        waiting = asyncio.create_task(activity.wait_idle(2.0))
        await settle()
        await clock.advance(1.9)
        assert not waiting.done()
        await clock.advance(0.1)
        assert waiting.done() and waiting.result() is True
        assert clock.now == 102.0  # counted from the call, not from the last request

    run(scenario)


def test_a_request_meanwhile_starts_the_quiet_time_again() -> None:
    async def scenario(clock: FakeClock, activity: ModelActivity) -> None:
        waiting = asyncio.create_task(activity.wait_idle(2.0, timeout=60))
        await settle()
        await clock.advance(1.5)
        activity.request_started()
        await clock.advance(10)
        assert not waiting.done()
        activity.request_ended()  # at 111.5
        await clock.advance(1.9)
        assert not waiting.done()
        await clock.advance(0.1)
        assert waiting.result() is True
        assert clock.now == 113.5

    run(scenario)


def test_a_busy_model_is_waited_for_until_the_timeout_then_given_up() -> None:
    async def scenario(clock: FakeClock, activity: ModelActivity) -> None:
        activity.request_started()
        waiting = asyncio.create_task(activity.wait_idle(timeout=30))
        await settle()
        await clock.advance(29.9)
        assert not waiting.done()
        await clock.advance(0.1)
        assert waiting.result() is False
        assert await activity.wait_idle(timeout=0) is False

    run(scenario)


def test_the_wait_ends_when_the_last_request_ends_not_the_first() -> None:
    async def scenario(clock: FakeClock, activity: ModelActivity) -> None:
        activity.request_started()  # served
        activity.request_started()  # queued behind it
        waiting = asyncio.create_task(activity.wait_idle(timeout=30))
        await settle()
        activity.request_ended()
        await settle()
        assert activity.busy and not waiting.done()
        await clock.advance(5)
        activity.request_ended()
        await settle()
        assert not activity.busy
        assert waiting.result() is True
        assert clock.now == 105.0

    run(scenario)


def test_a_quiet_time_not_reached_before_the_timeout_gives_up() -> None:
    async def scenario(clock: FakeClock, activity: ModelActivity) -> None:
        waiting = asyncio.create_task(activity.wait_idle(120, timeout=60))
        await settle()
        await clock.advance(60)
        assert waiting.result() is False

    run(scenario)


def test_a_worker_thread_waits_for_the_model_and_wakes_when_it_is_free() -> None:
    activity = ModelActivity()
    activity.request_started()
    assert activity.wait_idle_blocking(timeout=0) is False
    results: list[bool] = []
    waiting = threading.Thread(target=lambda: results.append(activity.wait_idle_blocking()))
    waiting.start()
    waiting.join(0.2)
    assert waiting.is_alive()  # still busy: it has not given up or passed
    activity.request_ended()
    waiting.join(10)
    assert results == [True]
    assert activity.wait_idle_blocking(timeout=0) is True


def test_ending_a_request_that_never_started_is_a_bug_said_at_once() -> None:
    with pytest.raises(RuntimeError, match="without request_started"):
        ModelActivity().request_ended()
