"""mDNS discovery with zeroconf: the hub advertises `_wnas-hub._tcp.local.` and browses
`_wnas-device._tcp.local.`; devices advertise themselves with TXT records."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from zeroconf import InterfaceChoice, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from devices.protocol import PROTOCOL_VERSION

logger = logging.getLogger(__name__)

HUB_SERVICE = "_wnas-hub._tcp.local."
DEVICE_SERVICE = "_wnas-device._tcp.local."
LOOKUP_MS = 3000
# Lookups under way at once: each name announced starts one, and anyone can announce many.
MAX_LOOKUPS = 256


@dataclass(frozen=True)
class DeviceAdvert:
    """What a device's mDNS record says (TXT: id, kind, model, caps, proto, pairing)."""

    device_id: str
    kind: str
    model: str
    capabilities: tuple[str, ...]
    waiting_to_pair: bool
    address: str | None = None
    port: int = 0
    protocol: int = PROTOCOL_VERSION

    def properties(self) -> dict[str, str]:
        """The TXT records."""
        return {
            "id": self.device_id,
            "kind": self.kind,
            "model": self.model,
            "caps": ",".join(self.capabilities),
            "proto": str(self.protocol),
            "pairing": "1" if self.waiting_to_pair else "0",
        }

    @classmethod
    def from_info(cls, info: AsyncServiceInfo) -> DeviceAdvert | None:
        """Read an advert, or None when its TXT records are not a device's."""
        txt = {
            key.decode(errors="replace"): (value or b"").decode(errors="replace")
            for key, value in info.properties.items()
        }
        if not txt.get("id"):
            return None
        addresses = info.parsed_addresses()
        return cls(
            device_id=txt["id"][:64],
            kind=txt.get("kind", "")[:20],
            model=txt.get("model", "")[:100],
            capabilities=tuple(c for c in txt.get("caps", "").split(",") if c)[:32],
            waiting_to_pair=txt.get("pairing") == "1",
            address=addresses[0] if addresses else None,
            port=info.port or 0,
            protocol=int(txt["proto"]) if txt.get("proto", "").isdigit() else 0,
        )


def parse_interfaces(text: str) -> list[str] | None:
    """'127.0.0.1,192.168.1.5' as a list; None (every interface) when empty."""
    items = [part.strip() for part in text.split(",") if part.strip()]
    return items or None


def _service_info(
    kind: str, name: str, address: str, port: int, properties: dict[str, str]
) -> AsyncServiceInfo:
    return AsyncServiceInfo(
        kind,
        f"{name}.{kind}",
        addresses=[socket.inet_aton(address)],
        port=port,
        properties=properties,
        server=f"{name}.local.",
    )


def open_zeroconf(interfaces: Sequence[str] | None) -> AsyncZeroconf:
    """A zeroconf instance on the given interface addresses, or on every interface."""
    if interfaces:
        chosen: list[str | int | tuple[tuple[str, int, int], int]] = list(interfaces)
        return AsyncZeroconf(interfaces=chosen)
    return AsyncZeroconf(interfaces=InterfaceChoice.All)


class Advertiser:
    """One registered service on its own zeroconf instance; update it or withdraw it."""

    def __init__(self, interfaces: Sequence[str] | None) -> None:
        self._zeroconf = open_zeroconf(interfaces)
        self._info: AsyncServiceInfo | None = None
        self._lock = asyncio.Lock()

    async def publish(
        self, kind: str, name: str, address: str, port: int, properties: dict[str, str]
    ) -> None:
        """Register the service, or update it when already registered."""
        info = _service_info(kind, name, address, port, properties)
        async with self._lock:  # a change may come while the first registration still probes
            # Each call returns the broadcast still under way; the second await waits for it.
            if self._info is None:
                await (await self._zeroconf.async_register_service(info, allow_name_change=True))
            else:
                await (await self._zeroconf.async_update_service(info))
            self._info = info

    async def close(self) -> None:
        """Withdraw the service and stop."""
        async with self._lock:
            pass
        if self._info is not None:
            await (await self._zeroconf.async_unregister_service(self._info))
        await self._zeroconf.async_close()


class DeviceBrowser:
    """Watch `_wnas-device._tcp.local.` and report devices as they appear, change and leave."""

    def __init__(
        self,
        interfaces: Sequence[str] | None,
        on_seen: Callable[[str, DeviceAdvert], None],
        on_gone: Callable[[str], None],
    ) -> None:
        self._zeroconf = open_zeroconf(interfaces)
        self._on_seen = on_seen
        self._on_gone = on_gone
        self._lookups: set[asyncio.Task[None]] = set()
        self._browser = AsyncServiceBrowser(
            self._zeroconf.zeroconf, [DEVICE_SERVICE], handlers=[self._changed]
        )

    def _changed(
        self,
        zeroconf: Zeroconf,
        service_type: str,
        name: str,
        state_change: ServiceStateChange,
    ) -> None:
        if state_change is ServiceStateChange.Removed:
            self._on_gone(name)
            return
        if len(self._lookups) >= MAX_LOOKUPS:
            logger.debug("mDNS: %d lookups under way; not looking up %s", MAX_LOOKUPS, name)
            return
        task = asyncio.get_running_loop().create_task(self._look_up(service_type, name))
        self._lookups.add(task)
        task.add_done_callback(self._lookups.discard)

    async def _look_up(self, service_type: str, name: str) -> None:
        info = AsyncServiceInfo(service_type, name)
        try:
            if not await info.async_request(self._zeroconf.zeroconf, LOOKUP_MS):
                return
            advert = DeviceAdvert.from_info(info)
        except Exception:
            logger.exception("could not read the mDNS record %s", name)
            return
        if advert is not None:
            self._on_seen(name, advert)

    async def close(self) -> None:
        """Stop browsing."""
        for task in list(self._lookups):
            task.cancel()
        await self._browser.async_cancel()
        await self._zeroconf.async_close()


async def find_hub(
    interfaces: Sequence[str] | None,
    timeout: float = 10.0,
    accept: Callable[[str], bool] = lambda address: True,
) -> str | None:
    """The address (http://host:port) of the first hub on mDNS that ``accept`` takes, or None."""
    zeroconf = open_zeroconf(interfaces)
    found: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    lookups: set[asyncio.Task[None]] = set()

    async def look_up(name: str) -> None:
        info = AsyncServiceInfo(HUB_SERVICE, name)
        if not await info.async_request(zeroconf.zeroconf, LOOKUP_MS):
            return
        addresses = info.parsed_addresses()
        address = f"http://{addresses[0]}:{info.port}" if addresses else ""
        if address and accept(address) and not found.done():
            found.set_result(address)

    def changed(
        zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange
    ) -> None:
        if state_change is not ServiceStateChange.Removed:
            task = asyncio.get_running_loop().create_task(look_up(name))
            lookups.add(task)
            task.add_done_callback(lookups.discard)

    browser = AsyncServiceBrowser(zeroconf.zeroconf, [HUB_SERVICE], handlers=[changed])
    try:
        return await asyncio.wait_for(found, timeout)
    except TimeoutError:
        return None
    finally:
        for task in list(lookups):
            task.cancel()
        await browser.async_cancel()
        await zeroconf.async_close()
