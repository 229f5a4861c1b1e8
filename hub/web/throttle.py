"""Exponential back-off for wrong passphrases, per client address."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Attempts:
    failures: int = 0
    blocked_until: float = 0.0


class SignInThrottle:
    """The first few wrong passphrases are free; after that each one doubles the wait."""

    def __init__(
        self,
        free_failures: int = 3,
        base_delay: float = 1.0,
        max_delay: float = 900.0,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.free_failures = free_failures
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.max_clients = max_clients
        self.clock = clock
        self._clients: OrderedDict[str, _Attempts] = OrderedDict()

    def retry_after(self, client: str) -> float:
        """Seconds this client must still wait before trying again (0 when it may try now)."""
        attempts = self._clients.get(client)
        if attempts is None:
            return 0.0
        return max(0.0, attempts.blocked_until - self.clock())

    def record_failure(self, client: str) -> float:
        """Count a wrong passphrase; return the wait it starts (0 while attempts are free)."""
        attempts = self._clients.pop(client, None) or _Attempts()
        attempts.failures += 1
        over = attempts.failures - self.free_failures
        delay = 0.0 if over <= 0 else min(self.base_delay * 2 ** (over - 1), self.max_delay)
        attempts.blocked_until = self.clock() + delay
        self._clients[client] = attempts
        while len(self._clients) > self.max_clients:
            self._clients.popitem(last=False)
        return delay

    def record_success(self, client: str) -> None:
        """Forget a client's failures once it has signed in."""
        self._clients.pop(client, None)
