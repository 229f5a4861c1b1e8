"""ModelActivity: whether the chat model is at work, and a wait until it has been idle a while.

Background work (fact extraction, sensor summaries, speech-to-text, OCR, the nightly training)
must not compete with decoding on a small CPU, so each waits here before it starts. The runner
reports when a request starts wanting the model and when it lets go; waiters wake on those
changes, never by polling.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class IdleCheck:
    """One look at the model: ``done`` is True (idle long enough), False (the deadline passed)
    or None (look again after a change, or after ``recheck_in`` seconds when that is set)."""

    done: bool | None
    recheck_in: float | None = None


class ModelActivity:
    """Counts the requests that hold or wait for the model; the model is busy while any do.

    A model load or adapter swap counts as a request too: it keeps the CPU just as busy.
    ``clock`` and ``sleep`` are seams for exact tests; the runner uses the real ones.
    """

    def __init__(self, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep) -> None:
        self._clock = clock
        self._sleep = sleep
        self._changed = threading.Condition()
        self._requests = 0
        self._idle_since = clock()
        self._async_waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()

    @property
    def busy(self) -> bool:
        """True while a request is being served or waits for the model."""
        with self._changed:
            return self._requests > 0

    def request_started(self) -> None:
        """A request (or a load) starts waiting for or using the model."""
        self._update(+1)

    def request_ended(self) -> None:
        """A request (or a load) let go of the model, or gave up waiting for it."""
        self._update(-1)

    def _update(self, step: int) -> None:
        with self._changed:
            self._requests += step
            if self._requests < 0:
                raise RuntimeError("request_ended without request_started")
            if self._requests == 0:
                self._idle_since = self._clock()
            self._changed.notify_all()
            waiters = list(self._async_waiters)
        for loop, event in waiters:
            if not loop.is_closed():
                loop.call_soon_threadsafe(event.set)

    def check(self, min_idle_seconds: float, since: float, deadline: float | None) -> IdleCheck:
        """Whether the model has been idle for ``min_idle_seconds`` counted from ``since`` at the
        earliest, at the clock's current time; ``deadline`` (clock time) ends the wait."""
        with self._changed:
            busy = self._requests > 0
            idle_since = max(self._idle_since, since)
        now = self._clock()
        if not busy and now - idle_since >= min_idle_seconds:
            return IdleCheck(True)
        if deadline is not None and now >= deadline:
            return IdleCheck(False)
        wake_at = None if busy else idle_since + min_idle_seconds
        if deadline is not None:
            wake_at = deadline if wake_at is None else min(wake_at, deadline)
        return IdleCheck(None, None if wake_at is None else max(0.0, wake_at - now))

    async def wait_idle(self, min_idle_seconds: float = 0.0, timeout: float | None = None) -> bool:
        """Wait until the model has been idle for ``min_idle_seconds`` without a break, counted
        from this call; False when ``timeout`` seconds pass first (None: wait for ever)."""
        start = self._clock()
        deadline = None if timeout is None else start + timeout
        event = asyncio.Event()
        waiter = (asyncio.get_running_loop(), event)
        with self._changed:
            self._async_waiters.add(waiter)
        try:
            while True:
                event.clear()
                found = self.check(min_idle_seconds, start, deadline)
                if found.done is not None:
                    return found.done
                await self._until_change(event, found.recheck_in)
        finally:
            with self._changed:
                self._async_waiters.discard(waiter)

    async def _until_change(self, event: asyncio.Event, seconds: float | None) -> None:
        if seconds is None:
            await event.wait()
            return
        changed = asyncio.ensure_future(event.wait())
        slept = asyncio.ensure_future(self._sleep(seconds))
        try:
            await asyncio.wait((changed, slept), return_when=asyncio.FIRST_COMPLETED)
        finally:
            changed.cancel()
            slept.cancel()

    def wait_idle_blocking(
        self, min_idle_seconds: float = 0.0, timeout: float | None = None
    ) -> bool:
        """``wait_idle`` for worker threads (blocking; never call it on the event loop)."""
        start = self._clock()
        deadline = None if timeout is None else start + timeout
        with self._changed:
            while True:
                found = self.check(min_idle_seconds, start, deadline)
                if found.done is not None:
                    return found.done
                self._changed.wait(found.recheck_in)
