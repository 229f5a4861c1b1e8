"""The radio: ``bleak`` (the optional extra ``ble``) behind the loop's and the scanner's seams."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from devices.ble.connection import GattClient
from devices.ble.scan import Advert

INSTALL_HINT = "Bluetooth LE bridges need bleak: pip install 'walking-nas[ble]'"


class BleUnavailableError(RuntimeError):
    """bleak is not installed, or this machine has no Bluetooth adapter the hub can use."""


def bleak_installed() -> bool:
    """True when ``bleak`` imports."""
    try:
        import bleak  # noqa: F401
    except ImportError:
        return False
    return True


def bleak_client(address: str, disconnected: Callable[[Any], None]) -> GattClient:
    """A ``BleakClient`` for ``address`` that calls ``disconnected`` when the link drops."""
    try:
        from bleak import BleakClient
    except ImportError as exc:
        raise BleUnavailableError(INSTALL_HINT) from exc
    return BleakClient(address, disconnected_callback=disconnected)


async def bleak_scan(seconds: float) -> list[Advert]:
    """Every device advertising within ``seconds``."""
    try:
        from bleak import BleakScanner
        from bleak.exc import BleakError
    except ImportError as exc:
        raise BleUnavailableError(INSTALL_HINT) from exc
    try:
        heard = await BleakScanner.discover(timeout=seconds, return_adv=True)
    except (BleakError, OSError) as exc:
        raise BleUnavailableError(
            f"cannot scan for Bluetooth LE devices: {exc} (is there a Bluetooth adapter, is "
            "bluetoothd running, and may this user use it?)"
        ) from exc
    return [
        Advert(
            device.address,
            adv.local_name or device.name or "",
            adv.rssi,
            tuple(adv.service_uuids),
        )
        for device, adv in heard.values()
    ]
