"""LinkSocket: the hub's end of one device WebSocket, whichever side dialed.

A device may dial the hub (the hub accepted a Starlette WebSocket) or the hub may dial the
device's endpoint (a `websockets` client connection); DeviceLink runs the same protocol over both.
"""

from __future__ import annotations

from typing import Protocol

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from devices.link_crypto import FrameOpener, FrameSealer


class LinkSocket(Protocol):
    """What a device link needs of its WebSocket."""

    async def receive(self) -> str | bytes | None:
        """The next frame (text or binary), or None once the peer has gone."""

    async def send_text(self, text: str) -> None:
        """Send one text frame."""

    async def send_bytes(self, data: bytes) -> None:
        """Send one binary frame (spoken replies)."""

    async def close(self, code: int) -> None:
        """Close the WebSocket with ``code``."""

    def is_open(self) -> bool:
        """True while frames can still be sent."""


class AcceptedSocket:
    """A link the device dialed: the hub's accepted Starlette WebSocket."""

    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket

    async def receive(self) -> str | bytes | None:
        """The next frame, or None on disconnect."""
        try:
            message = await self.websocket.receive()
        except (WebSocketDisconnect, RuntimeError):
            return None
        if message["type"] == "websocket.disconnect":
            return None
        if message.get("text") is not None:
            text: str = message["text"]
            return text
        data: bytes = message.get("bytes") or b""
        return data

    async def send_text(self, text: str) -> None:
        """Send one text frame."""
        await self.websocket.send_text(text)

    async def send_bytes(self, data: bytes) -> None:
        """Send one binary frame."""
        await self.websocket.send_bytes(data)

    async def close(self, code: int) -> None:
        """Close with ``code``."""
        await self.websocket.close(code)

    def is_open(self) -> bool:
        """True until either side closed."""
        return self.websocket.application_state == WebSocketState.CONNECTED


class DialedSocket:
    """A link the hub dialed: a `websockets` client connection to the device's endpoint."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection

    async def receive(self) -> str | bytes | None:
        """The next frame, or None once the connection closed."""
        try:
            return await self.connection.recv()
        except ConnectionClosed:
            return None

    async def send_text(self, text: str) -> None:
        """Send one text frame."""
        await self.connection.send(text)

    async def send_bytes(self, data: bytes) -> None:
        """Send one binary frame."""
        await self.connection.send(data)

    async def close(self, code: int) -> None:
        """Close with ``code``."""
        await self.connection.close(code)

    def is_open(self) -> bool:
        """True while the connection is open."""
        return self.connection.state is State.OPEN


class SealedSocket:
    """An authenticated link's socket: every frame sealed on the way out and opened on the way
    in (docs/device-protocol.md, section 4); sends must be serialized by the caller."""

    def __init__(self, inner: LinkSocket, sealer: FrameSealer, opener: FrameOpener) -> None:
        self.inner = inner
        self._sealer = sealer
        self._opener = opener

    async def receive(self) -> str | bytes | None:
        """The next frame, opened; ProtocolError when it fails its integrity check."""
        sealed = await self.inner.receive()
        return None if sealed is None else self._opener.open(sealed)

    async def send_text(self, text: str) -> None:
        """Seal and send one text frame."""
        await self.inner.send_bytes(self._sealer.seal(text))

    async def send_bytes(self, data: bytes) -> None:
        """Seal and send one binary frame."""
        await self.inner.send_bytes(self._sealer.seal(data))

    async def close(self, code: int) -> None:
        """Close with ``code``."""
        await self.inner.close(code)

    def is_open(self) -> bool:
        """True while frames can still be sent."""
        return self.inner.is_open()
