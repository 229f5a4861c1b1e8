"""DeviceClient: the device end of a link, as firmware would run it (used by the simulators)."""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from websockets.asyncio.client import connect
from websockets.asyncio.connection import Connection
from websockets.exceptions import ConnectionClosed

from devices.errors import AUTH_FAILED, PAIRING_FAILED, REPLACED, REVOKED, ProtocolError
from devices.link_auth import VerifierKeys, auth_message, check_server_signature, make_proof
from devices.link_crypto import MAX_LINK_FRAME, EphemeralKey, FrameOpener, FrameSealer, LinkKeys
from devices.media import MediaFrame, SpeechFrame, decode_speech
from devices.outbox import DeviceState
from devices.pairing import new_pairing_code
from devices.pake import DevicePake
from devices.protocol import (
    Ack,
    Challenge,
    ErrorMessage,
    Hello,
    Message,
    PairingConfirm,
    PairingOffer,
    PairingPending,
    PairingRetry,
    Proof,
    Welcome,
    decode,
    encode,
)
from devices.samples import Sample, SensorBatch, Status
from devices.sealed_connection import SealedConnection

logger = logging.getLogger(__name__)

# Offers made with a wrong code that one pairing code survives: a rogue hub dialing a device
# that waits to pair gets this many guesses (of a million) before the device shows a new code.
MAX_WRONG_OFFERS = 5


class LinkRefusedError(Exception):
    """The hub closed the link with an error frame."""

    def __init__(self, error: ErrorMessage) -> None:
        super().__init__(f"{error.code}: {error.message}")
        self.error = error
        # True when the error came after the hub proved itself (its welcome signature).
        self.authenticated = False


@dataclass(frozen=True)
class DeviceIdentity:
    """What a device says about itself in hello."""

    device_id: str
    kind: str
    model: str
    capabilities: tuple[str, ...] = ()


def link_url(hub: str) -> str:
    """The hub's device link address from its base address (http://host:port)."""
    base = hub.rstrip("/")
    for plain, secure in (("http://", "ws://"), ("https://", "wss://")):
        if base.startswith(plain):
            base = secure + base[len(plain) :]
    return base if base.endswith("/v1/devices/link") else base + "/v1/devices/link"


class DeviceClient:
    """Pairs when it has no secret, proves it otherwise, and streams its outbox."""

    def __init__(
        self,
        identity: DeviceIdentity,
        state: DeviceState,
        hub: str,
        on_code: Callable[[str], None] | None = None,
        max_backoff: float = 10.0,
        on_paired: Callable[[], None] | None = None,
        on_speech: Callable[[SpeechFrame], None] | None = None,
    ) -> None:
        self.identity = identity
        self.state = state
        self.hub = hub
        self.on_code = on_code or (lambda code: None)
        self.on_paired = on_paired or (lambda: None)
        self.on_speech = on_speech or (lambda frame: None)
        self.max_backoff = max_backoff
        self.pairing_code: str | None = None
        self._wrong_offers = 0
        self.acked = 0
        self.linked = asyncio.Event()
        self._new_frames = asyncio.Event()
        self._open: set[Connection] = set()
        self._rng = random.Random()

    async def send_samples(self, samples: Sequence[Sample]) -> int:
        """Queue a sensor batch (kept until acknowledged); returns its seq."""
        frames = tuple(samples)
        return await self._append(lambda seq: encode(SensorBatch.of(seq, frames)))

    async def send_status(self, t: float, battery: int, charging: bool) -> int:
        """Queue a battery and charging update."""
        return await self._append(lambda seq: encode(Status(seq, t, battery, charging)))

    async def send_media(self, build: Callable[[int], MediaFrame]) -> int:
        """Queue an audio or camera frame."""
        return await self._append(lambda seq: build(seq).to_wire())

    async def _append(self, build: Callable[[int], str | bytes]) -> int:
        seq = await asyncio.to_thread(self.state.append, build)
        self._new_frames.set()
        return seq

    async def run_forever(self) -> None:
        """Keep a link open: reconnect after a pause, re-pair when the hub forgot the device."""
        pause = 0.5
        while True:
            try:
                await self.connect_once()
                pause = 0.5
            except asyncio.CancelledError:
                raise
            except LinkRefusedError as exc:
                logger.warning("hub refused the link: %s", exc)
                await self.refused(exc, trusted=True)
            except (OSError, ConnectionClosed, TimeoutError, ProtocolError) as exc:
                logger.info("no link to the hub (%s); retrying in %.1f s", exc, pause)
            except Exception:
                logger.exception("link failed; retrying in %.1f s", pause)
            self.linked.clear()
            # Jittered, so devices coming back after an outage do not all dial in step.
            await asyncio.sleep(self._rng.uniform(pause / 2, pause))
            pause = min(pause * 2, self.max_backoff)

    async def refused(self, exc: LinkRefusedError, trusted: bool) -> None:
        """React to the hub's error: forget the secret when the hub says it no longer holds it
        (``trusted``: the device dialed the hub it chose; a revocation counts only sealed, after
        the hub proved itself), start over after failed pairing."""
        code = exc.error.code
        if (code == REVOKED and exc.authenticated) or (trusted and code == AUTH_FAILED):
            await self.forget_secret()
        elif code == PAIRING_FAILED:
            self.pairing_code = None

    async def forget_secret(self) -> None:
        """Drop the secret and go back to pairing mode with a new code."""
        await asyncio.to_thread(self.state.set_secret, None)
        self.pairing_code = None
        self.current_code()

    def current_code(self) -> str:
        """The pairing code (made and shown when there is none): one per pairing session, the
        same on every link, so a person reads one code whichever hub they approve it on."""
        if self.pairing_code is None:
            self.pairing_code = new_pairing_code()
            self._wrong_offers = 0
            self.on_code(self.pairing_code)
        return self.pairing_code

    async def connect_once(self) -> None:
        """Dial the hub for one link: handshake, then send and get acks until it ends."""
        async with connect(link_url(self.hub), max_size=MAX_LINK_FRAME, proxy=None) as ws:
            await self.serve_link(ws)

    async def serve_link(self, ws: Connection) -> None:
        """Run one link over an open WebSocket, whichever side dialed it: the device says
        hello first, proves its secret, then streams its outbox sealed; a newer link takes
        over."""
        self._open.add(ws)
        try:
            channel = await self._handshake(ws)
            for older in self._open - {ws}:
                await older.close(1000, REPLACED)  # never two live links for one device
            self.linked.set()
            sender = asyncio.create_task(self._send_outbox(channel))
            try:
                await self._read_acks(channel)
            finally:
                sender.cancel()
                await asyncio.gather(sender, return_exceptions=True)
        finally:
            self._open.discard(ws)
            if not self._open:
                self.linked.clear()

    async def _handshake(self, ws: Connection) -> SealedConnection:
        secret = await asyncio.to_thread(self.state.secret)
        identity = self.identity
        nonce = secrets.token_bytes(16)
        link_key = EphemeralKey()
        pake = None if secret is not None else DevicePake(self.current_code(), identity.device_id)
        hello = Hello(
            identity.device_id,
            identity.kind,
            identity.model,
            identity.capabilities,
            nonce,
            link_key.public,
            None if pake is None else pake.message,
        )
        await ws.send(encode(hello))
        message = await self._receive_clear(ws)
        if isinstance(message, PairingPending) and pake is not None:
            secret = await self._pair(ws, pake)
            message = await self._receive_clear(ws)
        if not isinstance(message, Challenge) or secret is None:
            raise LinkRefusedError(
                ErrorMessage(AUTH_FAILED, f"expected a challenge, got {message.TYPE}")
            )
        signed = auth_message(
            identity.device_id, nonce, message.nonce, link_key.public, message.key
        )
        await ws.send(encode(Proof(make_proof(secret, signed))))
        keys = LinkKeys.derive(
            link_key.shared(message.key), VerifierKeys.from_secret(secret).stored_key, signed
        )
        channel = SealedConnection(
            ws, FrameSealer(keys.device_to_hub), FrameOpener(keys.hub_to_device)
        )
        raw = await ws.recv()
        if isinstance(raw, str):  # a refusal in the clear: nobody proved anything yet
            refusal = await self._receive_text(raw, authenticated=False)
            raise LinkRefusedError(ErrorMessage(AUTH_FAILED, f"got {refusal.TYPE}"))
        welcome = decode(_opened(channel, raw))
        if not isinstance(welcome, Welcome):
            raise LinkRefusedError(ErrorMessage(AUTH_FAILED, f"got {welcome.TYPE}"))
        if not check_server_signature(secret, signed, welcome.server_signature):
            raise LinkRefusedError(ErrorMessage(AUTH_FAILED, "the hub's signature is wrong"))
        await self._acked(welcome.acked_seq)
        return channel

    async def _pair(self, ws: Connection, pake: DevicePake) -> bytes:
        """Answer the hub's offers until one was made with this device's code; the secret.
        Offers made with another code (a mistyped code, or someone guessing) are limited."""
        while True:
            offer = await self._receive_clear(ws)
            if not isinstance(offer, PairingOffer):
                raise LinkRefusedError(ErrorMessage(PAIRING_FAILED, f"got {offer.TYPE}"))
            keys = pake.accept(offer.pake, offer.confirm)
            if keys is not None:
                await asyncio.to_thread(self.state.set_secret, keys.secret)
                await ws.send(encode(PairingConfirm(keys.device_confirm)))
                self.pairing_code = None
                self.on_paired()
                for other in self._open - {ws}:
                    await other.close(1000, "paired with another hub")
                return keys.secret
            self._wrong_offers += 1
            if self._wrong_offers >= MAX_WRONG_OFFERS:
                self.pairing_code = None  # a fresh code: guesses at the old one are worth nothing
                self.current_code()
                raise LinkRefusedError(
                    ErrorMessage(
                        PAIRING_FAILED, "too many offers with a wrong code; new code shown"
                    )
                )
            pake = DevicePake(self.current_code(), self.identity.device_id)
            await ws.send(encode(PairingRetry(pake.message)))

    async def _receive_clear(self, ws: Connection) -> Message:
        """A handshake frame, in the clear: an error here is not trusted (anyone could send
        it), so it never makes the device drop a frame."""
        raw = await ws.recv()
        if isinstance(raw, bytes):
            raise LinkRefusedError(ErrorMessage(AUTH_FAILED, "a binary frame in the handshake"))
        return await self._receive_text(raw, authenticated=False)

    async def _receive_text(self, raw: str | bytes, authenticated: bool) -> Message:
        message = decode(raw)
        if isinstance(message, ErrorMessage):
            # Only the hub, on a sealed link, may tell the device to give a frame up.
            if message.seq is not None and authenticated:
                await asyncio.to_thread(self.state.drop, message.seq)
            refused = LinkRefusedError(message)
            refused.authenticated = authenticated
            raise refused
        return message

    async def _acked(self, seq: int) -> None:
        self.acked = max(self.acked, seq)
        await asyncio.to_thread(self.state.drop_through, seq)

    async def _read_acks(self, channel: SealedConnection) -> None:
        while True:
            frame = await channel.recv()
            if isinstance(frame, bytes):  # a spoken reply from the hub
                self.on_speech(decode_speech(frame))
                continue
            message = await self._receive_text(frame, authenticated=True)
            if isinstance(message, Ack):
                await self._acked(message.seq)

    async def _send_outbox(self, channel: SealedConnection) -> None:
        sent = self.acked
        while True:
            self._new_frames.clear()
            frames = await asyncio.to_thread(self.state.pending, sent)
            for seq, frame in frames:
                await channel.send(frame)
                sent = seq
            if not frames:
                await self._new_frames.wait()


def _opened(channel: SealedConnection, sealed: bytes) -> str:
    """The welcome inside the hub's first sealed frame; a frame that does not open is a hub
    without the keys (or a relay), refused like a wrong signature."""
    try:
        frame = channel.open(sealed)
    except ProtocolError as exc:
        raise LinkRefusedError(ErrorMessage(AUTH_FAILED, str(exc))) from exc
    if not isinstance(frame, str):
        raise LinkRefusedError(ErrorMessage(AUTH_FAILED, "expected a welcome"))
    return frame
