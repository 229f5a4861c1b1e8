"""StartingRequests: requests that hold a slot but whose generation the model has not seen yet.

Requests sent at once reach the model's child a few milliseconds apart (each renders its prompt
first). A child with nothing generating would otherwise evaluate the first prompt alone and the
others one decode step later, doubling the last one's wait for its first token; told how many
more are on their way, it waits a moment and evaluates them in one batch (see parallel_process).
"""

from __future__ import annotations

import threading

from hub.engine.slot_gate import PRIORITIES, Priority


class StartingRequests:
    """Counts, per priority, requests between taking a slot and starting their generation;
    safe to use from the event loop and worker threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(PRIORITIES, 0)

    def begin(self, priority: Priority) -> None:
        """A request took a slot and prepares its prompt."""
        with self._lock:
            self._counts[priority] += 1

    def end(self, priority: Priority) -> int:
        """The request starts generating (or gave up); returns how many others, as urgent or
        more, are still on their way: the only ones worth waiting for (background work never
        holds a person's first token back)."""
        with self._lock:
            self._counts[priority] = max(0, self._counts[priority] - 1)
            rank = PRIORITIES.index(priority)
            return sum(self._counts[p] for p in PRIORITIES[: rank + 1])
