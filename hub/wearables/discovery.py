"""The hub on mDNS: advertise `_wnas-hub._tcp.local.`, list `_wnas-device._tcp.local.` devices."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from dataclasses import dataclass

from devices.discovery import (
    HUB_SERVICE,
    Advertiser,
    DeviceAdvert,
    DeviceBrowser,
    parse_interfaces,
)
from devices.protocol import PROTOCOL_VERSION
from hub.settings import Settings
from hub.wearables.dialer import DeviceDialer
from hub.wearables.service import DeviceService

logger = logging.getLogger(__name__)


def advertised_address(settings: Settings, interfaces: list[str] | None) -> str:
    """The IPv4 address devices should dial: the listen address, else the first interface."""
    try:
        if not ipaddress.ip_address(settings.host).is_unspecified:
            return settings.host
    except ValueError:
        pass
    if interfaces:
        return interfaces[0]
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"


MDNS_OFF_HINT = (
    "mDNS is off (%s); devices can still dial the hub. Set HUB_MDNS_INTERFACES to this "
    "machine's address, or HUB_MDNS_ENABLED=false to silence this"
)


async def _publish(
    advertiser: Advertiser, settings: Settings, interfaces: list[str] | None
) -> None:
    try:
        await advertiser.publish(
            HUB_SERVICE,
            f"walking-nas-{socket.gethostname()}-{settings.port}",
            advertised_address(settings, interfaces),
            settings.port,
            {"proto": str(PROTOCOL_VERSION), "path": "/v1/devices/link"},
        )
        logger.info("mDNS: advertising %s", HUB_SERVICE)
    except Exception as exc:
        logger.warning(MDNS_OFF_HINT, exc)


@dataclass
class HubDiscovery:
    """The hub's advert, its device browser and the dialer of found devices, started and
    stopped with the app."""

    advertiser: Advertiser
    browser: DeviceBrowser
    publishing: asyncio.Task[None]
    dialer: DeviceDialer

    @classmethod
    async def start(cls, settings: Settings, devices: DeviceService) -> HubDiscovery | None:
        """Start both, or log why not and return None (the hub works without mDNS)."""
        interfaces = parse_interfaces(settings.mdns_interfaces)
        dialer = DeviceDialer(devices, settings.device_dial_max_backoff)

        def seen(name: str, advert: DeviceAdvert) -> None:
            forgotten = devices.note_advert(name, advert)
            for old in forgotten:
                dialer.advert_gone(old)
            if name not in forgotten:
                dialer.advert_seen(name, advert)

        def gone(name: str) -> None:
            devices.forget_advert(name)
            dialer.advert_gone(name)

        try:
            advertiser = Advertiser(interfaces)
            browser = DeviceBrowser(interfaces, seen, gone)
        except Exception as exc:
            logger.warning(MDNS_OFF_HINT, exc)
            return None
        # Probing the name takes over a second: the hub serves meanwhile.
        publishing = asyncio.create_task(_publish(advertiser, settings, interfaces))
        return cls(advertiser, browser, publishing, dialer)

    async def stop(self) -> None:
        """Withdraw the advert, stop browsing and dialing."""
        self.publishing.cancel()
        await asyncio.gather(self.publishing, return_exceptions=True)
        await self.browser.close()
        await self.dialer.stop()
        await self.advertiser.close()
