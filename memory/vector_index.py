"""VectorIndex: every chunk vector of one model in a NumPy matrix, searched exactly.

SQLite holds the vectors; this is a cache the store rebuilds on open and changes only after a
transaction has committed, so it can never hold what SQLite does not.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from memory.embedder import Vectors


@dataclass(frozen=True)
class IndexedChunk:
    """What the index knows about one chunk: enough to filter without asking SQLite."""

    chunk_id: int
    item_id: str
    kind: int
    source: int
    happened: float


@dataclass(frozen=True)
class VectorFilter:
    """Index-level filters: allowed kind and source codes (empty means all) and a time range."""

    kinds: tuple[int, ...] = ()
    sources: tuple[int, ...] = ()
    since: float | None = None
    until: float | None = None

    @property
    def empty(self) -> bool:
        """True when nothing is filtered out."""
        return not (self.kinds or self.sources) and self.since is None and self.until is None


class VectorIndex:
    """Exact inner-product search over unit vectors, with O(1) add and remove."""

    def __init__(self, dimension: int, capacity: int = 1024) -> None:
        self.dimension = dimension
        self._vectors: Vectors = np.zeros((capacity, dimension), dtype=np.float32)
        self._kinds: npt.NDArray[np.int8] = np.zeros(capacity, dtype=np.int8)
        self._sources: npt.NDArray[np.int8] = np.zeros(capacity, dtype=np.int8)
        self._happened: npt.NDArray[np.float64] = np.zeros(capacity, dtype=np.float64)
        self._chunks: list[IndexedChunk] = []
        self._row_of: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self._chunks)

    def __contains__(self, chunk_id: object) -> bool:
        return chunk_id in self._row_of

    def chunk_ids(self) -> set[int]:
        """Every chunk id in the index."""
        return set(self._row_of)

    def snapshot(self) -> tuple[list[IndexedChunk], Vectors]:
        """A copy of every chunk with its vector, row for row."""
        size = len(self._chunks)
        return list(self._chunks), self._vectors[:size].copy()

    def _grow(self, needed: int) -> None:
        capacity = len(self._vectors)
        if needed <= capacity:
            return
        new_capacity = max(needed, capacity * 2)
        self._vectors = np.resize(self._vectors, (new_capacity, self.dimension))
        self._kinds = np.resize(self._kinds, new_capacity)
        self._sources = np.resize(self._sources, new_capacity)
        self._happened = np.resize(self._happened, new_capacity)

    def add(self, chunks: list[IndexedChunk], vectors: Vectors) -> None:
        """Add (or replace) chunks with their vectors, row for row."""
        if len(chunks) != len(vectors):
            raise ValueError("one vector per chunk")
        if vectors.size and vectors.shape[1] != self.dimension:
            raise ValueError(f"vectors have {vectors.shape[1]} dimensions, index {self.dimension}")
        self.remove(chunk.chunk_id for chunk in chunks if chunk.chunk_id in self._row_of)
        start = len(self._chunks)
        self._grow(start + len(chunks))
        end = start + len(chunks)
        self._vectors[start:end] = vectors
        self._kinds[start:end] = [chunk.kind for chunk in chunks]
        self._sources[start:end] = [chunk.source for chunk in chunks]
        self._happened[start:end] = [chunk.happened for chunk in chunks]
        for offset, chunk in enumerate(chunks):
            self._row_of[chunk.chunk_id] = start + offset
        self._chunks.extend(chunks)

    def remove(self, chunk_ids: Iterable[int]) -> None:
        """Drop chunks, moving the last row into each hole."""
        for chunk_id in list(chunk_ids):
            row = self._row_of.pop(chunk_id, None)
            if row is None:
                continue
            last = len(self._chunks) - 1
            if row != last:
                moved = self._chunks[last]
                self._vectors[row] = self._vectors[last]
                self._kinds[row] = self._kinds[last]
                self._sources[row] = self._sources[last]
                self._happened[row] = self._happened[last]
                self._chunks[row] = moved
                self._row_of[moved.chunk_id] = row
            self._chunks.pop()
            self._vectors[last] = 0.0

    def retag(self, item_id: str, kind: int, source: int, happened: float) -> None:
        """Change the filter fields of every chunk of one item (after a metadata-only update)."""
        for row, chunk in enumerate(self._chunks):
            if chunk.item_id == item_id:
                self._chunks[row] = IndexedChunk(chunk.chunk_id, item_id, kind, source, happened)
                self._kinds[row], self._sources[row], self._happened[row] = kind, source, happened

    def _allowed(self, flt: VectorFilter, size: int) -> npt.NDArray[np.bool_]:
        allowed = np.ones(size, dtype=bool)
        if flt.kinds:
            allowed &= np.isin(self._kinds[:size], flt.kinds)
        if flt.sources:
            allowed &= np.isin(self._sources[:size], flt.sources)
        if flt.since is not None:
            allowed &= self._happened[:size] >= flt.since
        if flt.until is not None:
            allowed &= self._happened[:size] < flt.until
        return allowed

    def nearest(
        self, query: Vectors, k: int, flt: VectorFilter | None = None
    ) -> list[tuple[IndexedChunk, float]]:
        """The ``k`` best chunks by inner product, best first, among those the filter allows."""
        size = len(self._chunks)
        if size == 0 or k <= 0:
            return []
        scores = self._vectors[:size] @ query.reshape(-1).astype(np.float32, copy=False)
        if flt is not None and not flt.empty:
            scores = np.where(self._allowed(flt, size), scores, -np.inf)
        k = min(k, size)
        top = np.argpartition(-scores, k - 1)[:k] if k < size else np.arange(size)
        top = top[np.argsort(-scores[top], kind="stable")]
        return [
            (self._chunks[int(row)], float(scores[row])) for row in top if np.isfinite(scores[row])
        ]

    def similarity(self, chunk_id: int, query: Vectors) -> float | None:
        """Inner product of one indexed chunk with ``query``, or None when it is not indexed."""
        row = self._row_of.get(chunk_id)
        if row is None:
            return None
        return float(self._vectors[row] @ query.reshape(-1))
