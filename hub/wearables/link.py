"""DeviceLink: one device's WebSocket, from hello to the last ack (docs/device-protocol.md)."""

from __future__ import annotations

import asyncio
import logging
import secrets
from contextlib import suppress

from devices.errors import (
    AUTH_FAILED,
    BAD_SEQUENCE,
    DISK_FULL,
    FRAME_AUTH_FAILED,
    FRAME_TOO_LARGE,
    HANDSHAKE_TIMEOUT,
    HUB_BUSY,
    PAIRING_BUSY,
    PAIRING_FAILED,
    PAIRING_TIMEOUT,
    QUOTA_EXCEEDED,
    REVOKED,
    UNKNOWN_TYPE,
    ProtocolError,
)
from devices.link_auth import (
    VerifierKeys,
    auth_message,
    check_proof,
    server_signature,
)
from devices.link_crypto import EphemeralKey, FrameOpener, FrameSealer, LinkKeys
from devices.media import MediaFrame, decode_media
from devices.protocol import (
    Ack,
    Challenge,
    ErrorMessage,
    Hello,
    Message,
    Proof,
    Welcome,
    decode,
    encode,
)
from devices.samples import SensorBatch, Status
from hub.wearables.link_pairing import LinkPairing, small_frame
from hub.wearables.service import DeviceService
from hub.wearables.sockets import LinkSocket, SealedSocket
from hub.wearables.store import DataFrame, DeviceNotPairedError
from hub.wearables.throttle import LinkThrottle

logger = logging.getLogger(__name__)

# One commit holds the database lock other links wait on: keep it to a few thousand rows.
MAX_FRAMES_PER_COMMIT = 256
MAX_SAMPLES_PER_COMMIT = 5000
CLOSE_CODES = {
    AUTH_FAILED: 1008,
    PAIRING_FAILED: 1008,
    REVOKED: 1008,
    FRAME_AUTH_FAILED: 1008,
    PAIRING_BUSY: 1008,
    FRAME_TOO_LARGE: 1009,
    HUB_BUSY: 1013,
    PAIRING_TIMEOUT: 1013,
    DISK_FULL: 1013,
    QUOTA_EXCEEDED: 1013,
}
AUTH_FAILED_MESSAGE = (
    "authentication failed: this device is not paired with this hub, was revoked, or proved "
    "the wrong secret; pair it (`hub devices pair ID --code CODE`) and reconnect"
)


QueuedFrame = tuple[DataFrame, int]  # a frame and its size on the wire


class QueueRoom:
    """The bytes a link's queue may still take: a reader waits for room, a commit frees it."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self._freed = asyncio.Event()

    async def reserve(self, size: int) -> None:
        """Wait until the queue holds less than its limit, then count ``size`` in (one frame
        larger than the limit still passes alone, so no frame is stuck forever)."""
        while self.used and self.used + size > self.limit:
            self._freed.clear()
            await self._freed.wait()
        self.used += size

    def release(self, size: int) -> None:
        """Frames of ``size`` bytes left the queue."""
        self.used = max(0, self.used - size)
        self._freed.set()


def _rows(frame: DataFrame) -> int:
    return frame.count if isinstance(frame, SensorBatch) else 1


class DeviceLink:
    """Serve one device link, whichever side dialed: handshake, then read, commit and
    acknowledge its frames."""

    def __init__(self, socket: LinkSocket, service: DeviceService) -> None:
        self.socket: LinkSocket = socket
        self.service = service
        self.throttle = LinkThrottle(service.max_samples_per_second, service.max_bytes_per_second)
        self._send_lock = asyncio.Lock()
        self._tasks: tuple[asyncio.Task[None], ...] = ()
        self._kicked: ErrorMessage | None = None

    async def run(self) -> bool:
        """Serve the link until the device leaves, breaks the protocol, or is cut off; True
        when the device got through the handshake. The caller counted the link in
        ``service.begin_handshake()``; it is uncounted when the handshake ends."""
        try:
            hello = await self._handshake()
        except ProtocolError as exc:
            await self._fail(ErrorMessage.of(exc))
            return False
        finally:
            self.service.end_handshake()
        if hello is None:
            return False
        await self.service.register(hello.device_id, self)
        try:
            await self._stream(hello.device_id)
        finally:
            self.service.unregister(hello.device_id, self)
        return True

    async def kick(self, error: ErrorMessage) -> None:
        """Cut the link off: stop reading and committing, then send ``error`` and close."""
        self._kicked = error
        for task in self._tasks:
            task.cancel()
        if not self._tasks:
            await self._fail(error)

    async def _handshake_frame(self) -> str | bytes | None:
        try:
            async with asyncio.timeout(self.service.handshake_timeout):
                return small_frame(await self._next_frame())
        except TimeoutError as exc:
            raise ProtocolError(
                HANDSHAKE_TIMEOUT,
                f"no handshake frame within {self.service.handshake_timeout:g} s; reconnect",
            ) from exc

    async def _handshake(self) -> Hello | None:
        raw = await self._handshake_frame()
        if raw is None:
            return None
        if isinstance(raw, bytes):
            raise ProtocolError(UNKNOWN_TYPE, "the first frame must be a hello text frame")
        hello = decode(raw)
        if not isinstance(hello, Hello):
            raise ProtocolError(UNKNOWN_TYPE, f"expected hello first, got {hello.TYPE}")
        if hello.waiting_to_pair and not await self._pair(hello):
            return None
        keys = await asyncio.to_thread(self.service.store.keys_for, hello.device_id)
        hub_nonce = secrets.token_bytes(32)
        link_key = EphemeralKey()
        await self._send(Challenge(hub_nonce, link_key.public))
        answer = await self._handshake_frame()
        if answer is None:
            return None
        proof = decode(answer) if isinstance(answer, str) else None
        if not isinstance(proof, Proof):
            raise ProtocolError(UNKNOWN_TYPE, "expected a proof frame after the challenge")
        message = auth_message(hello.device_id, hello.nonce, hub_nonce, hello.key, link_key.public)
        # Unknown ids are checked against random keys, so every refusal looks the same.
        checked = keys or VerifierKeys(secrets.token_bytes(32), secrets.token_bytes(32))
        if not check_proof(checked, message, proof.proof) or keys is None:
            logger.warning("device %s failed authentication", hello.device_id)
            raise ProtocolError(AUTH_FAILED, AUTH_FAILED_MESSAGE)
        frame_keys = LinkKeys.derive(link_key.shared(hello.key), keys.stored_key, message)
        # From here on every frame is sealed, both ways; the welcome is the first.
        self.socket = SealedSocket(
            self.socket,
            FrameSealer(frame_keys.hub_to_device),
            FrameOpener(frame_keys.device_to_hub),
        )
        acked = await asyncio.to_thread(self.service.store.acked_seq, hello.device_id)
        await self._send(Welcome(acked, server_signature(keys, message)))
        logger.info("device %s linked (acked seq %d)", hello.device_id, acked)
        return hello

    async def _pair(self, hello: Hello) -> bool:
        """Wait for the person to type the device's code and run the exchange it authenticates;
        True once the hub stored the device's keys."""
        return await LinkPairing(self.service, self._send, self._next_frame).run(hello)

    async def _stream(self, device_id: str) -> None:
        if self._kicked is not None:  # cut off between welcome and here
            return
        queue: asyncio.Queue[QueuedFrame | None] = asyncio.Queue(self.service.queue_frames)
        room = QueueRoom(self.service.queue_bytes)
        reader = asyncio.create_task(self._read_frames(queue, room))
        writer = asyncio.create_task(self._commit_frames(device_id, queue, room))
        self._tasks = (reader, writer)
        try:
            await asyncio.wait(self._tasks, return_when="FIRST_EXCEPTION")
        finally:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
        error = self._kicked
        for task in self._tasks:
            if task.cancelled() or task.exception() is None:
                continue
            exc = task.exception()
            if isinstance(exc, ProtocolError):
                error = error or ErrorMessage.of(exc)
            elif isinstance(exc, DeviceNotPairedError):
                error = error or ErrorMessage(AUTH_FAILED, AUTH_FAILED_MESSAGE)
            else:
                logger.error("device %s link failed", device_id, exc_info=exc)
                error = error or ErrorMessage("internal", "the hub failed; reconnect later")
        if error is not None:
            await self._fail(error)

    async def _read_frames(self, queue: asyncio.Queue[QueuedFrame | None], room: QueueRoom) -> None:
        last = 0
        while True:
            raw = await self._next_frame()
            if raw is None:
                await queue.put(None)
                return
            frame: Message | MediaFrame = (
                decode_media(raw) if isinstance(raw, bytes) else decode(raw)
            )
            if not isinstance(frame, SensorBatch | Status | MediaFrame):
                raise ProtocolError(
                    UNKNOWN_TYPE,
                    f"{frame.TYPE} is not allowed on an open link; "
                    "send sensor_batch, status, audio or camera frames",
                )
            if frame.seq <= last:
                raise ProtocolError(
                    BAD_SEQUENCE,
                    f"seq {frame.seq} is not above {last}, the previous frame's on this link; "
                    "send frames in increasing seq",
                    frame.seq,
                )
            last = frame.seq
            # Over its rates the link is not read for a while: TCP slows this device alone.
            await self.throttle.admit(_rows(frame), len(raw))
            # Over its queue's bytes the link is not read either: at most queue_bytes wait.
            await room.reserve(len(raw))
            await queue.put((frame, len(raw)))
            # Frames already buffered arrive without a pause; yield so other links get turns.
            await asyncio.sleep(0)

    async def _commit_frames(
        self, device_id: str, queue: asyncio.Queue[QueuedFrame | None], room: QueueRoom
    ) -> None:
        ended = False
        while not ended:
            first = await queue.get()
            if first is None:
                return
            batch = [first[0]]
            rows, size = _rows(first[0]), first[1]
            while (
                len(batch) < MAX_FRAMES_PER_COMMIT
                and rows < MAX_SAMPLES_PER_COMMIT
                and not queue.empty()
            ):
                queued = queue.get_nowait()
                if queued is None:
                    ended = True
                    break
                batch.append(queued[0])
                rows += _rows(queued[0])
                size += queued[1]
            acked, stored = await self.service.committer.commit(device_id, batch)
            room.release(size)
            self.service.notify_stored(device_id, stored)
            await self._send_ack(acked)

    async def _send_ack(self, seq: int) -> None:
        with suppress(Exception):  # the device may be gone; it resends what it has no ack for
            await self._send(Ack(seq))

    async def _next_frame(self) -> str | bytes | None:
        return await self.socket.receive()

    async def send_media(self, frame: bytes) -> None:
        """Send a binary frame to the device (a spoken reply; docs/device-protocol.md)."""
        async with self._send_lock:
            await self.socket.send_bytes(frame)

    async def _send(self, message: Message) -> None:
        async with self._send_lock:
            await self.socket.send_text(encode(message))

    async def _fail(self, error: ErrorMessage) -> None:
        if not self.socket.is_open():
            return
        with suppress(Exception):
            await self._send(error)
            await self.socket.close(CLOSE_CODES.get(error.code, 1002))
