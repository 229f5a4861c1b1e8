"""Keep one Bluetooth LE device connected: connect, subscribe, hand each notification to a
reader, and after a drop or a failed attempt try again after a pause that doubles up to a cap.

The radio is behind ``GattClient``, a few methods that ``bleak.BleakClient`` has as they are;
tests put a fake in its place.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

logger = logging.getLogger(__name__)

# Notifications waiting for the reader; past this new ones are dropped (and counted).
MAX_WAITING_NOTIFICATIONS = 2000


class GattClient(Protocol):
    """The part of a Bluetooth LE client the loop uses (``bleak.BleakClient`` fits it)."""

    @property
    def address(self) -> str:
        """The device's address (a MAC address, or an OS-given id on macOS)."""
        ...

    async def connect(self) -> None:
        """Connect, or raise."""
        ...

    async def disconnect(self) -> None:
        """Disconnect (nothing when not connected)."""
        ...

    async def read_gatt_char(self, char_specifier: str) -> bytearray:
        """The value of the characteristic with this UUID."""
        ...

    async def start_notify(
        self, char_specifier: str, callback: Callable[[Any, bytearray], None]
    ) -> None:
        """Call ``callback(characteristic, value)`` on each notification of the UUID."""
        ...


ClientFactory = Callable[[str, Callable[[Any], None]], GattClient]
"""``(address, disconnected_callback) -> client``: ``bleak.BleakClient`` itself is one."""


class NotificationReader(Protocol):
    """What a kind of device does with its connection: one per device, across reconnects."""

    characteristic: str
    """The UUID whose notifications it reads."""

    async def prepare(self, client: GattClient) -> None:
        """Read what it needs before notifications start (e.g. a codec)."""
        ...

    async def take(self, data: bytes, t: float) -> None:
        """One notification, received at ``t`` (Unix seconds)."""
        ...

    async def end(self) -> None:
        """The connection ended: hand on what is still held."""
        ...


@dataclass(frozen=True)
class Backoff:
    """Pauses between attempts: ``first`` seconds, times ``factor`` after each failure, at most
    ``cap``; back to ``first`` after a connection that delivered something."""

    first: float = 1.0
    factor: float = 2.0
    cap: float = 60.0

    def pause(self, failures: int) -> float:
        """The pause after ``failures`` attempts in a row came to nothing (1, 2, ...)."""
        return min(self.cap, self.first * self.factor ** max(0, failures - 1))


@dataclass
class LoopCounts:
    """What the loop has done (status pages and tests read it)."""

    attempts: int = 0
    connections: int = 0
    drops: int = 0
    failures: int = 0
    notifications: int = 0
    bad_notifications: int = 0
    overflowed: int = 0


class ReconnectLoop:
    """Keeps ``address`` connected until ``stop()`` (or ``keep_going`` says no more)."""

    def __init__(
        self,
        address: str,
        connect_client: ClientFactory,
        reader: NotificationReader,
        backoff: Backoff | None = None,
        keep_going: Callable[[], Awaitable[bool]] | None = None,
        pause: Callable[[float], Awaitable[None]] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.address = address
        self.connect_client = connect_client
        self.reader = reader
        self.backoff = backoff or Backoff()
        self.keep_going = keep_going
        self._pause = pause or self._wait_unless_stopped
        self.clock = clock
        self.counts = LoopCounts()
        self.state = "idle"  # connecting, connected, waiting, stopped
        self.last_error = ""
        self._stopping = asyncio.Event()
        self._inbox: asyncio.Queue[tuple[bytes, float] | None] | None = None

    def stop(self) -> None:
        """End the loop: the connection at hand is closed, no new attempt is made."""
        self._stopping.set()
        if self._inbox is not None:
            self._inbox.put_nowait(None)

    async def run(self) -> None:
        """Connect, read, and reconnect after each drop, until stopped."""
        failures = 0
        try:
            while not self._stopping.is_set():
                if self.keep_going is not None and not await self.keep_going():
                    logger.info("%s: no longer wanted, not reconnecting", self.address)
                    return
                delivered = await self._session()
                if self._stopping.is_set():
                    return
                failures = 0 if delivered else failures + 1
                self.state = "waiting"
                await self._pause(self.backoff.first if delivered else self.backoff.pause(failures))
        finally:
            self.state = "stopped"

    async def _wait_unless_stopped(self, delay: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=delay)

    async def _session(self) -> bool:
        """One connection, from attempt to drop; True when it delivered a notification."""
        self.state = "connecting"
        self.counts.attempts += 1
        # Notifications, then None for the end (a drop, or stop()).
        inbox: asyncio.Queue[tuple[bytes, float] | None] = asyncio.Queue()
        loop = asyncio.get_running_loop()

        def received(data: bytes, t: float) -> None:
            if inbox.qsize() >= MAX_WAITING_NOTIFICATIONS:
                self.counts.overflowed += 1  # the reader is behind: this one is not heard
                return
            inbox.put_nowait((data, t))

        # bleak may call these from another thread on some platforms: hand them to the loop.
        def dropped(_client: object) -> None:
            loop.call_soon_threadsafe(inbox.put_nowait, None)

        def notified(_characteristic: object, data: bytearray) -> None:
            loop.call_soon_threadsafe(received, bytes(data), self.clock())

        try:
            client = self.connect_client(self.address, dropped)
        except Exception as exc:  # no radio at all: the same pause and retry as a failed connect
            self._failed(exc)
            return False
        try:
            await client.connect()
            await self.reader.prepare(client)
            await client.start_notify(self.reader.characteristic, notified)
        except asyncio.CancelledError:
            await self._close(client)
            raise
        except Exception as exc:
            self._failed(exc)
            await self._close(client)
            return False
        self.state = "connected"
        self.counts.connections += 1
        self._inbox = inbox
        if self._stopping.is_set():  # stop() came while connecting
            inbox.put_nowait(None)
        logger.info("%s: connected", self.address)
        delivered = False
        try:
            while (item := await inbox.get()) is not None:
                delivered = True
                await self._take(*item)
            if not self._stopping.is_set():
                self.counts.drops += 1
                logger.info("%s: disconnected; reconnecting", self.address)
        finally:
            self._inbox = None
            await self._end_reader()
            await self._close(client)
        return delivered

    async def _take(self, data: bytes, t: float) -> None:
        self.counts.notifications += 1
        try:
            await self.reader.take(data, t)
        except ValueError as exc:  # a malformed packet: skip it, the next may be fine
            self.counts.bad_notifications += 1
            if self.counts.bad_notifications % 100 == 1:
                logger.warning("%s: skipped a notification: %s", self.address, exc)
        except Exception:
            self.counts.bad_notifications += 1
            logger.exception("%s: handling a notification failed", self.address)

    async def _end_reader(self) -> None:
        try:
            await self.reader.end()
        except Exception:
            logger.exception("%s: handing on the last readings failed", self.address)

    def _failed(self, exc: BaseException) -> None:
        self.counts.failures += 1
        self.last_error = f"{type(exc).__name__}: {exc}"
        logger.info("%s: could not connect (%s)", self.address, self.last_error)

    @staticmethod
    async def _close(client: GattClient) -> None:
        with contextlib.suppress(Exception):
            await client.disconnect()
