"""The memory store with the real embedder and real SQLite."""

from __future__ import annotations

import io
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from memory import sqlite_store
from memory.errors import ImportFormatError, InvalidMemoryError, UnknownMemoryError
from memory.facts import remember_fact
from memory.fake_embedder import HashingEmbedder
from memory.sqlite_reader import SqliteMemoryReader
from memory.sqlite_store import MEMORY_DB_NAME, SqliteMemoryStore
from memory.types import MemoryPatch, NewMemory, SearchFilters
from memory.validation import MAX_TEXT_CHARS

PEOPLE = [
    NewMemory("Alice Moreau works as a nurse at Saint Mary hospital in Lyon.", kind="fact"),
    NewMemory("Our neighbour Tom has a golden retriever called Biscuit.", kind="fact"),
    NewMemory("Bob plays the cello in a community orchestra on Thursdays.", kind="fact"),
    NewMemory(
        "The heart rate averaged 62 bpm during sleep.", kind="sensor_summary", source="device"
    ),
    NewMemory("Bought oat milk, eggs and spinach at the market.", kind="note"),
]


@pytest.fixture
def store(tmp_path: Path, embedder: object) -> SqliteMemoryStore:
    opened = SqliteMemoryStore(tmp_path / "memory.db", embedder)  # type: ignore[arg-type]
    yield opened
    opened.close()


def test_search_finds_paraphrases(store: SqliteMemoryStore) -> None:
    items = store.add_many(PEOPLE)
    by_text = {item.text: item.id for item in items}
    top = store.search("What is Alice's job?", k=3)[0]
    assert top.item.id == by_text[PEOPLE[0].text]
    pet = store.search("what is Tom's dog called", k=1, mode="vector")[0]
    assert pet.item.id == by_text[PEOPLE[1].text]
    music = store.search("which instrument does Bob play", k=1)[0]
    assert music.item.id == by_text[PEOPLE[2].text]
    assert music.similarity is not None and music.similarity > 0.3
    sleep = store.search("How well did I sleep?", k=1)[0]
    assert sleep.item.kind == "sensor_summary"
    shopping = store.search("groceries", k=1, mode="vector")[0]
    assert shopping.item.id == by_text[PEOPLE[4].text]


EVERYDAY_WORDS = [
    NewMemory("Forgot the name of the new neighbour again, so embarrassing."),
    NewMemory("Need to change the name on the gas bill before the move."),
    NewMemory("Her maiden name is on the old passport, so renew it again this year."),
    NewMemory("The office printer jammed again during the quarterly report."),
    NewMemory("Gave the plumber a shout about the boiler pressure again."),
    NewMemory("Lunch with the team at the noodle place near the station."),
]
THE_DOG = NewMemory("Our rescue dog is a three-legged Lapphund called Brunost.")


def test_the_memory_that_means_the_question_is_found_beside_notes_sharing_its_words(
    store: SqliteMemoryStore,
) -> None:
    items = store.add_many([*EVERYDAY_WORDS, THE_DOG])
    dog = items[-1].id
    # Four notes share "name" or "again" with the question; the dog's note shares no word.
    asked = store.search("What's the pup's name again?", k=3)
    assert dog in [hit.item.id for hit in asked]
    assert [hit.vector_rank for hit in asked if hit.item.id == dog] == [1]
    # A search for a word the memory holds still puts that memory first.
    assert store.search("Brunost", k=3)[0].item.id == dog
    assert store.search("boiler", k=3)[0].item.text == EVERYDAY_WORDS[4].text


def test_filters_on_kind_source_and_time(store: SqliteMemoryStore) -> None:
    old = store.add(NewMemory("Walked 12 km along the river", happened_at="2024-03-01T09:00:00Z"))
    new = store.add(NewMemory("Walked 5 km in the park", happened_at="2025-06-01T09:00:00+02:00"))
    store.add_many(PEOPLE)
    window = SearchFilters(since="2024-02-01T00:00:00Z", until="2024-04-01T00:00:00Z")
    assert [hit.item.id for hit in store.search("walk", filters=window)] == [old.id]
    later = SearchFilters(since="2025-01-01T00:00:00Z")
    assert new.id in [hit.item.id for hit in store.search("walk", filters=later)]
    assert old.id not in [hit.item.id for hit in store.search("walk", filters=later)]
    device = store.search("sleep", filters=SearchFilters(sources=("device",)))
    assert {hit.item.source for hit in device} == {"device"}
    facts = store.search("Alice", filters=SearchFilters(kinds=("fact",)))
    assert facts and {hit.item.kind for hit in facts} == {"fact"}
    assert new.happened_at == "2025-06-01T07:00:00.000000+00:00"


def test_long_texts_are_chunked_and_point_to_the_whole_item(store: SqliteMemoryStore) -> None:
    filler = " ".join(f"paragraph{n} about gardening and the weather" for n in range(120))
    text = filler + " The spare house key is hidden under the blue flower pot. " + filler
    doc = store.add(NewMemory(text, kind="document"))
    store.add_many(PEOPLE)
    hit = store.search("where is the spare key hidden", k=1)[0]
    assert hit.item.id == doc.id
    assert hit.item.text == text
    assert "spare house key" in hit.snippet


def test_update_reembeds_and_keeps_history(store: SqliteMemoryStore) -> None:
    item = store.add(NewMemory("My bike is red."))
    changed = store.update(item.id, MemoryPatch(text="I sold my bicycle and bought a kayak."))
    assert changed.text.startswith("I sold")
    assert store.search("boat for paddling", k=1)[0].item.id == item.id
    store.pin(item.id)
    history = store.history(item.id)
    assert [entry.action for entry in history] == ["created", "updated", "pinned"]
    assert history[1].changes["text"]["before"] == "My bike is red."
    assert store.get(item.id).pinned


def _raw_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    wal = path.with_name(path.name + "-wal")
    return data + (wal.read_bytes() if wal.exists() else b"")


def test_forget_leaves_no_trace(store: SqliteMemoryStore, tmp_path: Path) -> None:
    secret = store.add(NewMemory("The safe code is zanzibar4471.", kind="fact"))
    message = store.add(NewMemory("I told you the safe code is zanzibar4471", kind="message"))
    derived = store.add(NewMemory("The user has a safe.", kind="fact", derived_from=(message.id,)))
    store.add_many(PEOPLE)
    store.update(secret.id, MemoryPatch(text="The safe code is zanzibar4471, really."))
    removed = store.forget(secret.id)
    assert removed == [secret.id]
    assert set(store.forget(message.id)) == {message.id, derived.id}

    for gone in (secret.id, message.id, derived.id):
        with pytest.raises(UnknownMemoryError):
            store.get(gone)
    hits = store.search("zanzibar4471 safe code", k=20)
    assert not {hit.item.id for hit in hits} & {secret.id, message.id, derived.id}
    out = io.StringIO()
    store.export_jsonl(out)
    assert "zanzibar4471" not in out.getvalue()
    with sqlite3.connect(store.path) as conn:
        assert conn.execute(
            "SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH 'zanzibar4471'"
        ).fetchone() == (0,)
        for table, column in (("items", "id"), ("chunks", "item_id"), ("history", "item_id")):
            assert conn.execute(
                f"SELECT count(*) FROM {table} WHERE {column} IN (?, ?, ?)",
                (secret.id, message.id, derived.id),
            ).fetchone() == (0,)
        chunk_count = conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
        assert conn.execute("SELECT count(*) FROM vectors").fetchone() == (chunk_count,)
    assert store.reembed_progress().done == chunk_count  # the index holds exactly those vectors
    store.checkpoint()
    assert b"zanzibar4471" not in _raw_bytes(store.path)


def test_a_large_stores_forget_leaves_the_file_rewrite_to_the_night(
    store: SqliteMemoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.add_many(PEOPLE)
    secret = store.add(NewMemory("The alarm code is quokka9182.", kind="fact"))
    monkeypatch.setattr(sqlite_store, "REWRITE_NOW_MAX_BYTES", 0)  # every store is "large"
    store.forget(secret.id)
    with pytest.raises(UnknownMemoryError):
        store.get(secret.id)
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'rewrite_due'").fetchone() == ("1",)
    # The night's housekeeping run rewrites it even with nothing of its own to purge.
    assert store.housekeeping.purge_due(datetime.now(UTC)) == 0
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'rewrite_due'").fetchone() == ("0",)
    store.checkpoint()
    assert b"quokka9182" not in _raw_bytes(store.path)


def test_export_import_round_trips_exactly(
    store: SqliteMemoryStore, tmp_path: Path, embedder: object
) -> None:
    items = store.add_many(PEOPLE)
    store.update(items[0].id, MemoryPatch(metadata={"from": "test", "n": [1, 2.5]}))
    store.pin(items[1].id)
    store.add(NewMemory("Biscuit is Tom's dog", kind="fact", derived_from=(items[1].id,)))
    first = io.StringIO()
    assert store.export_jsonl(first) == len(PEOPLE) + 1
    other = SqliteMemoryStore(tmp_path / "other.db", embedder)  # type: ignore[arg-type]
    try:
        report = other.import_jsonl(io.StringIO(first.getvalue()))
        assert (report.added, report.skipped) == (len(PEOPLE) + 1, 0)
        again = other.import_jsonl(io.StringIO(first.getvalue()))
        assert (again.added, again.skipped) == (0, len(PEOPLE) + 1)
        second = io.StringIO()
        other.export_jsonl(second)
        assert second.getvalue() == first.getvalue()
        assert other.search("What is Alice's job?", k=1)[0].item.id == items[0].id
    finally:
        other.close()
    with pytest.raises(ImportFormatError, match="header"):
        store.import_jsonl(io.StringIO('{"id": "x"}\n'))


def test_bad_input_is_refused_clearly(store: SqliteMemoryStore) -> None:
    with pytest.raises(InvalidMemoryError, match="empty"):
        store.add(NewMemory("   "))
    with pytest.raises(InvalidMemoryError, match="split it"):
        store.add(NewMemory("x" * (MAX_TEXT_CHARS + 1)))
    with pytest.raises(InvalidMemoryError, match="kind"):
        store.add(NewMemory("hello", kind="diary"))
    with pytest.raises(InvalidMemoryError, match="ISO 8601"):
        store.add(NewMemory("hello", happened_at="last tuesday"))
    with pytest.raises(InvalidMemoryError, match="earlier"):
        store.search(
            "x", filters=SearchFilters(since="2025-01-02T00:00Z", until="2025-01-01T00:00Z")
        )
    with pytest.raises(InvalidMemoryError, match="source"):
        store.search("x", filters=SearchFilters(sources=("satellite",)))
    with pytest.raises(UnknownMemoryError, match="search"):
        store.get("mem_doesnotexist")
    with pytest.raises(UnknownMemoryError):
        store.forget("mem_doesnotexist")
    assert store.count() == 0


def test_similar_facts_merge_instead_of_duplicating(store: SqliteMemoryStore) -> None:
    first = remember_fact(store, "My sister Ana lives in Porto.")
    same = remember_fact(store, "my sister Ana lives in Porto")
    moved = remember_fact(store, "My sister Ana lives in Lisbon.")
    other = remember_fact(store, "I am allergic to peanuts.")
    assert (first.action, same.action, moved.action, other.action) == (
        "added",
        "unchanged",
        "merged",
        "added",
    )
    assert moved.item.id == first.item.id and moved.item.text == "My sister Ana lives in Lisbon."
    assert store.count() == 2
    assert store.history(first.item.id)[-1].action == "merged"


def test_a_new_embedding_model_reembeds_in_the_background(tmp_path: Path) -> None:
    path = tmp_path / "memory.db"
    first = SqliteMemoryStore(path, HashingEmbedder(16, "model-a"))
    first.add_many([NewMemory(f"note number {n} about topic{n}") for n in range(300)])
    first.close()
    second = SqliteMemoryStore(path, HashingEmbedder(512, "model-b"))
    try:
        assert second.reembed_progress().done == 0
        seen: list[tuple[int, int]] = []
        second.reembed_now(progress=lambda done, total: seen.append((done, total)))
        assert seen[-1] == (300, 300) and len(seen) > 1
        found = second.search("note number 17 about topic17", k=1, mode="vector")[0]
        assert found.item.text == "note number 17 about topic17"
        assert found.similarity == pytest.approx(1.0)
        with sqlite3.connect(path) as conn:
            models = {row[0] for row in conn.execute("SELECT DISTINCT model FROM vectors")}
        assert models == {"model-b"}
    finally:
        second.close()


def test_reembedding_progress_is_counted_without_waiting_for_the_store(tmp_path: Path) -> None:
    """The start's check for re-embedding counts every chunk: it must not hold the store's
    lock meanwhile (housekeeping's start and every search would wait for it)."""
    path = tmp_path / "memory.db"
    first = SqliteMemoryStore(path, HashingEmbedder(16, "model-a"))
    first.add_many([NewMemory(f"note number {n}") for n in range(40)])
    first.close()
    second = SqliteMemoryStore(path, HashingEmbedder(16, "model-b"))
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with second._lock:  # as a long search or write would
            held.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(10)
        counted: list[tuple[int, int, int]] = []
        counter = threading.Thread(
            target=lambda: counted.append(
                (
                    second.reembed_progress().done,
                    second.reembed_progress().total,
                    second.count(),  # the status page's count of memories, polled
                )
            )
        )
        counter.start()
        counter.join(10)  # a guard against a hang, not a timing: it answers at once
        assert counted == [(0, 40, 40)]
    finally:
        release.set()
        holder.join()
        second.close()


def test_vectors_of_every_other_model_are_dropped_and_a_start_with_none_writes_nothing(
    tmp_path: Path,
) -> None:
    path = tmp_path / "memory.db"
    for model in ("model-b", "model-a"):  # two older models' vectors left behind
        older = SqliteMemoryStore(path, HashingEmbedder(16, model))
        older.add(NewMemory(f"kept by {model}"))
        older.close()
    store = SqliteMemoryStore(path, HashingEmbedder(16, "model-c"))
    try:
        store.reembed_now()
        with sqlite3.connect(path) as conn:
            models = {row[0] for row in conn.execute("SELECT DISTINCT model FROM vectors")}
        assert models == {"model-c"}
        assert store.reembed_progress().complete
    finally:
        store.close()
    with sqlite3.connect(path) as watcher:  # data_version moves when another connection commits
        before = watcher.execute("PRAGMA data_version").fetchone()[0]
        store = SqliteMemoryStore(path, HashingEmbedder(16, "model-c"))
        statements: list[str] = []
        try:
            store._conn.set_trace_callback(statements.append)
            store.start_reembedding()  # as at every start: nothing to re-embed or drop
            assert store._reembed_thread is not None
            store._reembed_thread.join(30)
            store._conn.set_trace_callback(None)
            assert watcher.execute("PRAGMA data_version").fetchone()[0] == before
            # Nor reads every vector: each statement goes through an index (at 100k items a
            # scan of the vectors took 0.15 s under the store's lock, at every start).
            plans = [
                str(row[3])
                for sql in statements
                for row in watcher.execute(f"EXPLAIN QUERY PLAN {sql}").fetchall()
            ]
            assert statements and "SCAN vectors" not in plans
            assert store.search("kept by model-a", k=1, mode="vector")[0].similarity == (
                pytest.approx(1.0)
            )
        finally:
            store.close()


def test_index_progress_counts_vectors_on_a_connection_of_its_own(tmp_path: Path) -> None:
    """The UI polls it during a start: the count (every vector) is not read under the lock."""
    store = SqliteMemoryStore(tmp_path / "memory.db", HashingEmbedder(16, "model-a"))
    try:
        store.add_many([NewMemory(f"note number {n}") for n in range(25)])
        statements: list[str] = []
        store._conn.set_trace_callback(statements.append)
        progress = store.index_progress()
        store._conn.set_trace_callback(None)
        assert (progress.mode, progress.searchable, progress.total) == ("exact", 25, 25)
        assert not [sql for sql in statements if "count(" in sql]
    finally:
        store.close()


def test_items_of_kinds_are_read_oldest_first_also_read_only_beside_the_writer(
    tmp_path: Path,
) -> None:
    hours = iter(datetime(2025, 5, 1, hour, tzinfo=UTC) for hour in range(1, 24))
    path = tmp_path / MEMORY_DB_NAME
    store = SqliteMemoryStore(path, HashingEmbedder(), clock=lambda: next(hours))
    note = store.add(NewMemory("Buy oat milk.", kind="note"))
    store.add(NewMemory("Hello there, how are you?", kind="message"))
    fact = store.add(
        NewMemory("The user has two cats.", kind="fact", happened_at="2024-01-01T00:00:00Z")
    )
    found = store.items_of_kinds(["fact", "note"])
    assert [item.id for item in found] == [note.id, fact.id]
    assert found[1].happened_at == "2024-01-01T00:00:00.000000+00:00"
    assert found[1].stored_at == "2025-05-01T03:00:00.000000+00:00"
    with SqliteMemoryReader(path) as reader:  # while the store still has it open
        assert reader.items_of_kinds(["fact", "note"]) == found
        assert reader.items_of_kinds(["transcript"]) == []
        with pytest.raises(InvalidMemoryError, match="not a memory kind"):
            reader.items_of_kinds(["diary"])
    store.close()
