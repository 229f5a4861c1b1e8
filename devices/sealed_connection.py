"""SealedConnection: the device's end of an authenticated link, every frame sealed both ways."""

from __future__ import annotations

import asyncio

from websockets.asyncio.connection import Connection

from devices.link_crypto import FrameOpener, FrameSealer


class SealedConnection:
    """Seals what the device sends and opens what the hub sent (docs/device-protocol.md)."""

    def __init__(self, connection: Connection, sealer: FrameSealer, opener: FrameOpener) -> None:
        self.connection = connection
        self._sealer = sealer
        self._opener = opener
        # Seal and send as one step, so frames leave in the order of their nonces.
        self._sending = asyncio.Lock()

    async def send(self, frame: str | bytes) -> None:
        """Seal and send one text or binary frame."""
        async with self._sending:
            await self.connection.send(self._sealer.seal(frame))

    async def recv(self) -> str | bytes:
        """The next frame, opened; ProtocolError when it fails its integrity check."""
        return self.open(await self.connection.recv())

    def open(self, sealed: str | bytes) -> str | bytes:
        """Open one frame already received."""
        return self._opener.open(sealed)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the WebSocket."""
        await self.connection.close(code, reason)
