"""A fake Bluetooth LE radio for the BLE tests: clients that follow a script of visits."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from devices.ble.connection import GattClient
from devices.ble.omi import OMI_AUDIO_CODEC


class NotConnectedError(Exception):
    """What a radio raises when the device is out of reach."""


@dataclass
class Visit:
    """One connection attempt's script: fail it, or send these notifications, then drop
    (or stay until the loop stops)."""

    fail: bool = False
    sends: list[bytes] = field(default_factory=list)
    stays: bool = False


class FakeRadio:
    """Hands out fake clients that follow the visits in order."""

    def __init__(self, visits: list[Visit], codec: bytes = b"\x00") -> None:
        self.visits = visits
        self.codec = codec
        self.clients: list[FakeClient] = []

    def client(self, address: str, disconnected: Callable[[Any], None]) -> GattClient:
        visit = self.visits[len(self.clients)] if len(self.clients) < len(self.visits) else Visit()
        client = FakeClient(address, disconnected, visit, self.codec)
        self.clients.append(client)
        return client


class FakeClient:
    """Enough of bleak's BleakClient for the loop."""

    def __init__(
        self, address: str, disconnected: Callable[[Any], None], visit: Visit, codec: bytes
    ) -> None:
        self._address = address
        self.disconnected = disconnected
        self.visit = visit
        self.codec = codec
        self.connected = False
        self.disconnect_calls = 0
        self.subscribed: list[str] = []
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def address(self) -> str:
        return self._address

    async def connect(self) -> None:
        if self.visit.fail:
            raise NotConnectedError(f"device {self._address} not found")
        self.connected = True

    async def disconnect(self) -> None:
        self.disconnect_calls += 1
        self.connected = False

    async def read_gatt_char(self, char_specifier: str) -> bytearray:
        assert char_specifier == OMI_AUDIO_CODEC
        return bytearray(self.codec)

    async def start_notify(
        self, char_specifier: str, callback: Callable[[Any, bytearray], None]
    ) -> None:
        self.subscribed.append(char_specifier)
        self._tasks.append(asyncio.create_task(self._send(callback)))

    async def _send(self, callback: Callable[[Any, bytearray], None]) -> None:
        for data in self.visit.sends:
            await asyncio.sleep(0)
            callback(None, bytearray(data))
        if not self.visit.stays:
            await asyncio.sleep(0)
            self.connected = False
            self.disconnected(self)
