"""Cut generated text at stop sequences without ever emitting part of one."""

from __future__ import annotations


class StopTextFilter:
    """Feed text pieces in; get back what is safe to show, holding back a possible stop prefix."""

    def __init__(self, stops: tuple[str, ...]) -> None:
        self.stops = tuple(stop for stop in stops if stop)
        self._pending = ""
        self.stopped = False

    def feed(self, piece: str) -> str:
        """Add ``piece``; return the text that can be emitted now."""
        if self.stopped:
            return ""
        self._pending += piece
        cut = min(
            (index for index in (self._pending.find(s) for s in self.stops) if index >= 0),
            default=-1,
        )
        if cut >= 0:
            self.stopped = True
            emitted, self._pending = self._pending[:cut], ""
            return emitted
        hold = self._longest_stop_prefix_suffix()
        emitted = self._pending[: len(self._pending) - hold]
        self._pending = self._pending[len(self._pending) - hold :]
        return emitted

    def flush(self) -> str:
        """Return whatever is still held back (the answer ended without a stop)."""
        emitted, self._pending = ("" if self.stopped else self._pending), ""
        return emitted

    def _longest_stop_prefix_suffix(self) -> int:
        longest = 0
        for stop in self.stops:
            for size in range(min(len(stop) - 1, len(self._pending)), longest, -1):
                if self._pending.endswith(stop[:size]):
                    longest = size
                    break
        return longest
