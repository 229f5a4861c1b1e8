"""Where ``hub import`` puts readings: the bridge of the import's kind in devices.db.

An import goes straight to devices.db in the data directory (as ``hub bridges`` does; SQLite
lets the running hub go on beside it). Each format has one bridge, made on its first import
and reused after, so the store's once-per-key rule makes a re-import add nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from devices.bridge_samples import BridgeSample
from hub.bridges.kinds import bridge_kind
from hub.bridges.secrets import SecretHashes, new_secret
from hub.bridges.store import BridgeRecord, BridgeStore
from hub.wearables.store import DEVICES_DB_NAME, DeviceStore

KEYS_PER_QUERY = 500  # well under SQLite's limit on bound parameters


class ImportTarget:
    """The import bridge of one kind in one data directory; blocking, for the CLI."""

    def __init__(self, devices: DeviceStore, kind: str) -> None:
        self.devices = devices
        self.bridges = BridgeStore(devices)
        self.kind = bridge_kind(kind)
        self.record: BridgeRecord | None = next(
            (
                record
                for record in self.bridges.bridges()
                if record.kind == kind and record.status == "paired"
            ),
            None,
        )

    @classmethod
    def open(cls, data_dir: Path, kind: str, create: bool) -> ImportTarget | None:
        """The target in ``data_dir``; None when ``create`` is False and it has no devices.db
        yet (a dry run then reports nothing as stored rather than make one)."""
        if not create and not (data_dir / DEVICES_DB_NAME).exists():
            return None
        return cls(DeviceStore.open(data_dir), kind)

    def close(self) -> None:
        """Close devices.db."""
        self.devices.close()

    def bridge(self) -> BridgeRecord:
        """The working bridge of this kind, added (named after the format) when there is none."""
        if self.record is None:
            # Nothing ever presents an import bridge's secret: it is made only because every
            # bridge has one, and forgotten.
            hashes = SecretHashes.of(new_secret())
            self.record = self.bridges.add(self.kind, self.kind.label, hashes)
        return self.record

    def commit(self, samples: Sequence[BridgeSample]) -> list[BridgeSample]:
        """Store the readings this bridge does not have yet, in one transaction; those new."""
        return self.bridges.commit(self.bridge().id, samples)

    def already_stored(self, samples: Sequence[BridgeSample]) -> list[BridgeSample]:
        """Those of ``samples`` whose key the bridge has stored before (for a dry run)."""
        if self.record is None:
            return []
        known: set[str] = set()
        keys = [sample.key for sample in samples]
        with self.devices.database.reading() as db:
            for start in range(0, len(keys), KEYS_PER_QUERY):
                chunk = keys[start : start + KEYS_PER_QUERY]
                marks = ", ".join("?" for _ in chunk)
                rows = db.execute(
                    f"SELECT key FROM bridge_readings WHERE device_id = ? AND key IN ({marks})",
                    [self.record.id, *chunk],
                ).fetchall()
                known.update(row[0] for row in rows)
        return [sample for sample in samples if sample.key in known]
