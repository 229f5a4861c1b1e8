"""BridgeService: add bridges, know them by their secret, and store what they send."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from devices.bridge_samples import BridgeSample, BridgeSampleError
from devices.samples import SensorBatch
from hub.bridges.errors import BridgeRevokedError, InvalidReadingError
from hub.bridges.kinds import kind_added_by_secret
from hub.bridges.secrets import SecretHashes, new_secret
from hub.bridges.store import BridgeRecord, BridgeStore
from hub.wearables.service import DeviceService
from hub.wearables.store import DeviceNotPairedError


@dataclass(frozen=True)
class NewBridge:
    """A bridge just added, with its secret: the only time the secret is known."""

    record: BridgeRecord
    secret: str


class BridgeService:
    """Bridges over the device service: they are devices, listed and revoked like any other,
    and what they store reaches the same listeners (rates, sensor summaries)."""

    def __init__(self, devices: DeviceService) -> None:
        self.devices = devices
        self.store = BridgeStore(devices.store)

    def add(self, kind: str, name: str) -> NewBridge:
        """Add a bridge of ``kind`` (see hub/bridges/kinds.py) called ``name``; blocking."""
        secret = new_secret()
        record = self.store.add(
            kind_added_by_secret(kind), name.strip() or kind, SecretHashes.of(secret)
        )
        return NewBridge(record, secret)

    async def find(self, presented: str, *kinds: str) -> BridgeRecord | None:
        """The working bridge of one of ``kinds`` that ``presented`` (its secret, or the SHA-1
        hex of it) belongs to; None when none does."""
        if not presented:
            return None
        return await asyncio.to_thread(self.store.find, presented, kinds)

    async def store_samples(self, device_id: str, samples: Sequence[BridgeSample]) -> int:
        """Store the readings not stored before (exactly once by key) and tell the listeners;
        return how many were new. A reading out of range stores nothing of the batch
        (InvalidReadingError naming it); so does a revoked bridge (BridgeRevokedError)."""
        try:
            stored = await asyncio.to_thread(self.store.commit, device_id, samples)
        except BridgeSampleError as exc:
            raise InvalidReadingError(str(exc)) from exc
        except DeviceNotPairedError as exc:
            raise BridgeRevokedError(f"{exc}; add it again with `hub bridges add`") from exc
        if stored:
            batch = SensorBatch.grouped(0, ((s.kind, s.t, s.v) for s in stored))
            self.devices.notify_stored(device_id, [batch])
        return len(stored)

    async def touch(self, device_id: str) -> None:
        """Note the bridge was heard from now."""
        await asyncio.to_thread(self.store.touch, device_id)
