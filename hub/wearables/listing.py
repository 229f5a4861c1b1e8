"""The device list: devices paired at some time, devices only heard from or advertised, and
what the running hub knows of each now (its link, stream rates, mDNS record)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from devices.discovery import DeviceAdvert
from devices.protocol import Hello
from hub.wearables.rates import StreamRateReading
from hub.wearables.store import DeviceRecord


@dataclass(frozen=True)
class Sighting:
    """A device never paired that said hello or advertised itself on the network."""

    id: str
    kind: str
    model: str
    capabilities: tuple[str, ...]
    status: str  # "discovered" or "waiting_to_pair"
    last_seen: float


@dataclass(frozen=True)
class MdnsEndpoint:
    """Where a device's mDNS record says it listens (port 0: it dials the hub instead)."""

    address: str | None
    port: int


@dataclass(frozen=True)
class DeviceListing:
    """One row of the device list: the device, and what the running hub knows of it now."""

    device: DeviceRecord | Sighting
    connected: bool
    rates: StreamRateReading
    waiting_to_pair: bool
    mdns: MdnsEndpoint | None


def sightings(
    heard: Mapping[str, tuple[Hello, float]],
    adverts: Mapping[str, tuple[DeviceAdvert, float]],
    waiting: Collection[str],
) -> list[Sighting]:
    """Devices heard from or advertised, by id; an advert describes a device over its hello,
    and the later of the two says when it was last seen."""
    found: dict[str, Sighting] = {}
    for device_id, (hello, seen) in heard.items():
        status = "waiting_to_pair" if device_id in waiting else "discovered"
        found[device_id] = Sighting(
            device_id, hello.kind, hello.model, hello.capabilities, status, seen
        )
    for device_id, (advert, seen) in adverts.items():
        earlier = found.get(device_id)
        asks = advert.waiting_to_pair or device_id in waiting
        found[device_id] = Sighting(
            device_id,
            advert.kind,
            advert.model,
            advert.capabilities,
            "waiting_to_pair" if asks else "discovered",
            max(seen, earlier.last_seen if earlier else 0),
        )
    return [found[device_id] for device_id in sorted(found)]
