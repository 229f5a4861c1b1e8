"""BridgeMemories: what a bridge says becomes memories exactly once, by its key in the source
(an Omi conversation id, a transcript segment, a day), however often the source resends it."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hub.wearables.store import DeviceStore
from memory.errors import UnknownMemoryError
from memory.protocol import MemoryStore
from memory.types import MemoryPatch, NewMemory

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MemoryDraft:
    """A memory a bridge wants kept, named by ``key``: its identity in the bridge's source."""

    key: str
    text: str
    kind: str
    happened_at: datetime
    metadata: dict[str, Any] = field(default_factory=dict)
    # The source sent no time: happened_at (and these metadata fields) were estimated from
    # when it arrived, so a resend arriving later says the same and keeps the first estimate.
    estimated: tuple[str, ...] = ()

    def digest(self) -> str:
        """What the memory says, as a hash: a resend with the same digest changes nothing."""
        metadata = {k: v for k, v in self.metadata.items() if k not in self.estimated}
        when = None if self.estimated else self.happened_at.isoformat()
        body = json.dumps([self.text, self.kind, when, metadata], sort_keys=True, default=str)
        return hashlib.sha256(body.encode()).hexdigest()


@dataclass(frozen=True)
class KeptMemories:
    """What one call did: memories added, memories replaced, drafts already kept as they are."""

    added: list[str]
    replaced: list[str]
    unchanged: int


class BridgeMemories:
    """Memories made by bridges, with a table in devices.db naming the memory each key made.

    One write at a time per hub (an asyncio lock): two resends racing each other must not both
    find the key new. The memory and its key live in two databases; the memory is written first,
    so a hub that dies between the two writes keeps the memory and may add it once more when the
    source resends it, rather than lose it."""

    def __init__(self, devices: DeviceStore, store: MemoryStore) -> None:
        self.devices = devices
        self.store = store
        self._lock = asyncio.Lock()

    async def keep(self, device_id: str, drafts: Sequence[MemoryDraft]) -> KeptMemories:
        """Add the drafts whose key this bridge never sent, replace those it sent saying
        something else (unless the person has since forgotten that memory), skip the rest."""
        async with self._lock:
            return await asyncio.to_thread(self._keep, device_id, drafts)

    def _keep(self, device_id: str, drafts: Sequence[MemoryDraft]) -> KeptMemories:
        unique = list({draft.key: draft for draft in drafts}.values())  # the last one says most
        known = self._known(device_id, [draft.key for draft in unique])
        fresh: list[MemoryDraft] = []
        replaced: list[str] = []
        marks: list[tuple[str, str, str]] = []  # (key, memory id, digest)
        unchanged = 0
        for draft in unique:
            digest = draft.digest()
            before = known.get(draft.key)
            if before is None:
                fresh.append(draft)
                continue
            memory_id, old_digest = before
            if old_digest == digest:
                unchanged += 1
                continue
            try:
                before_item = self.store.get(memory_id)
                patch = _patch(device_id, draft, before_item.metadata)
                self.store.update(memory_id, patch, action="resent changed")
            except UnknownMemoryError:
                # Forgotten by the person: a changed resend does not bring it back.
                unchanged += 1
            else:
                replaced.append(memory_id)
            marks.append((draft.key, memory_id, digest))
        items = self.store.add_many([_new(device_id, draft) for draft in fresh])
        marks += [(d.key, item.id, d.digest()) for d, item in zip(fresh, items, strict=True)]
        self._mark(device_id, marks)
        if items or replaced:
            logger.info(
                "bridge %s: %d memories added, %d replaced", device_id, len(items), len(replaced)
            )
        return KeptMemories([item.id for item in items], replaced, unchanged)

    def _known(self, device_id: str, keys: Sequence[str]) -> dict[str, tuple[str, str]]:
        found: dict[str, tuple[str, str]] = {}
        with self.devices.database.reading() as db:
            for start in range(0, len(keys), 500):  # SQLite's limit on bound parameters
                part = keys[start : start + 500]
                marks = ", ".join("?" for _ in part)
                rows = db.execute(
                    "SELECT key, memory_id, digest FROM bridge_memories "
                    f"WHERE device_id = ? AND key IN ({marks})",
                    [device_id, *part],
                ).fetchall()
                found.update({key: (memory_id, digest) for key, memory_id, digest in rows})
        return found

    def _mark(self, device_id: str, marks: Sequence[tuple[str, str, str]]) -> None:
        if not marks:
            return
        with self.devices.database.transaction() as db:
            db.conn.executemany(
                "INSERT OR REPLACE INTO bridge_memories (device_id, key, memory_id, digest) "
                "VALUES (?, ?, ?, ?)",
                [(device_id, key, memory_id, digest) for key, memory_id, digest in marks],
            )


def _metadata(device_id: str, draft: MemoryDraft) -> dict[str, Any]:
    return {**draft.metadata, "device_id": device_id, "bridge_key": draft.key}


def _new(device_id: str, draft: MemoryDraft) -> NewMemory:
    return NewMemory(
        text=draft.text,
        kind=draft.kind,
        source="device",
        happened_at=draft.happened_at,
        metadata=_metadata(device_id, draft),
    )


def _patch(device_id: str, draft: MemoryDraft, before: dict[str, Any]) -> MemoryPatch:
    metadata = _metadata(device_id, draft)
    if not draft.estimated:
        return MemoryPatch(text=draft.text, happened_at=draft.happened_at, metadata=metadata)
    kept = {key: before[key] for key in draft.estimated if key in before}
    return MemoryPatch(text=draft.text, metadata={**metadata, **kept})
