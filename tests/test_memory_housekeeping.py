"""Housekeeping in the store: real SQLite, the real store and its saved HNSW index on disk."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from memory import ann_file
from memory.errors import RunNotUndoableError, UnknownMemoryError
from memory.fake_embedder import HashingEmbedder
from memory.housekeeping_types import SUMMARY_KEY, DayGroup
from memory.sqlite_store import SqliteMemoryStore
from memory.types import MemoryPatch, NewMemory, SearchFilters
from memory.usearch_index import Index

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
OLD_DAY = NOW - timedelta(days=40)
GRACE = timedelta(days=7)
WORDS = ["zebra", "quince", "mango", "harbor", "violin", "tulip", "cobalt", "saffron", "orbit"]


def utterance(n: int, device: str, tag: str) -> str:
    # Each line its own rare words, so its vector (and its binary code in the graph) is unique.
    return f"On {device} I said {WORDS[n % 9]} {WORDS[(n * 7 + 3) % 9]} code{n}x{device[-1]}{tag}"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteMemoryStore]:
    opened = SqliteMemoryStore(tmp_path / "memory.db", HashingEmbedder(), lambda: NOW, 40)
    yield opened
    opened.close()


def transcripts(
    store: SqliteMemoryStore, day: datetime, device: str, count: int, tag: str = ""
) -> list[Any]:
    return store.add_many(
        [
            NewMemory(
                utterance(n, device, tag),
                kind="transcript",
                source="device",
                happened_at=day + timedelta(minutes=7 * n),
                metadata={"device_id": device, "words": [[f"w{n}", 1.0, 1.2]]},
            )
            for n in range(count)
        ]
    )


def snapshot(store: SqliteMemoryStore, items: list[Any]) -> dict[str, Any]:
    return {
        item.id: (store.get(item.id).to_dict(), [h.to_dict() for h in store.history(item.id)])
        for item in items
    }


def found_ids(store: SqliteMemoryStore, query: str, k: int = 50) -> set[str]:
    return {hit.item.id for hit in store.search(query, k=k)}


def compact_all(store: SqliteMemoryStore, summarize: bool = True) -> tuple[str, list[DayGroup]]:
    hk = store.housekeeping
    groups = hk.day_groups("transcript", NOW - timedelta(days=30), UTC)
    run_id = hk.start_run(NOW, "test")
    for group in groups:
        items = hk.items(group)
        text = None
        if summarize:
            text = f"Transcripts of {group.day} on {group.device}: " + " ".join(
                item.text for item in items
            )
        assert hk.compact(run_id, group, text, NOW, GRACE) is not None
    return run_id, groups


def test_summarize_replaces_old_days_and_undo_restores_them_exactly(
    store: SqliteMemoryStore,
) -> None:
    ear = transcripts(store, OLD_DAY, "ear-1", 30)
    glasses = transcripts(store, OLD_DAY, "glasses-2", 10)
    recent = transcripts(store, NOW - timedelta(days=2), "ear-1", 12, "new")
    pinned = store.add(
        NewMemory("Pinned words pinnedword9", kind="transcript", source="device", pinned=True)
    )
    store.update(pinned.id, MemoryPatch(happened_at=OLD_DAY.isoformat()))
    store.update(ear[3].id, MemoryPatch(metadata={"device_id": "ear-1", "edited": True}))
    fact = store.add(NewMemory("The user likes mango", kind="fact", derived_from=(ear[0].id,)))
    notes = store.add_many([NewMemory(f"Old note {n}", happened_at=OLD_DAY) for n in range(5)])
    before = snapshot(store, ear + glasses)
    store.wait_for_index()

    run_id, groups = compact_all(store)

    assert sorted((g.device, len(g.item_ids)) for g in groups) == [("ear-1", 30), ("glasses-2", 10)]
    raw = {item.id for item in ear + glasses}
    summaries = [hit.item for hit in store.search("code5x1", k=20, mode="text")]
    assert len(summaries) == 1
    assert summaries[0].metadata[SUMMARY_KEY] and summaries[0].kind == "transcript"
    assert summaries[0].metadata["device_id"] == "ear-1"
    assert not found_ids(store, "code5x1 code3x2 zebra quince", 100) & raw
    assert not found_ids(store, "code5x1", 100) & raw
    for item in ear + glasses:
        with pytest.raises(UnknownMemoryError):
            store.get(item.id)
    # Newer items, pinned ones and other kinds are untouched and still found.
    for kept in [*recent, *notes]:
        assert store.get(kept.id) == kept
    assert store.get(pinned.id).text == pinned.text
    assert recent[4].id in found_ids(store, recent[4].text)
    assert store.get(fact.id).text == "The user likes mango"
    sizes = {size.kind: size for size in store.housekeeping.sizes()}
    assert sizes["transcript"].items == 12 + 1 + 2 and sizes["transcript"].held_items == 40
    run = store.housekeeping.runs()[0]
    assert (run.id, run.batches, run.items, run.summaries, run.undoable) == (run_id, 2, 40, 2, 2)

    undone = store.housekeeping.undo_run(run_id)

    assert len(undone) == 2
    assert snapshot(store, ear + glasses) == before
    assert store.get(fact.id).derived_from == (ear[0].id,)
    assert ear[5].id in found_ids(store, "code5x1")
    assert not [h for h in store.search("code5x1 zebra", k=50) if SUMMARY_KEY in h.item.metadata]
    assert store.housekeeping.sizes()[-1].held_items == 0
    with pytest.raises(RunNotUndoableError):
        store.housekeeping.undo_run(run_id)


def test_after_the_grace_period_the_raw_items_are_gone_everywhere(
    store: SqliteMemoryStore, tmp_path: Path
) -> None:
    ear = transcripts(store, OLD_DAY, "ear-1", 30)
    transcripts(store, NOW - timedelta(days=1), "ear-1", 30, "new")
    store.wait_for_index()
    folder = ann_file.index_folder(store.path)
    meta = ann_file.read_meta(folder)
    assert meta is not None  # more than the exact limit: a saved graph
    graph = Index.restore(str(folder / meta.file_name))
    assert graph is not None
    with sqlite3.connect(store.path) as conn:
        chunk_of = {str(r[1]): int(r[0]) for r in conn.execute("SELECT id, item_id FROM chunks")}
    keys = np.array([chunk_of[item.id] for item in ear[:5]], dtype=np.uint64)
    patterns = [row.tobytes() for row in ann_file.stored_codes(graph, keys)]
    saved = (folder / meta.file_name).read_bytes()
    assert all(pattern in saved for pattern in patterns)

    run_id, _ = compact_all(store, summarize=False)
    assert not store.housekeeping.purge_due(NOW + GRACE - timedelta(seconds=1))
    assert store.housekeeping.purge_due(NOW + GRACE) == 30
    store.wait_for_index()

    with pytest.raises(RunNotUndoableError, match="raw items are gone"):
        store.housekeeping.undo_run(run_id)
    store.checkpoint()
    raw = store.path.read_bytes()
    assert not re.search(rb"code(17|0|29)x1(?!new)", raw)  # the later days' own codes end "new"
    with sqlite3.connect(store.path) as conn:
        assert conn.execute(
            "SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH 'code17x1'"
        ).fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM held_items").fetchone() == (0,)
        ids = [item.id for item in ear]
        marks = ",".join("?" * len(ids))
        for table, column in (("items", "id"), ("chunks", "item_id"), ("history", "item_id")):
            count = conn.execute(f"SELECT count(*) FROM {table} WHERE {column} IN ({marks})", ids)
            assert count.fetchone() == (0,)
    meta = ann_file.read_meta(folder)
    assert meta is not None
    saved = (folder / meta.file_name).read_bytes()
    assert not any(pattern in saved for pattern in patterns)
    assert store.housekeeping.sizes()[0].held_items == 0


def test_a_crash_midway_through_a_day_leaves_no_half_day(
    store: SqliteMemoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    ear = transcripts(store, OLD_DAY, "ear-1", 20)
    before = snapshot(store, ear)
    hk = store.housekeeping
    [group] = hk.day_groups("transcript", NOW - timedelta(days=30), UTC)
    run_id = hk.start_run(NOW, "test")
    real_delete = store._tables.delete_item
    calls: list[str] = []

    def failing_delete(item_id: str) -> list[int]:
        calls.append(item_id)
        if len(calls) == 7:
            raise OSError("power cut")
        return real_delete(item_id)

    monkeypatch.setattr(store._tables, "delete_item", failing_delete)
    with pytest.raises(OSError, match="power cut"):
        hk.compact(run_id, group, "Summary of the day: zebra", NOW, GRACE)
    monkeypatch.undo()

    assert snapshot(store, ear) == before
    assert {item.id for item in ear} <= found_ids(store, "said", 100)
    hits = store.search("Summary of the day", k=50)
    assert not [hit for hit in hits if SUMMARY_KEY in hit.item.metadata]
    with sqlite3.connect(store.path) as conn:
        for table in ("held_items", "housekeeping_batches"):
            assert conn.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)
    assert hk.runs()[0].items == 0
    assert hk.compact(run_id, group, "Summary of the day: zebra", NOW, GRACE) is not None
    assert not {item.id for item in ear} & found_ids(store, "said", 100)


def test_a_changed_day_is_left_for_the_next_run_and_forgetting_a_summary_drops_its_raw(
    store: SqliteMemoryStore,
) -> None:
    ear = transcripts(store, OLD_DAY, "ear-1", 6)
    hk = store.housekeeping
    [group] = hk.day_groups("transcript", NOW - timedelta(days=30), UTC)
    read = hk.items(group)
    store.update(ear[1].id, MemoryPatch(text="Edited after the summary was written"))
    run_id = hk.start_run(NOW, "test")
    assert hk.compact(run_id, group, "A summary", NOW, GRACE, read) is None
    store.forget(ear[2].id)
    assert hk.compact(run_id, group, "A summary", NOW, GRACE) is None
    [group] = hk.day_groups("transcript", NOW - timedelta(days=30), UTC)
    batch = hk.compact(run_id, group, "A summary of five", NOW, GRACE, hk.items(group))
    assert batch is not None and batch.summary_id is not None

    store.forget(batch.summary_id)

    assert hk.sizes() == []  # nothing left of the day, in search or held
    with pytest.raises(RunNotUndoableError):
        hk.undo_run(run_id)
    assert store.list_items(SearchFilters(), 50, 0) == ([], 0)


def test_items_restored_keep_their_place_in_filtered_search(store: SqliteMemoryStore) -> None:
    ear = transcripts(store, OLD_DAY, "ear-1", 4)
    run_id, _ = compact_all(store)
    store.housekeeping.undo_run(run_id)
    filters = SearchFilters(kinds=("transcript",), since=OLD_DAY - timedelta(hours=1))
    hits = store.search(ear[1].text, k=4, filters=filters)
    assert hits[0].item == ear[1]


def test_a_run_left_unfinished_by_a_crash_is_marked_interrupted(store: SqliteMemoryStore) -> None:
    transcripts(store, OLD_DAY, "ear-1", 3)
    hk = store.housekeeping
    run_id, _ = compact_all(store)  # the process "dies" before it records the run's end
    assert hk.runs()[0].finished_at is None

    assert hk.end_interrupted_runs(NOW) == 1

    run = hk.runs()[0]
    assert run.id == run_id and run.finished_at is not None and "interrupted" in (run.error or "")
    assert run.undoable == 1  # what it did stays done, and undoable
