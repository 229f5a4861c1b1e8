"""DeviceDialer: the hub dials each paired (or waiting-to-pair) device that serves an endpoint,
found by mDNS, and redials with capped exponential backoff and jitter when the link is lost."""

from __future__ import annotations

import asyncio
import logging
import random
from contextlib import suppress

from websockets.asyncio.client import connect
from websockets.exceptions import InvalidHandshake, InvalidURI

from devices.discovery import DeviceAdvert
from devices.errors import SHUTTING_DOWN
from devices.link_crypto import MAX_LINK_FRAME
from devices.protocol import ErrorMessage
from hub.wearables.link import DeviceLink
from hub.wearables.service import DeviceService
from hub.wearables.sockets import DialedSocket

logger = logging.getLogger(__name__)

FIRST_PAUSE_S = 0.5
# Anyone on the network can advertise devices waiting to pair: bound how many the hub dials.
MAX_DIALED_DEVICES = 64
# The largest frame the protocol allows (a sealed media frame) and a little room.
MAX_DIALED_FRAME = MAX_LINK_FRAME


def endpoint_url(advert: DeviceAdvert) -> str:
    """The device's link address from its advert (the device serves the link at '/')."""
    host = advert.address or ""
    return f"ws://[{host}]:{advert.port}/" if ":" in host else f"ws://{host}:{advert.port}/"


def dialable(advert: DeviceAdvert) -> bool:
    """True when the advert names an endpoint (port 0: the device dials the hub instead)."""
    return bool(advert.address) and 0 < advert.port < 65536


class DeviceDialer:
    """One task per dialable device keeps one link open; a link the device dialed counts too."""

    def __init__(
        self,
        service: DeviceService,
        max_backoff: float = 30.0,
        first_pause: float = FIRST_PAUSE_S,
        rng: random.Random | None = None,
    ) -> None:
        self.service = service
        self.max_backoff = max_backoff
        self.first_pause = min(first_pause, max_backoff)
        self._rng = rng or random.Random()
        self._adverts: dict[str, DeviceAdvert] = {}  # by device id
        self._ids: dict[str, str] = {}  # mDNS service name -> device id
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._wake: dict[str, asyncio.Event] = {}
        self._links: dict[str, DeviceLink] = {}
        self._closing = False

    def backoff(self, failures: int) -> float:
        """Seconds to wait after ``failures`` failed tries in a row: doubling from the first
        pause up to the cap, then a random point in its upper half so many hubs (or many
        devices coming back after an outage) do not retry in step."""
        ceiling = min(self.max_backoff, self.first_pause * 2 ** min(failures, 30))
        return self._rng.uniform(ceiling / 2, ceiling)

    def advert_seen(self, name: str, advert: DeviceAdvert) -> None:
        """A device's mDNS record appeared or changed: (re)start dialing it if it serves one."""
        if self._closing:
            return
        self._ids[name] = advert.device_id
        if not dialable(advert):
            self._adverts.pop(advert.device_id, None)
            return
        task = self._tasks.get(advert.device_id)
        if task is None or task.done():
            self._tasks = {key: t for key, t in self._tasks.items() if not t.done()}
            if len(self._tasks) >= MAX_DIALED_DEVICES:
                logger.warning("not dialing %s: already dialing %d devices", name, len(self._tasks))
                return
        self._adverts[advert.device_id] = advert
        wake = self._wake.setdefault(advert.device_id, asyncio.Event())
        wake.set()  # a new address or state is worth trying at once
        task = self._tasks.get(advert.device_id)
        if task is None or task.done():
            self._tasks[advert.device_id] = asyncio.get_running_loop().create_task(
                self._keep_linked(advert.device_id)
            )

    def advert_gone(self, name: str) -> None:
        """A device's mDNS record went away: stop redialing it (an open link stays)."""
        device_id = self._ids.pop(name, None)
        if device_id is not None and device_id not in self._ids.values():
            self._adverts.pop(device_id, None)
            event = self._wake.get(device_id)
            if event is not None:
                event.set()

    async def _wanted(self, device_id: str, advert: DeviceAdvert) -> bool:
        if advert.waiting_to_pair:
            return True  # its hello carries the code the person will type into this hub
        keys = await asyncio.to_thread(self.service.store.keys_for, device_id)
        return keys is not None

    async def _keep_linked(self, device_id: str) -> None:
        """Dial, serve the link, pause, dial again; cancellation ends it, errors do not."""
        try:
            await self._dial_until_unwanted(device_id)
        finally:
            # Nothing stays behind for a device no longer dialed: made-up adverts cannot grow it.
            self._wake.pop(device_id, None)

    async def _dial_until_unwanted(self, device_id: str) -> None:
        failures = 0
        while not self._closing:
            advert = self._adverts.get(device_id)
            try:
                if advert is None or not await self._wanted(device_id, advert):
                    return
                if device_id in self.service.links:
                    # The device dialed in (or a link is still closing): never two live links.
                    await self._pause(device_id, self.first_pause)
                    continue
                linked = await self._dial(device_id, advert)
            except Exception:
                logger.exception("dialing device %s failed", device_id)
                linked = False
            failures = 0 if linked else failures + 1
            await self._pause(device_id, self.backoff(failures))

    async def _pause(self, device_id: str, seconds: float) -> None:
        wake = self._wake.setdefault(device_id, asyncio.Event())
        wake.clear()
        with suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), seconds)

    async def _dial(self, device_id: str, advert: DeviceAdvert) -> bool:
        url = endpoint_url(advert)
        if not self.service.begin_handshake():
            logger.info("not dialing device %s now: too many links in their handshake", device_id)
            return False
        try:
            connection = await connect(
                url,
                open_timeout=self.service.handshake_timeout,
                max_size=MAX_DIALED_FRAME,
                proxy=None,
            )
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
            self.service.end_handshake()
            logger.info("device %s not reachable at %s (%s)", device_id, url, exc)
            return False
        link = DeviceLink(DialedSocket(connection), self.service)
        self._links[device_id] = link
        try:
            linked = await link.run()
        except Exception:
            logger.exception("link to device %s at %s failed", device_id, url)
            linked = False
        finally:
            self._links.pop(device_id, None)
            await connection.close()
        logger.info("link to device %s at %s ended", device_id, url)
        return linked

    async def stop(self) -> None:
        """Stop dialing; tell devices on dialed links the hub is stopping, then close them."""
        self._closing = True
        for event in self._wake.values():
            event.set()
        stopping = ErrorMessage(SHUTTING_DOWN, "the hub is stopping; it will dial again")
        for link in list(self._links.values()):
            await link.kick(stopping)
        tasks = list(self._tasks.values())
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=5)
            for task in pending:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
