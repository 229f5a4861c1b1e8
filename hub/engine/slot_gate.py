"""SlotGate: who gets the model's next free slot when it serves several requests at once.

A spoken request comes before a chat, a chat before background work (fact extraction, sensor
summaries, question writing); equals in arrival order. Background work never takes the last
``reserved`` free slots, so a person's request always finds one and joins the running batch at
its next decode step. A model load or adapter swap takes the gate whole: it waits until every
slot is free, and holds new requests back meanwhile. Runs on the event loop only.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Literal

Priority = Literal["voice", "chat", "background"]
PRIORITIES: tuple[Priority, ...] = ("voice", "chat", "background")


@dataclass(order=True)
class _Waiter:
    rank: int
    order: int
    priority: Priority = field(compare=False)
    granted: asyncio.Future[None] = field(compare=False)


class SlotGate:
    """``slots`` places, handed out by priority; see the module's docstring."""

    def __init__(self, slots: int, reserved: int = 1) -> None:
        self._reserve = reserved
        self.slots = slots
        self.reserved = max(0, min(reserved, slots - 1))
        self.in_use = 0
        self._waiters: list[_Waiter] = []
        self._order = itertools.count()
        self._exclusive_waiting = 0
        self._exclusive = False
        self._watchers: set[asyncio.Event] = set()  # exclusive holders waiting for a change

    def resize(self, slots: int) -> None:
        """Hand out ``slots`` places from now on (the model serving changed); those waiting
        may take new ones at once."""
        self.slots = max(1, slots)
        self.reserved = max(0, min(self._reserve, self.slots - 1))
        self._grant()

    def waiting(self, priority: Priority | None = None) -> int:
        """Requests waiting for a slot (of ``priority``, or all)."""
        return sum(1 for w in self._waiters if priority is None or w.priority == priority)

    def _may_take(self, priority: Priority) -> bool:
        if self._exclusive or self._exclusive_waiting:
            return False
        limit = self.slots - self.reserved if priority == "background" else self.slots
        return self.in_use < limit

    def try_acquire(self, priority: Priority) -> bool:
        """Take a slot now when one is free for ``priority`` and nobody ahead waits."""
        rank = PRIORITIES.index(priority)
        if any(w.rank <= rank for w in self._waiters) or not self._may_take(priority):
            return False
        self.in_use += 1
        return True

    async def acquire(self, priority: Priority) -> None:
        """Wait for a slot; cancelling the wait gives back a slot granted meanwhile."""
        if self.try_acquire(priority):
            return
        waiter = _Waiter(
            PRIORITIES.index(priority),
            next(self._order),
            priority,
            asyncio.get_running_loop().create_future(),
        )
        self._waiters.append(waiter)
        self._waiters.sort()
        try:
            await waiter.granted
        except BaseException:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
            elif waiter.granted.done() and not waiter.granted.cancelled():
                self.release()
            raise

    def release(self) -> None:
        """Give a slot back; the best waiter that may take it gets it."""
        self.in_use -= 1
        self._notify()
        self._grant()

    def _notify(self) -> None:
        for event in self._watchers:
            event.set()

    def _grant(self) -> None:
        for waiter in list(self._waiters):
            if self._may_take(waiter.priority):
                self._waiters.remove(waiter)
                self.in_use += 1
                waiter.granted.set_result(None)
            elif waiter.priority != "background":
                return  # a person waits: nobody behind them may pass

    @asynccontextmanager
    async def exclusive(self) -> AsyncIterator[None]:
        """Hold every slot: wait until all are free, keeping new requests back meanwhile."""
        self._exclusive_waiting += 1
        changed = asyncio.Event()
        self._watchers.add(changed)
        try:
            while self._exclusive or self.in_use:
                changed.clear()
                await changed.wait()
            self._exclusive = True
        finally:
            self._watchers.discard(changed)
            self._exclusive_waiting -= 1
            if not self._exclusive:  # gave up waiting: those it held back may go
                self._grant()
        try:
            yield
        finally:
            self._exclusive = False
            self._notify()
            self._grant()
