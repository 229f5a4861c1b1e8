"""Bluetooth LE bridges on the hub: a strap's or an Omi pendant's radio address kept beside its
bridge record, and, while the hub runs with ``ble_enabled``, one reconnect loop per working
bridge: heart-rate readings into the bridge store, Omi audio into the speech pipeline."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass

from devices.ble.bleak_backend import bleak_client, bleak_installed
from devices.ble.connection import ClientFactory, NotificationReader, ReconnectLoop
from devices.ble.readers import (
    AudioChunk,
    AudioSink,
    HeartRateReader,
    OmiAudioReader,
    SampleSink,
)
from devices.bridge_samples import BridgeSample
from devices.media import MediaFrame
from hub.bridges.errors import BridgeRevokedError
from hub.bridges.kinds import bridge_kind
from hub.bridges.secrets import SecretHashes, new_secret
from hub.bridges.service import BridgeService
from hub.bridges.store import BridgeRecord, BridgeStore
from hub.errors import HubError
from hub.wearables.service import IngestListener

logger = logging.getLogger(__name__)

# `hub bridges ble add --kind` -> the bridge kind of hub/bridges/kinds.py.
BLE_KINDS = {"heart-rate": "ble-heart-rate", "omi": "omi-ble"}
# A MAC address (Linux, Windows), or the UUID macOS gives a device in its place.
_ADDRESS = re.compile(
    r"(?i)^([0-9a-f]{2}:){5}[0-9a-f]{2}$|^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$"
)
# How often the running hub looks for bridges added or revoked since (the CLI writes devices.db).
REFRESH_SECONDS = 15.0
# An Omi bridge's "last seen" is written at most this often while it streams.
TOUCH_SECONDS = 30.0
# How long stopping waits for a loop to close its connection before cancelling it.
STOP_SECONDS = 5.0


class BadBleAddressError(HubError):
    """Not a Bluetooth address; the message shows the forms that are."""

    http_status = 422
    error_code = "bad_ble_address"


@dataclass(frozen=True)
class BleBridge:
    """A working Bluetooth LE bridge and the radio address it reads from."""

    record: BridgeRecord
    address: str


def checked_address(address: str) -> str:
    """``address`` in the form the radio uses (upper case), or BadBleAddressError."""
    address = address.strip()
    if not _ADDRESS.match(address):
        raise BadBleAddressError(
            f"{address!r} is not a Bluetooth address: expected one like C8:FD:19:4A:0B:21 (or on "
            "macOS a UUID); `hub bridges ble scan` lists the devices nearby"
        )
    return address.upper()


def add_ble_bridge(store: BridgeStore, kind: str, name: str, address: str) -> BleBridge:
    """Add a bridge for the device at ``address``; ``kind`` is "heart-rate" or "omi". Blocking.

    A BLE bridge has a secret like every bridge, but nothing presents it: the hub dials out."""
    bridge_name = BLE_KINDS.get(kind)
    if bridge_name is None:
        raise BadBleAddressError(
            f"no Bluetooth bridge kind {kind!r}; use one of: {', '.join(BLE_KINDS)}"
        )
    address = checked_address(address)
    record = store.add(
        bridge_kind(bridge_name), name.strip() or f"{kind} {address}", SecretHashes.of(new_secret())
    )
    with store.devices.database.transaction() as db:
        db.execute(
            "INSERT INTO ble_bridges (device_id, address) VALUES (?, ?)", [record.id, address]
        )
    return BleBridge(record, address)


def working_ble_bridges(store: BridgeStore) -> list[BleBridge]:
    """Every Bluetooth LE bridge not revoked. Blocking."""
    with store.devices.database.reading() as db:
        rows = db.execute("SELECT device_id, address FROM ble_bridges").fetchall()
    addresses = dict(rows)
    return [
        BleBridge(record, addresses[record.id])
        for record in store.bridges()
        if record.id in addresses and record.status == "paired"
    ]


class BleBridges:
    """One reconnect loop per working Bluetooth LE bridge, started and stopped as bridges are
    added and revoked."""

    def __init__(
        self,
        bridges: BridgeService,
        audio: IngestListener | None,
        connect_client: ClientFactory = bleak_client,
        refresh_seconds: float = REFRESH_SECONDS,
    ) -> None:
        self.bridges = bridges
        self.audio = audio
        self.connect_client = connect_client
        self.refresh_seconds = refresh_seconds
        self.loops: dict[str, tuple[ReconnectLoop, asyncio.Task[None]]] = {}
        self._watch: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    @classmethod
    async def start(cls, bridges: BridgeService, audio: IngestListener | None) -> BleBridges | None:
        """Start, or None (logged) when bleak is not installed."""
        if not bleak_installed():
            logger.warning(
                "HUB_BLE_ENABLED is on but bleak is not installed: Bluetooth LE bridges stay "
                "off (pip install 'walking-nas[ble]')"
            )
            return None
        service = cls(bridges, audio)
        await service.begin()
        return service

    async def begin(self) -> None:
        """Connect every working bridge, and watch for new and revoked ones."""
        await self.refresh()
        self._watch = asyncio.create_task(self._watch_bridges(), name="ble-bridges")

    async def refresh(self) -> None:
        """Start loops for bridges added since, stop those of bridges revoked since."""
        wanted = {b.record.id: b for b in await asyncio.to_thread(working_ble_bridges, self.store)}
        for device_id in [d for d in self.loops if d not in wanted]:
            await self._stop_loop(device_id)
        for device_id, bridge in wanted.items():
            if device_id not in self.loops:
                self._start_loop(bridge)

    @property
    def store(self) -> BridgeStore:
        """The bridge records."""
        return self.bridges.store

    async def stop(self) -> None:
        """Stop watching and close every connection."""
        self._stopping.set()
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        for device_id in list(self.loops):
            await self._stop_loop(device_id)

    async def _watch_bridges(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.refresh_seconds)
            if self._stopping.is_set():
                return
            try:
                await self.refresh()
            except Exception:
                logger.exception("looking for Bluetooth LE bridges failed")

    def _start_loop(self, bridge: BleBridge) -> None:
        device_id = bridge.record.id
        reader: NotificationReader
        if bridge.record.kind == BLE_KINDS["omi"]:
            reader = OmiAudioReader(self._audio_sink(device_id))
        else:
            reader = HeartRateReader(bridge.address, self._sample_sink(device_id))

        async def still_working() -> bool:
            record = await asyncio.to_thread(self.store.get, device_id)
            return record is not None and record.status == "paired"

        loop = ReconnectLoop(bridge.address, self.connect_client, reader, keep_going=still_working)
        task = asyncio.create_task(loop.run(), name=f"ble-{device_id}")
        self.loops[device_id] = (loop, task)
        logger.info("Bluetooth LE bridge %s: reading %s", device_id, bridge.address)

    async def _stop_loop(self, device_id: str) -> None:
        loop, task = self.loops.pop(device_id)
        loop.stop()
        try:
            await asyncio.wait_for(asyncio.shield(task), STOP_SECONDS)
        except TimeoutError:  # a connect still under way: bleak gives up only at its timeout
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        except Exception:
            logger.exception("Bluetooth LE bridge %s ended with an error", device_id)

    def _sample_sink(self, device_id: str) -> SampleSink:
        async def store(samples: Sequence[BridgeSample]) -> int:
            try:
                return await self.bridges.store_samples(device_id, samples)
            except BridgeRevokedError:
                entry = self.loops.get(device_id)
                if entry is not None:
                    entry[0].stop()  # revoked while connected: no more readings
                return 0

        return store

    def _audio_sink(self, device_id: str) -> AudioSink:
        counter = itertools.count(1)
        touched: float | None = None

        async def hear(chunk: AudioChunk) -> None:
            nonlocal touched
            if self.audio is not None:  # the speech pipeline transcribes it like a device's
                frame = MediaFrame("audio", next(counter), chunk.t, chunk.pcm)
                self.audio.frames_stored(device_id, [frame])
            if touched is None or time.monotonic() - touched >= TOUCH_SECONDS:
                touched = time.monotonic()
                await self.bridges.touch(device_id)

        return hear
