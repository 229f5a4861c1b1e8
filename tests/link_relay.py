"""A man in the middle for device-link tests: forwards frames between a device and a hub,
records them, and lets a test alter, drop, replay or inject frames on the way."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field

from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.connection import Connection
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

Frame = str | bytes
# Given a frame and its index in that direction, the frames to pass on instead.
Tamper = Callable[[Frame, int], list[Frame]]


def passthrough(frame: Frame, index: int) -> list[Frame]:
    """Forward the frame unchanged."""
    return [frame]


@dataclass
class Relay:
    """What the relay saw, and its live connections (for injecting frames)."""

    to_hub: Tamper = passthrough
    to_device: Tamper = passthrough
    device_frames: list[Frame] = field(default_factory=list)
    hub_frames: list[Frame] = field(default_factory=list)
    hub_side: ClientConnection | None = None
    device_side: Connection | None = None
    links: int = 0
    # Set once the hub has sent its first binary (sealed) frame on the current link.
    sealed: asyncio.Event = field(default_factory=asyncio.Event)

    def captured(self) -> bytes:
        """Every byte both sides sent, as one blob to search."""
        frames = self.device_frames + self.hub_frames
        return b"".join(f.encode() if isinstance(f, str) else f for f in frames)


async def _pump(
    source: Connection,
    sink: Connection,
    seen: list[Frame],
    tamper: Tamper,
    on_frame: Callable[[Frame], None],
) -> None:
    index = 0
    with suppress(ConnectionClosed):
        async for frame in source:
            seen.append(frame)
            on_frame(frame)
            for out in tamper(frame, index):
                await sink.send(out)
            index += 1


async def bridge(relay: Relay, device: Connection, hub_url: str) -> None:
    """Forward one link both ways until either side closes."""
    relay.links += 1
    relay.sealed.clear()
    async with connect(hub_url, max_size=None, proxy=None) as hub:
        relay.hub_side, relay.device_side = hub, device

        def hub_frame(frame: Frame) -> None:
            if isinstance(frame, bytes):
                relay.sealed.set()

        up = asyncio.create_task(
            _pump(device, hub, relay.device_frames, relay.to_hub, lambda f: None)
        )
        down = asyncio.create_task(_pump(hub, device, relay.hub_frames, relay.to_device, hub_frame))
        await asyncio.wait({up, down}, return_when="FIRST_COMPLETED")
        for task in (up, down):
            task.cancel()
        await asyncio.gather(up, down, return_exceptions=True)
    with suppress(Exception):
        await device.close()


@asynccontextmanager
async def relay_to_hub(hub_link_url: str, relay: Relay) -> AsyncIterator[str]:
    """Serve a relay on loopback that devices dial as if it were the hub; yields its base URL."""

    async def handle(device: ServerConnection) -> None:
        await bridge(relay, device, hub_link_url)

    async with serve(handle, "127.0.0.1", 0, max_size=None) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"http://127.0.0.1:{port}"
