"""Benchmark the memory store against the bare parts it is built from, in one run.

On the same seeded random 384-d unit vectors, at 10k and 100k items:
  - search latency p50/p95: the hub's store (vector path, and full hybrid with BM25) against an
    exact NumPy baseline (one matrix product and a partial sort)
  - recall@10 of the store's vector search against the exact baseline
  - bytes per item on disk (database after a checkpoint)
Then, with the real embedding model on 2,000 sentences: ingest throughput (items/s embedded and
stored) against bare sentence-transformers encoding of the same texts.

Goals: p95 at 100k at most 1.5x the NumPy baseline, recall@10 at least 0.99, ingest at least
0.9x bare encoding.

    .venv/bin/python bench/bench_memory.py [--sizes 10000 100000] [--queries 200]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from memory.embedder import SentenceTransformerEmbedder, Vectors
from memory.sqlite_store import SqliteMemoryStore
from memory.types import NewMemory

DIM = 384
K = 10
SEED = 20250514


class PresetEmbedder:
    """Looks texts up in a table of given vectors, so the store indexes exactly the bench data."""

    name = "bench-preset"
    dimension = DIM

    def __init__(self) -> None:
        self.table: dict[str, Vectors] = {}

    def embed(self, texts: Sequence[str]) -> Vectors:
        return np.stack([self.table[text] for text in texts]).astype(np.float32)


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q))


def exact_top(matrix: np.ndarray, query: np.ndarray, k: int) -> np.ndarray:
    scores = matrix @ query
    top = np.argpartition(-scores, k - 1)[:k]
    return top[np.argsort(-scores[top])]


def bench_size(size: int, queries: int, words: list[str]) -> dict[str, float]:
    rng = np.random.default_rng(SEED + size)
    data = unit(rng.normal(size=(size, DIM)))
    picks = rng.integers(0, size, queries)
    query_vectors = unit(data[picks] + 0.8 * unit(rng.normal(size=(queries, DIM))))
    embedder = PresetEmbedder()
    texts = [f"item {i} " + " ".join(rng.choice(words, 8)) for i in range(size)]
    query_texts = [" ".join(rng.choice(words, 3)) + f" q{j}" for j in range(queries)]
    for text, vector in zip(texts, data, strict=True):
        embedder.table[text] = vector
    for text, vector in zip(query_texts, query_vectors, strict=True):
        embedder.table[text] = vector

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "memory.db"
        store = SqliteMemoryStore(path, embedder)
        started = time.perf_counter()
        for start in range(0, size, 5000):
            store.add_many([NewMemory(text) for text in texts[start : start + 5000]])
        load_seconds = time.perf_counter() - started
        ids = [item.id for item in store.list_items(limit=1000)[0]]  # warm the caches
        assert ids
        row_of_text = {text: row for row, text in enumerate(texts)}

        baseline, vector_path, hybrid, recalls = [], [], [], []
        for text, vector in zip(query_texts, query_vectors, strict=True):
            t0 = time.perf_counter()
            exact = exact_top(data, vector, K)
            t1 = time.perf_counter()
            hits = store.search(text, k=K, mode="vector")
            t2 = time.perf_counter()
            store.search(text, k=K, mode="hybrid")
            t3 = time.perf_counter()
            baseline.append((t1 - t0) * 1000)
            vector_path.append((t2 - t1) * 1000)
            hybrid.append((t3 - t2) * 1000)
            got = {row_of_text[hit.item.text] for hit in hits}
            recalls.append(len(got & set(exact.tolist())) / K)
        store.checkpoint()
        store.close()
        on_disk = sum(
            os.path.getsize(p) for p in Path(folder).iterdir() if p.name.startswith("memory.db")
        )
    return {
        "size": size,
        "load_s": load_seconds,
        "numpy_p50": statistics.median(baseline),
        "numpy_p95": percentile(baseline, 95),
        "store_p50": statistics.median(vector_path),
        "store_p95": percentile(vector_path, 95),
        "hybrid_p50": statistics.median(hybrid),
        "hybrid_p95": percentile(hybrid, 95),
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
    parser.add_argument("--ingest", type=int, default=2000)
    args = parser.parse_args()
    words = [f"w{n}" for n in range(2000)]
    print(
        f"memory benchmark: {DIM}-d seeded random vectors, k={K}, {args.queries} queries, "
        f"{os.cpu_count()} cores"
    )
    print(
        f"{'items':>8} {'numpy p50/p95 ms':>17} {'store p50/p95 ms':>17} {'p95 ratio':>9} "
        f"{'hybrid p50/p95 ms':>18} {'recall@10':>9} {'bytes/item':>10} {'load s':>7}"
    )
    for size in args.sizes:
        r = bench_size(size, args.queries, words)
        print(
            f"{size:>8} {r['numpy_p50']:>8.2f}/{r['numpy_p95']:<8.2f} "
            f"{r['store_p50']:>8.2f}/{r['store_p95']:<8.2f} "
            f"{r['store_p95'] / r['numpy_p95']:>9.2f} "
            f"{r['hybrid_p50']:>9.2f}/{r['hybrid_p95']:<8.2f} "
            f"{r['recall']:>9.3f} {r['bytes_per_item']:>10.0f} {r['load_s']:>7.1f}"
        )
    ingest = bench_ingest(args.ingest)
    ratio = ingest["store_per_s"] / ingest["bare_per_s"]
    print(
        f"ingest of {ingest['count']} sentences with all-MiniLM-L6-v2: bare encoding "
        f"{ingest['bare_per_s']:.0f} items/s, store (embed + SQLite + index) "
        f"{ingest['store_per_s']:.0f} items/s, ratio {ratio:.2f}"
    )


if __name__ == "__main__":
    main()
