"""Exponential back-off for wrong passphrases, per client and for all clients together."""

from __future__ import annotations

import ipaddress
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

# An IPv6 host is given a whole /64 and may pick any address in it: that is one client.
IPV6_CLIENT_PREFIX = 64
# The count of wrong passphrases from all clients is forgotten after this long without one
# (10 free ones per quiet period: some 1,400 guesses a day at most, however many addresses).
GLOBAL_QUIET_SECONDS = 600.0


def client_key(address: str) -> str:
    """The back-off key of a client address: itself for IPv4, its /64 for IPv6."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, IPV6_CLIENT_PREFIX), strict=False))
    return str(ip)


@dataclass
class _Attempts:
    failures: int = 0
    blocked_until: float = 0.0


def _delay(failures: int, free: int, base: float, most: float) -> float:
    over = failures - free
    return 0.0 if over <= 0 else min(base * 2 ** (over - 1), most)


class SignInThrottle:
    """The first few wrong passphrases of a client are free; after that each one doubles the
    wait. Clients that rotate addresses share a second, global count: once it passes
    ``global_free_failures``, every sign-in waits, doubling likewise, until ten quiet minutes."""

    def __init__(
        self,
        free_failures: int = 3,
        base_delay: float = 1.0,
        max_delay: float = 900.0,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
        global_free_failures: int = 10,
    ) -> None:
        self.free_failures = free_failures
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.max_clients = max_clients
        self.clock = clock
        self.global_free_failures = global_free_failures
        self._clients: OrderedDict[str, _Attempts] = OrderedDict()
        self._everyone = _Attempts()

    def retry_after(self, client: str) -> float:
        """Seconds this client must still wait before trying again (0 when it may try now)."""
        now = self.clock()
        attempts = self._clients.get(client_key(client))
        own = 0.0 if attempts is None else attempts.blocked_until - now
        return max(0.0, own, self._everyone.blocked_until - now)

    def record_failure(self, client: str) -> float:
        """Count a wrong passphrase; return the wait it starts (0 while attempts are free)."""
        now = self.clock()
        key = client_key(client)
        attempts = self._clients.pop(key, None) or _Attempts()
        attempts.failures += 1
        delay = _delay(attempts.failures, self.free_failures, self.base_delay, self.max_delay)
        attempts.blocked_until = now + delay
        self._clients[key] = attempts
        while len(self._clients) > self.max_clients:
            self._clients.popitem(last=False)
        everyone = self._everyone
        if now > everyone.blocked_until + GLOBAL_QUIET_SECONDS:
            everyone.failures = 0  # no wrong passphrase for a while: start counting afresh
        everyone.failures += 1
        shared = _delay(
            everyone.failures, self.global_free_failures, self.base_delay, self.max_delay
        )
        everyone.blocked_until = now + shared
        return max(delay, shared)

    def record_success(self, client: str) -> None:
        """Forget a client's failures once it has signed in (the global count stays)."""
        self._clients.pop(client_key(client), None)
