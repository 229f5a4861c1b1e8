"""LinkThrottle: per-link token buckets for samples and bytes, so one flooding device is slowed
down on its own link (by not reading it, i.e. TCP backpressure) and never starves the others."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class TokenBucket:
    """``rate`` units a second with up to ``burst`` saved up; a rate of 0 means unlimited."""

    rate: float
    burst: float
    clock: Callable[[], float] = time.monotonic
    tokens: float = field(init=False)
    stamp: float = field(init=False)

    def __post_init__(self) -> None:
        self.tokens = self.burst
        self.stamp = self.clock()

    def take(self, amount: float) -> float:
        """Spend ``amount`` (going into debt if need be); return seconds until out of debt."""
        if self.rate <= 0:
            return 0.0
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        self.tokens -= amount
        return max(0.0, -self.tokens / self.rate)


class LinkThrottle:
    """Admit a link's frames at most at the hub's per-device sample and byte rates.

    A frame is admitted only once neither bucket is in debt, so everything a link has had
    admitted since it opened is at most one second's burst plus ``rate`` times the elapsed time.
    """

    def __init__(
        self,
        samples_per_second: float,
        bytes_per_second: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.samples = TokenBucket(samples_per_second, samples_per_second, clock)
        self.bytes = TokenBucket(bytes_per_second, bytes_per_second, clock)

    def delay(self, samples: int, size: int) -> float:
        """Charge one frame; the seconds to wait before admitting it."""
        return max(self.samples.take(samples), self.bytes.take(size))

    async def admit(self, samples: int, size: int) -> None:
        """Wait (not reading the link meanwhile) until the frame fits the rates."""
        pause = self.delay(samples, size)
        if pause > 0:
            await asyncio.sleep(pause)
