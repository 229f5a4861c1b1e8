"""SatelliteManager: Wyoming satellites found on mDNS (`_wyoming._tcp.local.`) or added by
address; the hub listens only to those the person approved, one SatelliteLink each."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace

from zeroconf import ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from devices.discovery import LOOKUP_MS, MAX_LOOKUPS, open_zeroconf
from hub.voice.satellite_link import LinkState, SatelliteLink, SatelliteVoice
from hub.voice.satellite_store import Satellite, SatelliteStore

logger = logging.getLogger(__name__)

WYOMING_SERVICE = "_wyoming._tcp.local."


def satellite_id_of(service_name: str) -> str:
    """The instance part of an mDNS service name ("kitchen._wyoming._tcp.local." -> "kitchen")."""
    return service_name.removesuffix("." + WYOMING_SERVICE)[:100]


@dataclass(frozen=True)
class SatelliteStatus:
    """A known satellite and its link's state (a copy; a fresh ``LinkState`` when no link
    runs: not connected, nothing done)."""

    satellite: Satellite
    link: LinkState


class SatelliteManager:
    """The known satellites and a running link for each approved one."""

    def __init__(self, store: SatelliteStore, voice: SatelliteVoice) -> None:
        self.store = store
        self.voice = voice
        self.links: dict[str, tuple[SatelliteLink, asyncio.Task[None]]] = {}
        self._zeroconf: AsyncZeroconf | None = None
        self._browser: AsyncServiceBrowser | None = None
        self._lookups: set[asyncio.Task[None]] = set()

    async def start(self, browse: bool, interfaces: Sequence[str] | None) -> None:
        """Link every approved satellite; browse mDNS for more when ``browse``."""
        for satellite in await asyncio.to_thread(self.store.all):
            if satellite.status == "approved":
                self._link(satellite)
        if not browse:
            return
        try:
            self._zeroconf = open_zeroconf(interfaces)
            self._browser = AsyncServiceBrowser(
                self._zeroconf.zeroconf, [WYOMING_SERVICE], handlers=[self._changed]
            )
        except Exception as exc:
            logger.warning("not looking for Wyoming satellites on mDNS (%s)", exc)

    def _changed(
        self, zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange
    ) -> None:
        if state_change is ServiceStateChange.Removed:
            return  # an approved satellite keeps being retried: it may only be restarting
        if len(self._lookups) >= MAX_LOOKUPS:  # a flood of announcements: let it pass
            logger.debug("mDNS: %d lookups under way; not looking up %s", MAX_LOOKUPS, name)
            return
        task = asyncio.get_running_loop().create_task(self._look_up(name))
        self._lookups.add(task)
        task.add_done_callback(self._lookups.discard)

    async def _look_up(self, name: str) -> None:
        if self._zeroconf is None:
            return
        info = AsyncServiceInfo(WYOMING_SERVICE, name)
        try:
            if not await info.async_request(self._zeroconf.zeroconf, LOOKUP_MS):
                return
            addresses = info.parsed_addresses()
            if not addresses or not info.port:
                return
            satellite = await asyncio.to_thread(
                self.store.seen,
                satellite_id_of(name),
                satellite_id_of(name),
                addresses[0],
                info.port,
            )
        except Exception:
            logger.exception("could not read the mDNS record %s", name)
            return
        running = self.links.get(satellite.id)
        if running is not None and (running[0].satellite.host, running[0].satellite.port) != (
            satellite.host,
            satellite.port,
        ):
            await self._unlink(satellite.id)  # it moved: approved for the old address only
        if satellite.status == "approved":
            self._link(satellite)

    def _link(self, satellite: Satellite) -> None:
        if satellite.id in self.links:
            return
        link = SatelliteLink(satellite, self.voice)
        task = asyncio.create_task(link.run_forever(), name=f"satellite {satellite.id}")
        self.links[satellite.id] = (link, task)

    async def _unlink(self, satellite_id: str) -> None:
        running = self.links.pop(satellite_id, None)
        if running is not None:
            running[1].cancel()
            await asyncio.gather(running[1], return_exceptions=True)

    async def approve(self, satellite_id: str) -> Satellite:
        """The person approves: the hub connects and listens from now on."""
        satellite = await asyncio.to_thread(self.store.set_status, satellite_id, "approved")
        self._link(satellite)
        logger.info("satellite %s approved", satellite_id)
        return satellite

    async def revoke(self, satellite_id: str) -> Satellite:
        """Stop listening at once and forget the approval."""
        satellite = await asyncio.to_thread(self.store.set_status, satellite_id, "revoked")
        await self._unlink(satellite_id)
        logger.info("satellite %s revoked", satellite_id)
        return satellite

    async def add(self, name: str, host: str, port: int) -> Satellite:
        """A satellite by address (approved, since the person typed it)."""
        satellite = await asyncio.to_thread(self.store.add, name, host, port)
        self._link(satellite)
        return satellite

    async def list(self) -> list[SatelliteStatus]:
        """Every satellite with its link's state, by id."""
        rows = []
        for satellite in await asyncio.to_thread(self.store.all):
            running = self.links.get(satellite.id)
            link = replace(running[0].state) if running else LinkState()
            rows.append(SatelliteStatus(satellite, link))
        return rows

    async def close(self) -> None:
        """Stop browsing and every link, then close voice.db."""
        for task in list(self._lookups):
            task.cancel()
        if self._browser is not None:
            await self._browser.async_cancel()
        if self._zeroconf is not None:
            await self._zeroconf.async_close()
        for satellite_id in list(self.links):
            await self._unlink(satellite_id)
        await asyncio.to_thread(self.store.close)
