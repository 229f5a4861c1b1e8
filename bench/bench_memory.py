"""Benchmark the memory store against the bare parts it is built from, in one run.

On seeded synthetic 384-d unit vectors shaped like sentence embeddings (clustered in a 48-d
subspace plus noise; pure random vectors have no neighbours worth finding, and no ANN index
finds them well), at 10k and 100k items by default (--sizes 1000000 2000000 for a lifetime):
  - load: items/s stored through the store (SQLite, FTS5, vectors) in batches of 5,000
  - rebuild: building the HNSW index from memory.db in the background, as after a restore
  - open: starting the store on its saved index, the first search after it, and the resident
    memory the store added (RSS after opening / after the queries; "map" is the part of it that
    is the memory-mapped graph file: only the pages searches touched, which the kernel can drop)
  - search latency p50/p95: exact NumPy baseline (one matrix product and a partial sort), the
    store's vector search, hybrid with BM25, and hybrid with a 7-day time filter
  - recall@10 of the store's vector search against the exact baseline
  - bytes per item on disk (database after a checkpoint, plus the index folder)
Then, with the real embedding model on 2,000 sentences: ingest throughput (items/s embedded and
stored) against bare sentence-transformers encoding of the same texts.

Goals (issue 20, at 2M items): vector p95 <= 20 ms with recall@10 >= 0.95, hybrid with a time
filter p95 <= 40 ms, index RSS <= 1 GB, ingest >= 0.9x bare encoding.

    .venv/bin/python bench/bench_memory.py [--sizes 10000 100000] [--queries 200]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from memory.ann_file import index_folder
from memory.embedder import SentenceTransformerEmbedder, Vectors
from memory.sqlite_store import SqliteMemoryStore
from memory.types import NewMemory, SearchFilters

DIM = 384
LATENT = 48
K = 10
SEED = 20250514
BATCH = 5000
YEARS = 5
START = datetime(2021, 1, 1, tzinfo=UTC)


class PresetEmbedder:
    """Looks texts up by their number ("item 12 ...", "q3 ..."), so the store indexes exactly
    the bench data."""

    name = "bench-preset"
    dimension = DIM

    def __init__(self, data: Vectors, queries: Vectors) -> None:
        self.data = data
        self.queries = queries

    def embed(self, texts: Sequence[str]) -> Vectors:
        rows = []
        for text in texts:
            first, second = [*text.split(" ", 2), ""][:2]
            rows.append(self.data[int(second)] if first == "item" else self.queries[int(first[1:])])
        return np.stack(rows).astype(np.float32)


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def embedding_like(rng: np.random.Generator, count: int) -> np.ndarray:
    """Clustered unit vectors in a low-dimensional subspace, like sentence embeddings."""
    basis = np.linalg.qr(np.random.default_rng(SEED).normal(size=(DIM, LATENT)))[0].T
    topics = np.random.default_rng(SEED + 1).normal(size=(2000, LATENT))
    out = np.empty((count, DIM), dtype=np.float32)
    for start in range(0, count, 100_000):
        n = min(100_000, count - start)
        latent = topics[rng.integers(0, len(topics), n)] + 0.7 * rng.normal(size=(n, LATENT))
        out[start : start + n] = unit(latent @ basis + 0.02 * rng.normal(size=(n, DIM)))
    return out


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q))


def exact_top(matrix: np.ndarray, query: np.ndarray, k: int) -> np.ndarray:
    scores = matrix @ query
    top = np.argpartition(-scores, k - 1)[:k]
    return top[np.argsort(-scores[top])]


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def mapped_rss_mb(folder: Path) -> float:
    """Resident memory of this process's mappings of files in ``folder`` (the index graph)."""
    total, inside = 0, False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        fields = line.split()
        if fields and "-" in fields[0] and len(fields) >= 5:
            inside = len(fields) >= 6 and fields[5].startswith(str(folder))
        elif inside and fields[0] == "Rss:":
            total += int(fields[1])
    return total / 1024


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def bench_size(size: int, queries: int, words: list[str]) -> dict[str, float]:
    rng = np.random.default_rng(SEED + size)
    data = embedding_like(rng, size)
    picks = rng.integers(0, size, queries)
    query_vectors = unit(data[picks] + 0.5 * embedding_like(rng, queries))
    embedder = PresetEmbedder(data, query_vectors)
    vocabulary = np.array(words)
    query_texts = [f"q{j} " + " ".join(rng.choice(words, 3)) for j in range(queries)]
    days = YEARS * 365
    happened = rng.integers(0, days * 86400, size)

    def memories(start: int) -> list[NewMemory]:
        picked = vocabulary[rng.integers(0, len(words), (min(BATCH, size - start), 8))]
        return [
            NewMemory(
                f"item {start + n} " + " ".join(row),
                happened_at=(START + timedelta(seconds=int(happened[start + n]))).isoformat(),
            )
            for n, row in enumerate(picked)
        ]

    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as folder:
        path = Path(folder) / "memory.db"
        # Bulk load without folding the index every 20k items: one exact layer, built after.
        store = SqliteMemoryStore(path, embedder, exact_limit=size + 1)
        started = time.perf_counter()
        for start in range(0, size, BATCH):
            store.add_many(memories(start))
        load_seconds = time.perf_counter() - started
        store.close()

        started = time.perf_counter()
        store = SqliteMemoryStore(path, embedder)  # no saved index: rebuilt in the background
        store.wait_for_index()
        rebuild_seconds = time.perf_counter() - started
        store.close()

        rss_before = rss_mb()
        started = time.perf_counter()
        store = SqliteMemoryStore(path, embedder)
        open_seconds = time.perf_counter() - started
        store.search(query_texts[0], k=K, mode="hybrid")
        first_search = time.perf_counter() - started - open_seconds
        rss_open = rss_mb() - rss_before
        assert store.index_progress().mode == ("ann" if size >= 20_000 else "exact")

        baseline, vector_path, hybrid, timed, recalls = [], [], [], [], []
        for text, vector in zip(query_texts, query_vectors, strict=True):
            since = START + timedelta(days=int(rng.integers(0, days - 7)))
            window = SearchFilters(
                since=since.isoformat(), until=(since + timedelta(days=7)).isoformat()
            )
            t0 = time.perf_counter()
            exact = exact_top(data, vector, K)
            t1 = time.perf_counter()
            hits = store.search(text, k=K, mode="vector")
            t2 = time.perf_counter()
            store.search(text, k=K, mode="hybrid")
            t3 = time.perf_counter()
            store.search(text, k=K, mode="hybrid", filters=window)
            t4 = time.perf_counter()
            baseline.append((t1 - t0) * 1000)
            vector_path.append((t2 - t1) * 1000)
            hybrid.append((t3 - t2) * 1000)
            timed.append((t4 - t3) * 1000)
            got = {int(hit.item.text.split(" ", 2)[1]) for hit in hits}
            recalls.append(len(got & set(exact.tolist())) / K)
        rss_queries = rss_mb() - rss_before
        index_rss = mapped_rss_mb(index_folder(path))
        store.checkpoint()
        store.close()
        on_disk = sum(
            os.path.getsize(p) for p in Path(folder).iterdir() if p.name.startswith("memory.db")
        ) + folder_bytes(index_folder(path))
    return {
        "size": size,
        "load_per_s": size / load_seconds,
        "rebuild_s": rebuild_seconds,
        "open_s": open_seconds,
        "first_ms": first_search * 1000,
        "rss_open_mb": rss_open,
        "rss_mb": rss_queries,
        "index_rss_mb": index_rss,
        "numpy_p50": statistics.median(baseline),
        "numpy_p95": percentile(baseline, 95),
        "store_p50": statistics.median(vector_path),
        "store_p95": percentile(vector_path, 95),
        "hybrid_p50": statistics.median(hybrid),
        "hybrid_p95": percentile(hybrid, 95),
        "timed_p50": statistics.median(timed),
        "timed_p95": percentile(timed, 95),
        "recall": float(np.mean(recalls)),
        "bytes_per_item": on_disk / size,
    }


def sentences(count: int) -> list[str]:
    rng = np.random.default_rng(SEED)
    people = ["Alice", "Bob", "my sister", "Tom", "the doctor", "my manager", "Grandma", "Léa"]
    verbs = ["met", "called", "had lunch with", "argued with", "walked with", "texted"]
    places = ["at the market", "in the park", "at work", "near the station", "at home", "online"]
    extras = [
        "about the holiday plans",
        "about a new job",
        "and talked about books",
        "before the meeting",
        "after a long run",
        "while it rained",
    ]
    return [
        f"{rng.choice(people)} {rng.choice(verbs)} {rng.choice(people)} {rng.choice(places)} "
        f"{rng.choice(extras)} (note {n})."
        for n in range(count)
    ]


def bench_ingest(count: int) -> dict[str, float]:
    embedder = SentenceTransformerEmbedder()
    texts = sentences(count)
    embedder.embed(texts[:64])  # warm up
    rounds = []
    with tempfile.TemporaryDirectory() as folder:
        for attempt in range(2):  # alternate, so neither side gets a warmer machine
            t0 = time.perf_counter()
            embedder.embed(texts)
            bare = time.perf_counter() - t0
            store = SqliteMemoryStore(Path(folder) / f"ingest{attempt}.db", embedder)
            t1 = time.perf_counter()
            store.add_many([NewMemory(text) for text in texts])
            stored = time.perf_counter() - t1
            store.close()
            rounds.append((bare, stored))
    bare = min(r[0] for r in rounds)
    stored = min(r[1] for r in rounds)
    return {"count": count, "bare_per_s": count / bare, "store_per_s": count / stored}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--ingest", type=int, default=2000, help="0 skips the ingest run")
    args = parser.parse_args()
    words = [f"w{n}" for n in range(2000)]
    print(
        f"memory benchmark: {DIM}-d seeded embedding-like vectors, k={K}, {args.queries} "
        f"queries, {os.cpu_count()} cores; times in ms unless marked"
    )
    print(
        f"{'items':>8} {'load/s':>7} {'rebuild s':>9} {'open s':>6} {'1st ms':>6} "
        f"{'RSS MB':>11} {'map MB':>6} {'numpy p50/p95':>13} {'vector p50/p95':>14} "
        f"{'hybrid p50/p95':>14} "
        f"{'+7 days p50/p95':>15} {'recall@10':>9} {'B/item':>6}",
        flush=True,
    )
    for size in args.sizes:
        r = bench_size(size, args.queries, words)
        print(
            f"{size:>8} {r['load_per_s']:>7.0f} {r['rebuild_s']:>9.1f} {r['open_s']:>6.2f} "
            f"{r['first_ms']:>6.1f} {r['rss_open_mb']:>5.0f}/{r['rss_mb']:<5.0f} "
            f"{r['index_rss_mb']:>6.0f} "
            f"{r['numpy_p50']:>6.1f}/{r['numpy_p95']:<6.1f} "
            f"{r['store_p50']:>6.1f}/{r['store_p95']:<7.1f} "
            f"{r['hybrid_p50']:>6.1f}/{r['hybrid_p95']:<7.1f} "
            f"{r['timed_p50']:>7.1f}/{r['timed_p95']:<7.1f} "
            f"{r['recall']:>9.3f} {r['bytes_per_item']:>6.0f}",
            flush=True,
        )
    if args.ingest:
        ingest = bench_ingest(args.ingest)
        ratio = ingest["store_per_s"] / ingest["bare_per_s"]
        print(
            f"ingest of {ingest['count']} sentences with all-MiniLM-L6-v2: bare encoding "
            f"{ingest['bare_per_s']:.0f} items/s, store (embed + SQLite + index) "
            f"{ingest['store_per_s']:.0f} items/s, ratio {ratio:.2f}"
        )


if __name__ == "__main__":
    main()
