"""LinkPairing: a device link waiting to pair, from pairing_pending to the stored keys
(docs/device-protocol.md, section 4)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from devices.errors import (
    FRAME_TOO_LARGE,
    PAIRING_FAILED,
    PAIRING_TIMEOUT,
    UNKNOWN_TYPE,
    ProtocolError,
)
from devices.pairing import PairingAttempt, PairingDroppedError, PairingRequest
from devices.pake import HubPake
from devices.protocol import (
    Hello,
    Message,
    PairingConfirm,
    PairingOffer,
    PairingPending,
    PairingRetry,
    decode,
)
from hub.wearables.service import DeviceService

# Hello, the pairing replies and the proof are a few hundred bytes; before anyone proved anything
# the hub parses nothing larger.
MAX_HANDSHAKE_FRAME = 8 * 1024

Send = Callable[[Message], Awaitable[None]]
Receive = Callable[[], Awaitable[str | bytes | None]]


def small_frame(raw: str | bytes | None) -> str | bytes | None:
    """A handshake frame, refused unread when larger than any handshake frame can be."""
    if raw is not None and len(raw) > MAX_HANDSHAKE_FRAME:
        raise ProtocolError(
            FRAME_TOO_LARGE,
            f"a handshake frame of {len(raw)} bytes; none is over {MAX_HANDSHAKE_FRAME}",
        )
    return raw


class LinkPairing:
    """Runs one link's pairing: waits for the codes the person types, offers an exchange made
    with each, and hands over the device's secret once the device confirmed one."""

    def __init__(self, service: DeviceService, send: Send, receive: Receive) -> None:
        self.service = service
        self._send = send
        self._receive = receive

    async def run(self, hello: Hello) -> bool:
        """Wait for the person to type the device's code, then run the exchange it
        authenticates; True once the hub stored the device's keys."""
        request = self.service.pairing.open(hello)
        self.service.note_heard(hello)
        receiving = asyncio.ensure_future(self._receive())
        pake = hello.pake or b""
        try:
            await self._send(PairingPending())
            async with asyncio.timeout(self.service.pairing_timeout):
                while True:
                    attempt = await self._next_attempt(request, receiving)
                    if attempt is None:
                        return False
                    pake, secret = await self._try_code(hello, pake, attempt, receiving)
                    if secret is not None:
                        await asyncio.wait_for(request.stored, self.service.handshake_timeout)
                        return True
                    receiving = asyncio.ensure_future(self._receive())
        except TimeoutError as exc:
            raise ProtocolError(
                PAIRING_TIMEOUT,
                f"no one approved the code within {self.service.pairing_timeout:g} s; "
                "reconnect to keep waiting",
            ) from exc
        finally:
            receiving.cancel()
            self.service.pairing.close(request)

    async def _next_attempt(
        self, request: PairingRequest, receiving: asyncio.Future[str | bytes | None]
    ) -> PairingAttempt | None:
        """The next code the person typed, or None when the device left."""
        getting = asyncio.ensure_future(request.attempts.get())
        try:
            waiters: set[asyncio.Future[Any]] = {getting, receiving, request.dropped}
            await asyncio.wait(waiters, return_when="FIRST_COMPLETED")
        finally:
            if not getting.done():
                getting.cancel()
        if getting.done() and not getting.cancelled():
            return getting.result()
        if request.dropped.done():
            raise ProtocolError(
                PAIRING_FAILED, f"pairing failed ({request.dropped.result()}); start pairing again"
            )
        if receiving.result() is not None:
            raise ProtocolError(
                UNKNOWN_TYPE, "send nothing while waiting for the person to approve the code"
            )
        return None

    async def _try_code(
        self,
        hello: Hello,
        device_pake: bytes,
        attempt: PairingAttempt,
        receiving: asyncio.Future[str | bytes | None],
    ) -> tuple[bytes, bytes | None]:
        """Offer the exchange made with the typed code; the device's next pairing message and
        the secret when it confirmed."""
        exchange = HubPake(attempt.code, hello.device_id, device_pake)
        secret: bytes | None = None
        try:
            await self._send(PairingOffer(exchange.message, exchange.confirm))
            raw = small_frame(
                await asyncio.wait_for(asyncio.shield(receiving), self.service.handshake_timeout)
            )
            if raw is None:
                raise ProtocolError(PAIRING_FAILED, "the device left while pairing")
            reply = decode(raw) if isinstance(raw, str) else None
            if isinstance(reply, PairingConfirm):
                secret = exchange.secret_if_confirmed(reply.confirm)
                if secret is None:  # only a device that did not follow the protocol gets here
                    attempt.result.set_result(None)
                    raise ProtocolError(
                        PAIRING_FAILED, "the device's confirmation does not match; pair again"
                    )
            elif isinstance(reply, PairingRetry):
                device_pake = reply.pake
            else:
                raise ProtocolError(
                    UNKNOWN_TYPE, "answer a pairing_offer with pairing_confirm or pairing_retry"
                )
        except BaseException as exc:
            if not attempt.result.done():
                attempt.result.set_exception(PairingDroppedError(str(exc)))
            raise
        attempt.result.set_result(secret)
        return device_pake, secret
