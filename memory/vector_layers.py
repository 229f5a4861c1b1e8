"""LayeredVectors: the store's vector search, exact while small, a saved HNSW index when large.

Two layers. ``recent`` is the exact NumPy index (``VectorIndex``): the whole store while it has
fewer than ``exact_limit`` vectors, afterwards only what came since the HNSW graph was last
saved. ``base`` is that graph, memory-mapped read-only from the index folder, with a set of
``dead`` keys forgotten since. When ``recent`` reaches the limit, or a forget leaves a dead key
in the graph, a background thread folds them into a new graph file (the forgotten vectors'
slots overwritten), and ``base`` switches to it.

SQLite's vector log ties the two together: the graph file records the highest log sequence it
holds, and opening replays every vector changed after it, so a crash loses nothing and brings
back nothing forgotten. A graph that is missing, unreadable or from another database or model
is rebuilt from SQLite in the background; meanwhile search finds by words and, by meaning,
whatever came since.

Callers hold ``lock`` (the store's) around every public method but ``close``.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from memory import ann_file
from memory.embedder import Vectors
from memory.tables import IN_BATCH, MemoryTables
from memory.types import IndexMode, IndexProgress
from memory.usearch_index import Index
from memory.vector_index import IndexedChunk, VectorFilter, VectorIndex

logger = logging.getLogger(__name__)

# Below this many vectors an exact scan is both exact and about as fast as the graph (2 ms at
# 20k, bench/bench_memory.py); it is also how many new vectors wait before being folded in.
EXACT_LIMIT = 20_000
# A filter passing at most this many chunks is answered exactly (vectors and words alike).
SELECTIVE_LIMIT = 20_000
# Graph candidates fetched per query and re-ranked exactly on SQLite's float32 vectors, and the
# most fetched for a filter. The graph compares binary codes, so the true nearest 10 are spread
# wider among its answers: at 2M items (bench/bench_memory.py, a beam of 1024) 300 candidates
# gave recall@10 0.977 and 200 gave 0.970 (int8 vectors, a beam of 256 and 100 candidates gave
# 0.909). Re-ranking costs 5-10 us a candidate (SQLite lookups, 300k items), more when busy,
# so more than a few hundred would eat the latency goal.
CANDIDATES = 300
# Of a narrow filter's keys, ranked by Hamming distance over all of them (no graph search to
# miss any), this many are re-ranked: for 7.6k keys of the 2M items, 100 kept recall@10 0.983,
# 200 kept 0.996, 300 kept 0.9995.
FILTERED_CANDIDATES = 200
MAX_CANDIDATES = 6_400
REBUILD_PAGE = 10_000
META_KEY = "vector_index"


class LayeredVectors:
    """Vector search over a saved HNSW graph and an exact layer, in step with SQLite."""

    def __init__(
        self,
        folder: Path,
        tables: MemoryTables,
        lock: threading.RLock,
        atomic: Callable[[], AbstractContextManager[Any]],
        dimension: int,
        exact_limit: int = EXACT_LIMIT,
    ) -> None:
        self.folder = folder
        self._tables = tables
        self._lock = lock
        self._atomic = atomic
        self.dimension = dimension
        self.exact_limit = exact_limit
        self._recent = VectorIndex(dimension)
        self._base: Index | None = None
        self._meta: ann_file.AnnMeta | None = None
        self._dead: set[int] = set()
        self._applied = 0  # the vector log's sequence number the layers reflect
        self._complete = False  # True when base + recent hold every vector (no rebuild due)
        self._removed_in_build: set[int] | None = None
        self._built = 0
        self._error: str | None = None
        self._worker: threading.Thread | None = None
        self._again = False
        self._stop = threading.Event()

    # ----- opening ------------------------------------------------------------------------

    def open(self) -> None:
        """Map the saved graph and replay what changed since, or load a small store exactly, or
        start rebuilding the graph in the background."""
        meta = ann_file.read_meta(self.folder)
        if meta is not None and self._matches(meta):
            try:
                self._base = ann_file.open_view(self.folder, meta)
                self._meta = meta
            except ValueError as error:
                logger.warning("the saved vector index is unusable (%s); rebuilding it", error)
            else:
                self._applied = meta.seq
                # Complete before the replay: the graph plus what the log replays into the
                # exact layer is every vector, so only a full layer or a forgotten vector in
                # the graph calls for a fold. (Marked after it, every start folded: it read the
                # whole graph into memory and wrote it anew, 0.2 s of a core and a 53 MB file
                # at 100k items, beside the model and the embedder loading.)
                self._complete = True
                self._replay(self._tables.changed_since(meta.seq))
                return
        ann_file.forget_saved(self.folder)
        self._applied = self._tables.log_head()
        if self._tables.vector_count() < self.exact_limit:
            chunks, matrix = self._tables.index_rows()
            if chunks:
                self._recent.add(chunks, matrix)
            self._complete = True
        else:
            logger.info("building the vector index from memory.db in the background")
            self._schedule()

    def _matches(self, meta: ann_file.AnnMeta) -> bool:
        return (
            meta.model == self._tables.model
            and meta.dimension == self.dimension
            and self._tables.meta_value(META_KEY) == meta.token
        )

    def _replay(self, chunk_ids: list[int]) -> None:
        """Bring the layers to SQLite's state for chunks whose vector changed."""
        for start in range(0, len(chunk_ids), IN_BATCH):
            part = chunk_ids[start : start + IN_BATCH]
            chunks, matrix = self._tables.index_rows(chunk_ids=part)
            present = {chunk.chunk_id for chunk in chunks}
            self._forget_keys([key for key in part if key not in present])
            fresh = [n for n, chunk in enumerate(chunks) if not self._holds(chunk.chunk_id)]
            if fresh:
                self._recent.add([chunks[n] for n in fresh], matrix[fresh])
        self._after_change()

    def _holds(self, key: int) -> bool:
        if key in self._recent:
            return True
        return self._base is not None and key not in self._dead and bool(self._base.contains(key))

    # ----- changes (after SQLite committed them, under the store's lock) ---------------------

    def added(self, chunks: list[IndexedChunk], vectors: Vectors) -> None:
        """Chunks whose vectors were just committed."""
        if chunks:
            self._recent.add(chunks, vectors)
        self._applied = self._tables.log_head()
        self._after_change()

    def removed(self, chunk_ids: Iterable[int]) -> None:
        """Chunks whose vectors were just deleted."""
        self._forget_keys(list(chunk_ids))
        self._applied = self._tables.log_head()
        self._after_change()

    def retag(self, item_id: str, kind: int, source: int, happened: float) -> None:
        """An item's filter fields changed (the graph filters through SQLite, which has them)."""
        self._recent.retag(item_id, kind, source, happened)

    def _forget_keys(self, keys: list[int]) -> None:
        self._recent.remove(keys)
        for key in keys:
            if self._base is not None and self._base.contains(key):
                self._dead.add(key)
            if self._removed_in_build is not None:
                self._removed_in_build.add(key)

    def _fold_due(self) -> bool:
        """A rebuild is due, the exact layer is full, or the graph still has a forgotten vector."""
        full = len(self._recent) >= self.exact_limit
        return not self._complete or full or bool(self._dead and self._base is not None)

    def _after_change(self) -> None:
        if self._fold_due():
            self._schedule()

    # ----- searching --------------------------------------------------------------------------

    def narrow(
        self, flt: VectorFilter, filter_sql: str, params: list[Any]
    ) -> npt.NDArray[np.uint64] | None:
        """For a large store and a narrow filter ("yesterday"), the sorted ids of every chunk
        that passes it; None when the filter is broad or the store small."""
        if flt.empty or (self._base is None and self._complete):
            return None
        return self._tables.filtered_chunk_ids(filter_sql, params, SELECTIVE_LIMIT)

    def nearest(
        self,
        query: Vectors,
        wanted: int,
        flt: VectorFilter,
        filter_sql: str,
        params: list[Any],
        allowed: npt.NDArray[np.uint64] | None = None,
    ) -> list[tuple[int, str, float]]:
        """(chunk id, item id, similarity) of the ``wanted`` nearest chunks the filter allows;
        ``allowed`` is what ``narrow`` returned for the filter."""
        found = {
            chunk.chunk_id: (chunk.item_id, score)
            for chunk, score in self._recent.nearest(query, wanted, flt)
        }
        if allowed is not None:
            graph = self._among(query, wanted, allowed, filter_sql, params)
        else:
            graph = self._from_graph(query, wanted, filter_sql, params)
        for key, item_id, score in graph:
            found[key] = (item_id, score)
        best = sorted(found.items(), key=lambda entry: -entry[1][1])[:wanted]
        return [(key, item_id, score) for key, (item_id, score) in best]

    def _among(
        self,
        query: Vectors,
        wanted: int,
        allowed: npt.NDArray[np.uint64],
        filter_sql: str,
        params: list[Any],
    ) -> list[tuple[int, str, float]]:
        """A narrow filter is searched exactly: the graph would have to be searched far too
        wide to find enough chunks that pass it."""
        base = self._base
        if base is None:  # while rebuilding: from SQLite's vectors
            return self._tables.scored_candidates(None, filter_sql, params, query)
        keys = allowed
        if len(keys):
            keys = keys[np.asarray(base.contains(keys), dtype=bool).reshape(-1)]
        if self._dead:
            keys = keys[~np.isin(keys, np.fromiter(self._dead, dtype=np.uint64))]
        if not len(keys):
            return []
        # Hamming distance on the graph's binary codes (all present: checked above), then the
        # nearest re-ranked on the float32 vectors. Fetching the codes is most of the first
        # step (7.6k keys at 2M items: about half the time int8 copies took); scoring every
        # passing key on SQLite's float32 vectors instead took 240 ms for 7.6k (300k items,
        # 2 busy cores): the cost of a filter still grows with what it passes.
        distances = ann_file.hamming(ann_file.stored_codes(base, keys), ann_file.to_codes(query))
        count = min(max(wanted, FILTERED_CANDIDATES), len(keys))
        top = keys[np.argpartition(distances, count - 1)[:count]]
        return self._tables.nearest_among([int(key) for key in top], query, wanted)

    def _from_graph(
        self, query: Vectors, wanted: int, filter_sql: str, params: list[Any]
    ) -> list[tuple[int, str, float]]:
        base = self._base
        if base is None:
            return []
        count = max(wanted, CANDIDATES)
        code = ann_file.to_codes(query)[0]
        while True:
            keys = [int(key) for key in base.search(code, count).keys if key not in self._dead]
            # Re-ranked exactly on SQLite's float32 vectors, which also applies the filter.
            if filter_sql:
                scored = self._tables.scored_candidates(keys, filter_sql, params, query)
            else:
                scored = self._tables.nearest_among(keys, query, wanted)
            if len(scored) >= wanted or count >= len(base) or count >= MAX_CANDIDATES:
                return scored
            count = min(count * 4, MAX_CANDIDATES)

    def similarity(self, chunk_id: int, query: Vectors) -> float | None:
        """Exact inner product of one chunk's vector with ``query`` (None without a vector)."""
        found = self._recent.similarity(chunk_id, query)
        if found is not None:
            return found
        scored = self._tables.scored_candidates([chunk_id], "", [], query)
        return scored[0][2] if scored else None

    def progress(self, total: int) -> IndexProgress:
        """How search is served now, and how far a rebuild has got, of ``total`` vectors (the
        caller counts them: it need not hold the lock for that)."""
        in_base = len(self._base) - len(self._dead) if self._base is not None else 0
        mode: IndexMode
        if self._base is None and self._complete:
            mode = "exact"
        elif self._complete:
            mode = "ann"
        else:
            mode = "building"
        return IndexProgress(mode, in_base + len(self._recent), total, self._built, self._error)

    # ----- folding into a new graph (background) ------------------------------------------

    def _schedule(self) -> None:
        if self._stop.is_set():
            return
        if self._worker is not None and self._worker.is_alive():
            self._again = True
            return
        self._again = False
        self._worker = threading.Thread(target=self._work, name="memory-index", daemon=True)
        self._worker.start()

    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                self.fold()
                self._error = None
            except Exception as exc:
                self._error = f"saving the vector index failed: {exc}; it is retried on change"
                logger.exception("saving the vector index failed")
                with self._lock:
                    self._removed_in_build, self._built = None, 0
                return
            with self._lock:
                if not (self._again and self._fold_due()):
                    self._worker = None
                    return
                self._again = False

    def fold(self) -> None:
        """Write a new graph file holding the graph, minus the dead keys, plus the recent layer
        (or, when a rebuild is due, every vector in SQLite), and switch to it."""
        with self._lock:
            chunks, vectors = self._recent.snapshot()
            dead = set(self._dead)
            seq = self._applied
            old_meta = self._meta
            from_sqlite = not self._complete
            self._removed_in_build = set()
            self._built = 0
        index, free = ann_file.new_index(self.dimension), 0
        if old_meta is not None:
            index, free = ann_file.load_for_edit(self.folder, old_meta)
        if from_sqlite:
            self._add_from_sqlite(index)
        doomed = [key for key in dead if index.contains(key)]
        if doomed:
            index.remove(doomed)
            free += len(doomed)
        keys = np.array([chunk.chunk_id for chunk in chunks], dtype=np.uint64)
        if len(keys):
            fresh = ~np.asarray(index.contains(keys), dtype=bool).reshape(-1)
            if fresh.any():
                index.add(keys[fresh], ann_file.to_codes(vectors[fresh]), threads=_threads())
                free -= int(fresh.sum())  # usearch fills free slots first
        # Every free slot, not only today's: which one a placeholder lands in is usearch's choice.
        ann_file.scrub(index, free)
        meta = ann_file.AnnMeta(
            secrets.token_hex(8), seq, self._tables.model, self.dimension, len(index)
        )
        ann_file.save(self.folder, index, meta)
        del index
        with self._lock:
            with self._atomic():
                self._tables.set_meta(META_KEY, meta.token)
                self._tables.prune_log(seq)
            if not self._stop.is_set():  # closed meanwhile: the next open maps it
                self._switch(ann_file.open_view(self.folder, meta), meta)

    def _add_from_sqlite(self, index: Index) -> None:
        after = 0
        while not self._stop.is_set():
            with self._lock:
                chunk_ids, matrix = self._tables.vector_page(after, REBUILD_PAGE)
            if not chunk_ids:
                return
            keys = np.array(chunk_ids, dtype=np.uint64)
            index.add(keys, ann_file.to_codes(matrix), threads=_threads())
            after = chunk_ids[-1]
            self._built += len(chunk_ids)
        raise RuntimeError("the store closed while the vector index was being built")

    def _switch(self, base: Index, meta: ann_file.AnnMeta) -> None:
        removed = self._removed_in_build or set()
        self._removed_in_build = None
        self._dead = {key for key in removed if base.contains(key)}
        self._recent.remove([key for key in self._recent.chunk_ids() if base.contains(key)])
        self._base, self._meta = base, meta
        self._complete = True
        self._built = 0
        if self._dead:
            self._schedule()

    def wait(self, timeout: float = 600.0) -> None:
        """Wait for background folding to finish (tests and the benchmark)."""
        while True:
            worker = self._worker
            if worker is None or not worker.is_alive():
                return
            worker.join(timeout)

    def close(self) -> None:
        """Stop background work (the vector log lets the next open catch up without a save)."""
        self._stop.set()
        worker = self._worker
        if worker is not None:
            # A rebuild stops at its next page; a fold finishes its file (under a minute at
            # 2M items), so the next start need not rebuild.
            worker.join(timeout=300)
        with self._lock:
            # Unmap the graph now: the store object may outlive close (its layers and it refer
            # to each other), and a closed store's mapping kept the pages its searches touched
            # resident (the benchmark counted such a mapping beside the new store's).
            self._base = None


def _threads() -> int:
    return os.cpu_count() or 1
