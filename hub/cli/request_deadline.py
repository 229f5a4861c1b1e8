"""A connection must send a whole request head within a deadline, or the hub closes it.

uvicorn holds a connection that never sends a request (or trickles its headers a byte at a
time) for as long as the peer likes, so a few thousand of them use up every connection slot.
"""

from __future__ import annotations

import asyncio

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

REQUEST_HEAD_SECONDS = 10.0


class DeadlineH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, closing a connection whose next request head is not complete
    within REQUEST_HEAD_SECONDS of the connection opening or the previous response ending."""

    head_deadline: float = REQUEST_HEAD_SECONDS
    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Start the clock for the first request head."""
        super().connection_made(transport)
        self._arm_head_deadline()

    def on_response_complete(self) -> None:
        """Start the clock for the next request head on a kept-alive connection."""
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_head_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        """Stop the clock."""
        self._disarm_head_deadline()
        super().connection_lost(exc)

    def _arm_head_deadline(self) -> None:
        self._disarm_head_deadline()
        self._head_timer = self.loop.call_later(self.head_deadline, self._head_deadline_passed)

    def _disarm_head_deadline(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_deadline_passed(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or self.transport.get_protocol() is not self:
            return  # closed already, or upgraded to a WebSocket (which has its own limits)
        if self.conn.their_state is h11.IDLE:  # no complete request head since the clock began
            self.transport.close()
