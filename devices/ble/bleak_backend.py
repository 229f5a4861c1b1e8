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


NO_RADIO = (
    "no Bluetooth service on this machine ({exc}): Linux needs BlueZ's bluetoothd running on "
    "the system D-Bus and an adapter (`bluetoothctl show` lists it)"
)


class ExplainedBleakClient:
    """A ``BleakClient`` whose "no such file" on connect says that Bluetooth is missing."""

    def __init__(self, client: GattClient) -> None:
        self._client = client

    @property
    def address(self) -> str:
        """The device's address."""
        return self._client.address

    async def connect(self) -> None:
        """Connect, or raise; BleUnavailableError when the machine has no Bluetooth service."""
        try:
            await self._client.connect()
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            raise BleUnavailableError(NO_RADIO.format(exc=exc)) from exc

    async def disconnect(self) -> None:
        """Disconnect."""
        await self._client.disconnect()

    async def read_gatt_char(self, char_specifier: str) -> bytearray:
        """Read a characteristic."""
        return await self._client.read_gatt_char(char_specifier)

    async def start_notify(
        self, char_specifier: str, callback: Callable[[Any, bytearray], None]
    ) -> None:
        """Subscribe to a characteristic's notifications."""
        await self._client.start_notify(char_specifier, callback)


def bleak_client(address: str, disconnected: Callable[[Any], None]) -> GattClient:
    """A ``BleakClient`` for ``address`` that calls ``disconnected`` when the link drops."""
    try:
        from bleak import BleakClient
    except ImportError as exc:
        raise BleUnavailableError(INSTALL_HINT) from exc
    return ExplainedBleakClient(BleakClient(address, disconnected_callback=disconnected))


async def bleak_scan(seconds: float) -> list[Advert]:
    """Every device advertising within ``seconds``."""
    try:
        from bleak import BleakScanner
        from bleak.exc import BleakError
    except ImportError as exc:
        raise BleUnavailableError(INSTALL_HINT) from exc
    try:
        heard = await BleakScanner.discover(timeout=seconds, return_adv=True)
    except (FileNotFoundError, ConnectionRefusedError) as exc:
        raise BleUnavailableError("cannot scan: " + NO_RADIO.format(exc=exc)) from exc
    except (BleakError, OSError) as exc:
        raise BleUnavailableError(
            f"cannot scan for Bluetooth LE devices: {exc} (is the adapter on, and may this user "
            "use Bluetooth?)"
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
