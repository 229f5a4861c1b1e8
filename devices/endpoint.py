"""DeviceEndpoint: a device's own WebSocket server, which the hub dials (found by mDNS); the link
then runs exactly as when the device dials the hub (docs/device-protocol.md, section 1)."""

from __future__ import annotations

import logging

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from devices.client import DeviceClient, LinkRefusedError
from devices.errors import ProtocolError
from devices.link_crypto import MAX_LINK_FRAME

logger = logging.getLogger(__name__)


class DeviceEndpoint:
    """Serve ``client``'s links on ``host:port`` (port 0: any free port)."""

    def __init__(self, client: DeviceClient, host: str, port: int = 0) -> None:
        self.client = client
        self.host = host
        self.port = port
        self._server: Server | None = None

    async def start(self) -> int:
        """Start listening; returns the port to advertise."""
        self._server = await serve(self._serve, self.host, self.port, max_size=MAX_LINK_FRAME)
        self.port = int(next(iter(self._server.sockets)).getsockname()[1])
        logger.info("device endpoint listening on %s:%d", self.host, self.port)
        return self.port

    async def _serve(self, connection: ServerConnection) -> None:
        peer = connection.remote_address
        try:
            await self.client.serve_link(connection)
        except LinkRefusedError as exc:
            logger.warning("hub at %s refused the link: %s", peer, exc)
            # Anyone may dial a device: only a hub that proved itself may make it forget.
            await self.client.refused(exc, trusted=False)
        except (ConnectionClosed, OSError, TimeoutError, ProtocolError) as exc:
            logger.info("link from %s ended (%s)", peer, exc)
        except Exception:
            logger.exception("link from %s failed", peer)

    async def wait(self) -> None:
        """Serve until cancelled or closed."""
        if self._server is not None:
            await self._server.wait_closed()

    async def close(self) -> None:
        """Stop listening and close open links."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
