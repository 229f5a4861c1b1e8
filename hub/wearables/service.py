"""DeviceService: the device store, devices waiting to pair, and the open links, made once."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from devices.discovery import DeviceAdvert
from devices.errors import REPLACED, REVOKED
from devices.link_auth import VerifierKeys
from devices.pairing import MAX_WAITING, PairingBook
from devices.protocol import ErrorMessage, Hello
from devices.samples import MAX_AHEAD_S
from hub.disk_space import DiskSpaceGuard
from hub.errors import HubError
from hub.wearables.admission import FrameAdmission
from hub.wearables.group_commit import GroupCommitter
from hub.wearables.listing import DeviceListing, MdnsEndpoint, Sighting, sightings
from hub.wearables.rates import StreamRates
from hub.wearables.retention import prune_forever
from hub.wearables.rollups import SampleRollup
from hub.wearables.store import DataFrame, DeviceRecord, DeviceStore, SampleQuery, StoredSample

logger = logging.getLogger(__name__)

# Unpaired devices remembered for the list; a flood of made-up ids cannot grow it further.
MAX_HEARD = 100
# Device adverts found on mDNS kept at once: anyone on the network can announce any number.
MAX_DISCOVERED = 256


class OpenLink(Protocol):
    """What the service needs of an authenticated link."""

    async def kick(self, error: ErrorMessage) -> None:
        """Send ``error`` and close the link."""


class IngestListener(Protocol):
    """Told of frames just committed (never of resent duplicates), e.g. to transcribe audio."""

    def frames_stored(self, device_id: str, frames: Sequence[DataFrame]) -> None:
        """Take note of the frames quickly (queue them); never block the device's link."""


class UnknownDeviceError(HubError, LookupError):
    """No device with that id was ever paired."""

    http_status = 404
    error_code = "device_not_found"


@dataclass
class DeviceService:
    """Everything the device routes and links share."""

    store: DeviceStore
    queue_frames: int = 64
    handshake_timeout: float = 10.0
    # Per-link limits (0: none); a link over them is read more slowly (docs: flow control).
    max_samples_per_second: float = 0.0
    max_bytes_per_second: float = 0.0
    queue_bytes: int = 16 * 1024 * 1024
    pairing_timeout: float = 300.0
    max_unauthenticated: int = 128
    rates: StreamRates = field(default_factory=StreamRates)
    pairing: PairingBook = field(default_factory=PairingBook)
    links: dict[str, OpenLink] = field(default_factory=dict)
    # Devices heard from but not paired (a hello with a code), by id: hello and when.
    heard: dict[str, tuple[Hello, float]] = field(default_factory=dict)
    # Devices found by mDNS, by service name; they change and disappear live.
    discovered: dict[str, tuple[DeviceAdvert, float]] = field(default_factory=dict)
    adverts_forgotten: int = 0  # to make room for newer ones (MAX_DISCOVERED)

    retention_days: float = 0.0
    # Told of every committed frame, after the commit; see IngestListener.
    listeners: list[IngestListener] = field(default_factory=list)
    # Checked before every commit: room on the disk, times not far ahead of the hub's clock.
    admission: FrameAdmission = field(default_factory=FrameAdmission)
    _pruning: asyncio.Task[None] | None = field(default=None, init=False, repr=False)
    # Every link commits through it: concurrent links share one transaction and disk sync.
    committer: GroupCommitter = field(init=False, repr=False)

    # Links still in their handshake (or waiting to pair): bounded before anyone proved anything.
    unauthenticated: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self.committer = GroupCommitter(self.store, self.admission)

    def begin_handshake(self) -> bool:
        """Count a new link in its handshake; False when too many are already (refuse it)."""
        if self.unauthenticated >= self.max_unauthenticated:
            return False
        self.unauthenticated += 1
        return True

    def end_handshake(self) -> None:
        """A link left its handshake (authenticated, refused or gone)."""
        self.unauthenticated = max(0, self.unauthenticated - 1)

    @classmethod
    def open(
        cls,
        data_dir: Path,
        queue_frames: int = 64,
        retention_days: float = 0.0,
        *,
        handshake_timeout: float = 10.0,
        max_samples_per_second: float = 0.0,
        max_bytes_per_second: float = 0.0,
        queue_bytes: int = 16 * 1024 * 1024,
        pairing_timeout: float = 300.0,
        max_waiting_to_pair: int = MAX_WAITING,
        max_unauthenticated: int = 128,
        disk_space: DiskSpaceGuard | None = None,
        max_clock_ahead_s: float = MAX_AHEAD_S,
        media_bytes_per_day: int = 0,
    ) -> DeviceService:
        """The service over devices.db in the data directory."""
        return cls(
            DeviceStore.open(data_dir),
            queue_frames=queue_frames,
            retention_days=retention_days,
            handshake_timeout=handshake_timeout,
            max_samples_per_second=max_samples_per_second,
            max_bytes_per_second=max_bytes_per_second,
            queue_bytes=queue_bytes,
            pairing_timeout=pairing_timeout,
            max_unauthenticated=max_unauthenticated,
            # The person's approval waits for the device's answer; the link gives up first.
            pairing=PairingBook(
                max_waiting=max_waiting_to_pair, answer_timeout=handshake_timeout + 5
            ),
            admission=FrameAdmission(disk_space, max_clock_ahead_s, media_bytes_per_day),
        )

    def add_listeners(self, listeners: Iterable[IngestListener]) -> None:
        """Tell ``listeners`` of every frame committed from now on."""
        self.listeners.extend(listeners)

    def start(self) -> None:
        """Start background work (the retention pass) in the running event loop."""
        if self.retention_days > 0 and self._pruning is None:
            self._pruning = asyncio.create_task(prune_forever(self.store, self.retention_days))

    def notify_stored(self, device_id: str, frames: Sequence[DataFrame]) -> None:
        """Hand newly committed frames to every listener; one failing listener spoils nothing."""
        if not frames:
            return
        self.rates.record(device_id, frames)
        for listener in self.listeners:
            try:
                listener.frames_stored(device_id, frames)
            except Exception:
                logger.exception("ingest listener %r failed", listener)

    async def pair(self, device_id: str, code: str) -> None:
        """Approve a waiting device with the code it shows; raises PairingError when refused."""
        request, secret = await self.pairing.approve(device_id, code)
        try:
            await asyncio.to_thread(
                self.store.save_pairing, request.hello, VerifierKeys.from_secret(secret)
            )
        except Exception as exc:
            if not request.stored.done():
                request.stored.set_exception(exc)
            raise
        self.heard.pop(device_id, None)
        old = self.links.get(device_id)
        if old is not None:
            await old.kick(ErrorMessage(REPLACED, "this device was paired again; reconnect"))
        if not request.stored.done():
            request.stored.set_result(None)
        logger.info("paired device %s", device_id)

    async def revoke(self, device_id: str) -> None:
        """Forget the device's keys and close its open link at once."""
        if not await asyncio.to_thread(self.store.revoke, device_id):
            raise UnknownDeviceError(
                f"no paired device {device_id!r}; see `hub devices list` for the ids"
            )
        link = self.links.get(device_id)
        if link is not None:
            await link.kick(
                ErrorMessage(REVOKED, "the owner revoked this device; pair it again to reconnect")
            )
        logger.info("revoked device %s", device_id)

    async def register(self, device_id: str, link: OpenLink) -> None:
        """Note the device's authenticated link; an older one for the same device is closed."""
        old = self.links.get(device_id)
        self.links[device_id] = link
        if old is not None and old is not link:
            await old.kick(ErrorMessage(REPLACED, "a newer link of this device took over"))

    def unregister(self, device_id: str, link: OpenLink) -> None:
        """Forget the link when it ends."""
        if self.links.get(device_id) is link:
            del self.links[device_id]

    def note_heard(self, hello: Hello) -> None:
        """Remember an unpaired device that said hello, to list it (the newest few only)."""
        self.heard.pop(hello.device_id, None)
        self.heard[hello.device_id] = (hello, time.time())
        while len(self.heard) > MAX_HEARD:
            del self.heard[next(iter(self.heard))]  # oldest first: dicts keep insertion order

    def note_advert(self, name: str, advert: DeviceAdvert) -> list[str]:
        """A device's mDNS record appeared or changed; returns the names forgotten to make room
        (the oldest first, a device with an open link last), which the dialer forgets too."""
        self.discovered.pop(name, None)
        self.discovered[name] = (advert, time.time())  # last: dicts keep insertion order
        forgotten: list[str] = []
        while len(self.discovered) > MAX_DISCOVERED:
            unlinked = (n for n, (a, _) in self.discovered.items() if a.device_id not in self.links)
            oldest = next(unlinked, next(iter(self.discovered)))
            del self.discovered[oldest]
            forgotten.append(oldest)
        for _ in forgotten:
            self.adverts_forgotten += 1
            if self.adverts_forgotten % 1000 == 1:  # a flood would flood the log too
                logger.warning(
                    "mDNS: more than %d device adverts (a flood?); forgetting the oldest",
                    MAX_DISCOVERED,
                )
        return forgotten

    def forget_advert(self, name: str) -> None:
        """A device's mDNS record went away."""
        self.discovered.pop(name, None)

    async def list_devices(self) -> list[DeviceListing]:
        """Paired, revoked and discovered devices, with status, last seen and battery."""
        records = await asyncio.to_thread(self.store.devices)
        adverts = {advert.device_id: (advert, seen) for advert, seen in self.discovered.values()}
        waiting = {hello.device_id for hello in self.pairing.waiting()}
        known = {record.id for record in records}
        listed: list[DeviceRecord | Sighting] = [*records]
        listed += (s for s in sightings(self.heard, adverts, waiting) if s.id not in known)
        return [self._listing(device, adverts.get(device.id), waiting) for device in listed]

    def _listing(
        self,
        device: DeviceRecord | Sighting,
        advert_seen: tuple[DeviceAdvert, float] | None,
        waiting: set[str],
    ) -> DeviceListing:
        advert = advert_seen[0] if advert_seen else None
        # A revoked device that asks to pair again keeps its status but shows that it asks.
        asks = bool(advert and advert.waiting_to_pair and device.status != "paired")
        return DeviceListing(
            device,
            connected=device.id in self.links,
            rates=self.rates.read(device.id),
            waiting_to_pair=device.id in waiting or asks,
            mdns=None if advert is None else MdnsEndpoint(advert.address, advert.port),
        )

    async def samples(self, query: SampleQuery) -> list[StoredSample] | list[SampleRollup]:
        """Stored samples of one device, or their rollups at a coarser resolution."""
        return await asyncio.to_thread(self.store.samples, query)

    async def close(self) -> None:
        """Close every link, then the database."""
        if self._pruning is not None:
            self._pruning.cancel()
            await asyncio.gather(self._pruning, return_exceptions=True)
        for link in list(self.links.values()):
            await link.kick(ErrorMessage("shutting_down", "the hub is stopping; reconnect later"))
        await asyncio.to_thread(self.store.close)
