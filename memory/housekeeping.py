"""StoreHousekeeping: compact a day's old items into one summary (or none), hold the raw items
out of search for a grace period, bring them back on undo, and purge them after it.

Each day group is one write transaction (BEGIN IMMEDIATE): the summary, the held copies and the
raw items' removal commit together or not at all, so a crash midway leaves no half day. The
vector index learns of a change only after its commit (as the store's other writes); a crash in
between is replayed from SQLite's vector log when the store opens.

Held items are whole records (item, history, the facts derived from them) in ``held_items``:
not in ``items``, ``chunks``, FTS or the vector index, so search never sees them. A purge deletes
those rows and then runs the forget path's last step (merging FTS segments, truncating the WAL),
so nothing of them is left in the file.
"""

from __future__ import annotations

import json
import logging
import secrets
import sqlite3
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

from memory.chunking import chunk_text
from memory.embedder import Vectors
from memory.errors import RunNotUndoableError
from memory.housekeeping_ledger import HousekeepingLedger
from memory.housekeeping_types import SUMMARY_KEY, Batch, DayGroup, KindSize, Policy, Run
from memory.sqlite_database import BUSY_TIMEOUT_SECONDS as BUSY_TIMEOUT
from memory.sqlite_database import immediate_transaction
from memory.tables import MemoryTables
from memory.timestamps import to_stored
from memory.types import MemoryItem
from memory.validation import clean_text
from memory.vector_index import IndexedChunk
from memory.vector_layers import LayeredVectors

logger = logging.getLogger(__name__)

Embed = Callable[[list[str]], Vectors]
GRACE_KEY = "housekeeping_grace_days"
# Set when a forget left rewriting the whole file (memory/sqlite_store.py) to the next run.
REWRITE_DUE_KEY = "rewrite_due"


def _payload(item: MemoryItem, history: list[dict[str, Any]], facts: list[str]) -> str:
    record = {"item": item.to_dict(), "history": history, "facts": facts}
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


def _item(data: dict[str, Any]) -> MemoryItem:
    return MemoryItem(
        id=data["id"],
        kind=data["kind"],
        text=data["text"],
        source=data["source"],
        happened_at=data["happened_at"],
        stored_at=data["stored_at"],
        updated_at=data["updated_at"],
        metadata=data["metadata"],
        pinned=bool(data["pinned"]),
        derived_from=tuple(data.get("derived_from", ())),
    )


class StoreHousekeeping:
    """Housekeeping's mechanics over one store's tables, lock and vector index."""

    def __init__(
        self,
        tables: MemoryTables,
        lock: threading.RLock,
        index: LayeredVectors,
        embed: Embed,
        erase_traces: Callable[[bool], None],
        path: Path,
    ) -> None:
        self._path = path
        self._tables = tables
        self._lock = lock
        self._index = index
        self._embed = embed
        self._erase_traces = erase_traces
        self.ledger = HousekeepingLedger(tables.conn)

    # ----- finding old items -----------------------------------------------------------------

    def day_groups(self, kind: str, before: datetime, tz: tzinfo) -> list[DayGroup]:
        """Items of ``kind`` that happened before ``before``, by source, device and local day;
        pinned items and earlier summaries are never compacted."""
        with self._lock:
            rows = self._tables.rows(
                "SELECT id, source, coalesce(json_extract(metadata, '$.device_id'), ''), "
                "happened_at FROM items WHERE kind = ? AND happened_at < ? AND pinned = 0 "
                f"AND json_extract(metadata, '$.{SUMMARY_KEY}') IS NULL "
                "ORDER BY happened_at, id",
                (kind, to_stored(before)),
            )
        groups: dict[tuple[str, str, str], list[str]] = {}
        for item_id, source, device, happened in rows:
            day = datetime.fromisoformat(happened).astimezone(tz).date().isoformat()
            groups.setdefault((str(source), str(device), day), []).append(str(item_id))
        return [
            DayGroup(kind, source, device, day, tuple(ids))
            for (source, device, day), ids in sorted(groups.items(), key=lambda g: g[0][2])
        ]

    def items(self, group: DayGroup) -> list[MemoryItem]:
        """The group's items that still exist, in time order."""
        with self._lock:
            found = self._tables.items(list(group.item_ids))
        return sorted(found.values(), key=lambda item: (item.happened_at, item.id))

    # ----- compacting ------------------------------------------------------------------------

    def compact(
        self,
        run_id: str,
        group: DayGroup,
        summary_text: str | None,
        held_at: datetime,
        grace: timedelta,
        written_from: Sequence[MemoryItem] | None = None,
    ) -> Batch | None:
        """Replace the group's items by one summary (or by nothing when ``summary_text`` is
        None), holding them for ``grace``; None when the group changed meanwhile (an item
        forgotten or pinned, or edited since the summary was ``written_from`` it), so it is
        left for the next run."""
        batch_id = "hk_" + secrets.token_hex(8)
        summary: MemoryItem | None = None
        chunks = []
        vectors: Vectors | None = None
        if summary_text is not None:
            stamp = to_stored(held_at)
            first = list(written_from) if written_from is not None else self.items(group)
            if not first:
                return None
            metadata: dict[str, Any] = {
                SUMMARY_KEY: batch_id,
                "day": group.day,
                "items": len(group.item_ids),
            }
            if group.device:
                metadata["device_id"] = group.device
            summary = MemoryItem(
                id="mem_" + secrets.token_hex(8),
                kind=group.kind,
                text=clean_text(summary_text),
                source=group.source,
                happened_at=first[0].happened_at,
                stored_at=stamp,
                updated_at=stamp,
                metadata=metadata,
                pinned=False,
            )
            chunks = chunk_text(summary.text)
            vectors = self._embed([chunk.text for chunk in chunks])
        removed: list[int] = []
        indexed: list[IndexedChunk] = []
        with self._lock:
            with immediate_transaction(self._tables.conn):
                items = self._tables.items(list(group.item_ids))
                if len(items) != len(group.item_ids) or any(i.pinned for i in items.values()):
                    return None
                if written_from is not None and {i.id: i for i in written_from} != items:
                    return None
                histories = self._tables.histories(list(items))
                size = 0
                for item in items.values():
                    facts = self._tables.column(
                        "SELECT fact_id FROM derivations WHERE source_id = ?", (item.id,)
                    )
                    history = [entry.to_dict() for entry in histories.get(item.id, [])]
                    payload = _payload(item, history, facts)
                    size += len(payload.encode())
                    self.ledger.hold(item.id, batch_id, item.kind, len(payload.encode()), payload)
                    removed += self._tables.delete_item(item.id)
                batch = Batch(
                    id=batch_id,
                    run_id=run_id,
                    kind=group.kind,
                    source=group.source,
                    device=group.device,
                    day=group.day,
                    action="summarize" if summary is not None else "delete",
                    summary_id=summary.id if summary is not None else None,
                    items=len(items),
                    bytes=size,
                    held_at=to_stored(held_at),
                    purge_after=to_stored(held_at + grace),
                    state="held",
                )
                self.ledger.add_batch(batch)
                self.ledger.count_batch(run_id, len(items), summary is not None)
                if summary is not None and vectors is not None:
                    self._tables.insert_item(summary)
                    indexed = self._tables.insert_chunks(summary, chunks, vectors)
                    self._tables.add_history(
                        summary.id, "created", {"housekeeping": batch_id}, summary.stored_at
                    )
            self._index.removed(removed)
            if indexed and vectors is not None:
                self._index.added(indexed, vectors)
        return batch

    # ----- undo ------------------------------------------------------------------------------

    def undo_run(self, run_id: str) -> list[Batch]:
        """Bring back every item a run still holds and remove its summaries; each day in its
        own transaction."""
        with self._lock:
            if not self.ledger.run_exists(run_id):
                error = RunNotUndoableError(
                    f"no housekeeping run {run_id!r}; `hub memory housekeeping status` lists them"
                )
                error.http_status = 404
                raise error
            batches = self.ledger.batches_of_run(run_id, "held")
        if not batches:
            raise RunNotUndoableError(
                f"run {run_id} holds nothing any more: it was undone, or its grace period "
                "ended and the raw items are gone"
            )
        return [batch for batch in (self.undo_batch(b.id) for b in batches) if batch]

    def undo_batch(self, batch_id: str) -> Batch | None:
        """Restore one held batch exactly (ids, times, metadata, history, links to the facts
        still there) and remove its summary; None when it is no longer held."""
        with self._lock:
            records = [json.loads(text) for text in self.ledger.held_payloads(batch_id)]
        items = [_item(record["item"]) for record in records]
        chunked = [chunk_text(item.text) for item in items]
        vectors = self._embed([chunk.text for chunks in chunked for chunk in chunks])
        removed: list[int] = []
        indexed: list[IndexedChunk] = []
        restored_rows: list[int] = []
        with self._lock:
            with immediate_transaction(self._tables.conn):
                batch = self.ledger.batch(batch_id)
                if batch is None or batch.state != "held":
                    return None
                present = set(self._tables.items([item.id for item in items]))
                offset = 0
                for record, item, chunks in zip(records, items, chunked, strict=True):
                    rows = list(range(offset, offset + len(chunks)))
                    offset += len(chunks)
                    if item.id in present:
                        continue  # imported again meanwhile: the store's copy stays
                    self._tables.insert_item(item)
                    indexed += self._tables.insert_chunks(item, chunks, vectors[rows])
                    restored_rows += rows
                    for entry in record["history"]:
                        self._tables.add_history(
                            item.id, entry["action"], entry["changes"], entry["at"]
                        )
                    for fact_id in self._tables.items(record["facts"]):
                        self._tables.link(fact_id, [item.id])
                if batch.summary_id is not None:
                    removed = self._tables.delete_item(batch.summary_id)
                self.ledger.drop_held(batch_id)
                self.ledger.set_state(batch_id, "undone")
            self._index.removed(removed)
            if indexed:
                self._index.added(indexed, vectors[restored_rows])
        return batch

    # ----- purging ---------------------------------------------------------------------------

    def purge_due(self, now: datetime) -> int:
        """Delete the held items of every batch whose grace period has ended, leaving no trace
        (as forget does); return how many items went."""
        purged = 0
        with self._lock:
            with immediate_transaction(self._tables.conn):
                for batch in self.ledger.due_batches(to_stored(now)):
                    purged += self.ledger.drop_held(batch.id)
                    self.ledger.set_state(batch.id, "purged")
            if purged or self._tables.meta_value(REWRITE_DUE_KEY) == "1":
                self._erase_traces(True)
        return purged

    def drop_for_summary(self, summary_id: str) -> None:
        """A summary is being forgotten: the raw items it stands for go with it (called inside
        the forget's transaction)."""
        for batch in self.ledger.held_batch_of_summary(summary_id):
            self.ledger.drop_held(batch.id)
            self.ledger.set_state(batch.id, "purged")

    # ----- the ledger, under the lock ----------------------------------------------------------

    def saved_policies(self) -> dict[str, Policy]:
        """The policy the person saved per kind."""
        with self._lock:
            return self.ledger.saved_policies()

    def save_policies(self, policies: list[Policy], grace_days: int | None = None) -> None:
        """Save several kinds' policies (and the grace period) together."""
        with self._lock, immediate_transaction(self._tables.conn):
            for policy in policies:
                self.ledger.save_policy(policy)
            if grace_days is not None:
                self._tables.set_meta(GRACE_KEY, str(grace_days))

    def saved_grace_days(self) -> int | None:
        """The grace period the person saved, in days."""
        with self._lock:
            value = self._tables.meta_value(GRACE_KEY)
        return int(value) if value is not None else None

    def start_run(self, started_at: datetime, trigger: str) -> str:
        """Record a new run; return its id."""
        run_id = "run_" + secrets.token_hex(6)
        with self._lock, immediate_transaction(self._tables.conn):
            self.ledger.add_run(run_id, to_stored(started_at), trigger)
        return run_id

    def finish_run(self, run_id: str, at: datetime, purged: int, error: str | None) -> None:
        """Record how a run ended."""
        with self._lock, immediate_transaction(self._tables.conn):
            self.ledger.finish_run(run_id, to_stored(at), purged, error)

    def end_interrupted_runs(self, at: datetime) -> int:
        """Runs left unfinished by a process that stopped (a crash, a power cut) are marked
        so; the days they did stay done. Call before this process starts a run."""
        error = "interrupted: the hub stopped; the days done stay done, the next run does the rest"
        with self._lock, immediate_transaction(self._tables.conn):
            return self.ledger.end_interrupted(to_stored(at), error)

    def runs(self, limit: int = 10) -> list[Run]:
        """The latest runs, newest first."""
        with self._lock:
            return self.ledger.runs(limit)

    def sizes(self) -> list[KindSize]:
        """Items and bytes per kind, and what is held for undo. Counted on a read-only
        connection of its own, outside the store's lock: at a million items it reads for
        seconds (5.4 s measured on a loaded 2-core box), and search must not wait for it."""
        uri = f"{self._path.resolve().as_uri()}?mode=ro"
        conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT)
        try:
            return HousekeepingLedger(conn).sizes(4 * self._index.dimension)
        finally:
            conn.close()
