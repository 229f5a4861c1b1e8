"""Which nearby Bluetooth LE devices a bridge can use: heart-rate straps and watches (the
standard Heart Rate service, 0x180D) and Omi pendants."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import Any

from devices.ble.heart_rate import HEART_RATE_SERVICE
from devices.ble.omi import OMI_NAMES, OMI_SERVICE

HEART_RATE = "heart-rate"
OMI = "omi"


@dataclass(frozen=True)
class Advert:
    """One device heard while scanning."""

    address: str
    name: str
    rssi: int | None
    service_uuids: tuple[str, ...]


Scanner = Callable[[float], Coroutine[Any, Any, list[Advert]]]
"""``(seconds) -> what was heard``; ``devices.ble.bleak_backend.bleak_scan`` is one."""


def device_kind(advert: Advert) -> str | None:
    """``"heart-rate"``, ``"omi"``, or None for a device no bridge reads."""
    uuids = {uuid.lower() for uuid in advert.service_uuids}
    if OMI_SERVICE in uuids or advert.name in OMI_NAMES:
        return OMI
    if HEART_RATE_SERVICE in uuids:
        return HEART_RATE
    return None


def usable(adverts: Iterable[Advert]) -> list[tuple[str, Advert]]:
    """The devices a bridge can read, with their kind, the strongest signal first."""
    found = [(kind, a) for a in adverts if (kind := device_kind(a)) is not None]
    return sorted(found, key=lambda pair: -(pair[1].rssi if pair[1].rssi is not None else -999))
