"""MemoryTables: the SQL behind the store, row by row; callers hold the lock and the transaction."""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from memory.chunking import Chunk
from memory.embedder import Vectors
from memory.timestamps import to_epoch
from memory.types import KINDS, SOURCES, HistoryEntry, MemoryItem
from memory.validation import metadata_json
from memory.vector_index import IndexedChunk

ITEM_COLUMNS = "id, kind, text, source, happened_at, stored_at, updated_at, metadata, pinned"
IN_BATCH = 500


def _blob(vector: Vectors) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def _matrix(blobs: Sequence[bytes]) -> Vectors:
    if not blobs:
        return np.zeros((0, 0), dtype=np.float32)
    matrix = np.frombuffer(b"".join(blobs), dtype="<f4")
    return matrix.reshape(len(blobs), -1).astype(np.float32)


def _marks(values: Sequence[Any]) -> str:
    return ",".join("?" * len(values))


def _tag(item_id: str, kind: str, source: str, happened_at: str, chunk_id: int) -> IndexedChunk:
    return IndexedChunk(
        chunk_id, item_id, KINDS.index(kind), SOURCES.index(source), to_epoch(happened_at)
    )


class MemoryTables:
    """Reads and writes items, chunks, vectors, derivations and history of one connection."""

    def __init__(self, conn: sqlite3.Connection, model: str) -> None:
        self.conn = conn
        self.model = model

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """All rows of a query."""
        found: list[tuple[Any, ...]] = self.conn.execute(sql, params).fetchall()
        return found

    def column(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """The first column of every row of a query."""
        return [row[0] for row in self.rows(sql, params)]

    def derived(self, ids: Sequence[str]) -> dict[str, tuple[str, ...]]:
        """For each fact id, the ids it was derived from."""
        found: dict[str, list[str]] = {}
        for start in range(0, len(ids), IN_BATCH):
            part = ids[start : start + IN_BATCH]
            for fact_id, source_id in self.rows(
                f"SELECT fact_id, source_id FROM derivations WHERE fact_id IN ({_marks(part)}) "
                "ORDER BY fact_id, source_id",
                part,
            ):
                found.setdefault(fact_id, []).append(source_id)
        return {key: tuple(value) for key, value in found.items()}

    def items(self, ids: Sequence[str]) -> dict[str, MemoryItem]:
        """The items with these ids (missing ones are left out)."""
        items: dict[str, MemoryItem] = {}
        derived = self.derived(ids)
        for start in range(0, len(ids), IN_BATCH):
            part = ids[start : start + IN_BATCH]
            for row in self.rows(
                f"SELECT {ITEM_COLUMNS} FROM items WHERE id IN ({_marks(part)})", part
            ):
                items[row[0]] = MemoryItem(
                    id=row[0],
                    kind=row[1],
                    text=row[2],
                    source=row[3],
                    happened_at=row[4],
                    stored_at=row[5],
                    updated_at=row[6],
                    metadata=json.loads(row[7] or "{}"),
                    pinned=bool(row[8]),
                    derived_from=derived.get(row[0], ()),
                )
        return items

    def items_of_kinds(self, kinds: Sequence[str]) -> list[MemoryItem]:
        """Every item of these kinds, oldest stored first."""
        ids = self.column(
            f"SELECT id FROM items WHERE kind IN ({_marks(kinds)}) ORDER BY stored_at, id", kinds
        )
        found = self.items(ids)
        return [found[item_id] for item_id in ids]

    def histories(self, ids: Sequence[str]) -> dict[str, list[HistoryEntry]]:
        """Each item's changes, oldest first."""
        found: dict[str, list[HistoryEntry]] = {}
        for start in range(0, len(ids), IN_BATCH):
            part = ids[start : start + IN_BATCH]
            for row in self.rows(
                f"SELECT item_id, at, action, changes FROM history WHERE item_id IN "
                f"({_marks(part)}) ORDER BY id",
                part,
            ):
                found.setdefault(row[0], []).append(
                    HistoryEntry(row[0], row[1], row[2], json.loads(row[3]))
                )
        return found

    def index_rows(
        self, after: int = 0, limit: int = -1, chunk_ids: Sequence[int] | None = None
    ) -> tuple[list[IndexedChunk], Vectors]:
        """Vectors of the current model (all, a page by chunk id after ``after``, or those of
        ``chunk_ids``) with what the exact index needs to filter them."""
        # "+v.model": walk the primary key (chunk_id, model) in order; through the model's index
        # every page sorted every vector again (a rebuild of 1M items read 180 GB).
        sql = (
            "SELECT v.chunk_id, c.item_id, i.kind, i.source, i.happened_at, v.vector "
            "FROM vectors v CROSS JOIN chunks c ON c.id = v.chunk_id "
            "CROSS JOIN items i ON i.id = c.item_id WHERE +v.model = ? AND v.chunk_id > ?"
        )
        params: list[Any] = [self.model, after]
        if chunk_ids is not None:
            sql += f" AND v.chunk_id IN ({_marks(chunk_ids)})"
            params += list(chunk_ids)
        rows = self.rows(sql + " ORDER BY v.chunk_id LIMIT ?", [*params, limit])
        chunks = [_tag(row[1], row[2], row[3], row[4], row[0]) for row in rows]
        return chunks, _matrix([row[5] for row in rows])

    def vector_page(self, after: int, limit: int) -> tuple[list[int], Vectors]:
        """Chunk ids and vectors of the current model after chunk ``after``, in id order."""
        rows = self.rows(
            "SELECT chunk_id, vector FROM vectors WHERE +model = ? AND chunk_id > ? "
            "ORDER BY chunk_id LIMIT ?",
            (self.model, after, limit),
        )
        return [int(row[0]) for row in rows], _matrix([row[1] for row in rows])

    def scored_candidates(
        self,
        chunk_ids: Sequence[int] | None,
        filter_sql: str,
        params: Sequence[Any],
        query: Vectors,
    ) -> list[tuple[int, str, float]]:
        """(chunk id, item id, exact inner product with ``query``) of the chunks with a current
        vector that pass the filter: among ``chunk_ids``, or all of them when it is None."""
        # CROSS JOIN fixes the loop order: from the filter's index on items (or the given chunk
        # ids) outwards, each vector found by its primary key. Left to itself the planner
        # scanned every vector of the model (80 ms at 30k items for a 7-day filter).
        vector = "CROSS JOIN vectors v ON v.chunk_id = c.id AND v.model = ?"
        rows: list[tuple[Any, ...]] = []
        if chunk_ids is None:
            rows = self.rows(
                "SELECT c.id, c.item_id, v.vector FROM items i CROSS JOIN chunks c "
                f"ON c.item_id = i.id {vector} WHERE 1=1{filter_sql}",
                [self.model, *params],
            )
        else:
            for start in range(0, len(chunk_ids), IN_BATCH):
                part = list(chunk_ids[start : start + IN_BATCH])
                rows += self.rows(
                    "SELECT c.id, c.item_id, v.vector FROM chunks c CROSS JOIN items i "
                    f"ON i.id = c.item_id {vector} WHERE c.id IN ({_marks(part)}){filter_sql}",
                    [self.model, *part, *params],
                )
        if not rows:
            return []
        scores = _matrix([row[2] for row in rows]) @ query.reshape(-1).astype(np.float32)
        pairs = zip(rows, scores, strict=True)
        return [(int(row[0]), str(row[1]), float(score)) for row, score in pairs]

    def nearest_among(
        self, chunk_ids: Sequence[int], query: Vectors, count: int
    ) -> list[tuple[int, str, float]]:
        """(chunk id, item id, exact inner product with ``query``) of the ``count`` best of
        ``chunk_ids`` with a current vector, best first (no filter)."""
        # Scored on the vectors table alone, and only the best looked up for their items:
        # half the time of joining every candidate to chunks and items (1.6 against 2.9 ms
        # for 300 candidates in a 300k-item store).
        rows: list[tuple[Any, ...]] = []
        for start in range(0, len(chunk_ids), IN_BATCH):
            part = list(chunk_ids[start : start + IN_BATCH])
            rows += self.rows(
                "SELECT chunk_id, vector FROM vectors "
                f"WHERE model = ? AND chunk_id IN ({_marks(part)})",
                [self.model, *part],
            )
        if not rows:
            return []
        scores = _matrix([row[1] for row in rows]) @ query.reshape(-1).astype(np.float32)
        best = np.argsort(-scores, kind="stable")[:count]
        items = self.item_ids([int(rows[n][0]) for n in best])
        return [
            (int(rows[n][0]), items[int(rows[n][0])], float(scores[n]))
            for n in best
            if int(rows[n][0]) in items
        ]

    def filtered_chunk_ids(
        self, filter_sql: str, params: Sequence[Any], limit: int
    ) -> npt.NDArray[np.uint64] | None:
        """The ids of every chunk that passes the filter, sorted; None when more than ``limit``
        do. One range of chunk_filters' indexes, never a row of items or chunks."""
        # "i": the filter's SQL names the item's fields, which chunk_filters copies per chunk.
        rows = self.column(
            f"SELECT i.chunk_id FROM chunk_filters i WHERE 1=1{filter_sql} LIMIT ?",
            [*params, limit + 1],
        )
        if len(rows) > limit:
            return None
        return np.sort(np.array(rows, dtype=np.uint64))

    def item_ids(self, chunk_ids: Sequence[int]) -> dict[int, str]:
        """Chunk id -> item id of these chunks."""
        found: dict[int, str] = {}
        for start in range(0, len(chunk_ids), IN_BATCH):
            part = list(chunk_ids[start : start + IN_BATCH])
            for chunk_id, item_id in self.rows(
                f"SELECT id, item_id FROM chunks WHERE id IN ({_marks(part)})", part
            ):
                found[int(chunk_id)] = str(item_id)
        return found

    def text_matches_among(
        self, terms: Sequence[str], allowed: npt.NDArray[np.uint64], limit: int
    ) -> list[tuple[str, int]]:
        """(item id, chunk id) of the chunks among ``allowed`` (sorted) holding the query's
        terms, best first by the summed IDF of the terms each holds (BM25 without its
        term-frequency and length parts, which barely move short chunks). FTS5's ranked scan
        would rank every match in the store before the filter threw nearly all away (240 ms at
        2M items)."""
        total = max(1, int(self.rows("SELECT coalesce(max(id), 0) FROM chunks")[0][0]))
        scores = np.zeros(len(allowed), dtype=np.float64)
        for term in terms:
            found = np.array(
                self.column("SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ?", (term,)),
                dtype=np.uint64,
            )
            weight = math.log(1 + (total - len(found) + 0.5) / (len(found) + 0.5))
            scores[np.isin(allowed, found, assume_unique=True)] += weight
        held = np.flatnonzero(scores)
        # Best first; equal scores newest (highest chunk id) first.
        best = held[np.lexsort((-allowed[held].astype(np.int64), -scores[held]))][:limit]
        chunk_ids = [int(allowed[n]) for n in best]
        items = self.item_ids(chunk_ids)
        return [(items[chunk_id], chunk_id) for chunk_id in chunk_ids if chunk_id in items]

    def vector_count(self) -> int:
        """How many chunks have a vector from the current model."""
        return int(self.rows("SELECT count(*) FROM vectors WHERE model = ?", (self.model,))[0][0])

    def log_head(self) -> int:
        """The sequence number of the latest vector change (0 before the first)."""
        found = self.rows("SELECT seq FROM sqlite_sequence WHERE name = 'vector_log'")
        return int(found[0][0]) if found else 0

    def changed_since(self, seq: int) -> list[int]:
        """The chunks whose current-model vector changed after ``seq``."""
        return [
            int(value)
            for value in self.column(
                "SELECT DISTINCT chunk_id FROM vector_log WHERE seq > ? AND model = ?",
                (seq, self.model),
            )
        ]

    def prune_log(self, seq: int) -> None:
        """Forget vector changes up to ``seq`` (a saved index holds them)."""
        self.conn.execute("DELETE FROM vector_log WHERE seq <= ?", (seq,))

    def meta_value(self, key: str) -> str | None:
        """One value of the meta table."""
        found = self.column("SELECT value FROM meta WHERE key = ?", (key,))
        return str(found[0]) if found else None

    def set_meta(self, key: str, value: str) -> None:
        """Set one value of the meta table."""
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def add_history(self, item_id: str, action: str, changes: dict[str, Any], at: str) -> None:
        """Append one change to an item's history."""
        self.conn.execute(
            "INSERT INTO history (item_id, at, action, changes) VALUES (?, ?, ?, ?)",
            (item_id, at, action, json.dumps(changes, ensure_ascii=False, separators=(",", ":"))),
        )

    def insert_item(self, item: MemoryItem) -> None:
        """Insert an item row and its derivation links."""
        self.conn.execute(
            f"INSERT INTO items ({ITEM_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                item.id,
                item.kind,
                item.text,
                item.source,
                item.happened_at,
                item.stored_at,
                item.updated_at,
                metadata_json(item.metadata),
                int(item.pinned),
            ),
        )
        self.link(item.id, item.derived_from)

    def link(self, fact_id: str, source_ids: Sequence[str]) -> None:
        """Record that ``fact_id`` was derived from ``source_ids``."""
        self.conn.executemany(
            "INSERT OR IGNORE INTO derivations (fact_id, source_id) VALUES (?, ?)",
            [(fact_id, source_id) for source_id in source_ids],
        )

    def update_item(self, item: MemoryItem) -> None:
        """Write an item's fields over its row."""
        self.conn.execute(
            "UPDATE items SET kind=?, text=?, source=?, happened_at=?, updated_at=?, "
            "metadata=?, pinned=? WHERE id=?",
            (
                item.kind,
                item.text,
                item.source,
                item.happened_at,
                item.updated_at,
                metadata_json(item.metadata),
                int(item.pinned),
                item.id,
            ),
        )

    def insert_chunks(
        self, item: MemoryItem, chunks: list[Chunk], vectors: Vectors
    ) -> list[IndexedChunk]:
        """Insert chunks (the FTS triggers index them) and their vectors."""
        indexed = []
        for chunk, vector in zip(chunks, vectors, strict=True):
            cursor = self.conn.execute(
                "INSERT INTO chunks (item_id, seq, start, end, text) VALUES (?, ?, ?, ?, ?)",
                (item.id, chunk.seq, chunk.start, chunk.end, chunk.text),
            )
            chunk_id = int(cursor.lastrowid or 0)
            self.insert_vector(chunk_id, vector)
            indexed.append(_tag(item.id, item.kind, item.source, item.happened_at, chunk_id))
        return indexed

    def insert_vector(self, chunk_id: int, vector: Vectors) -> None:
        """Store one chunk's vector from the current model (kept if one is there already)."""
        self.conn.execute(
            "INSERT OR IGNORE INTO vectors (chunk_id, model, dimension, vector) "
            "VALUES (?, ?, ?, ?)",
            (chunk_id, self.model, len(vector), _blob(vector)),
        )

    def chunk_ids(self, item_id: str) -> list[int]:
        """The ids of one item's chunks."""
        return [
            int(value)
            for value in self.column("SELECT id FROM chunks WHERE item_id = ?", (item_id,))
        ]

    def delete_chunks(self, chunk_ids: Sequence[int]) -> None:
        """Delete chunks (the FTS triggers unindex them) and all their vectors."""
        for chunk_id in chunk_ids:
            self.conn.execute("DELETE FROM vectors WHERE chunk_id = ?", (chunk_id,))
            self.conn.execute("DELETE FROM chunks WHERE id = ?", (chunk_id,))

    def delete_item(self, item_id: str) -> list[int]:
        """Delete an item and every row that mentions it; return its chunk ids."""
        chunk_ids = self.chunk_ids(item_id)
        self.delete_chunks(chunk_ids)
        for sql in (
            "DELETE FROM items WHERE id = ?",
            "DELETE FROM history WHERE item_id = ?",
            "DELETE FROM derivations WHERE fact_id = ?",
            "DELETE FROM derivations WHERE source_id = ?",
            "DELETE FROM fact_jobs WHERE item_id = ?",
        ):
            self.conn.execute(sql, (item_id,))
        return chunk_ids

    def text_matches(
        self, match: str, filter_sql: str, params: Sequence[Any], limit: int
    ) -> list[tuple[str, int]]:
        """(item id, chunk id) of the best BM25 matches, best first."""
        rows = self.rows(
            "SELECT c.item_id, c.id FROM chunks_fts f JOIN chunks c ON c.id = f.rowid "
            f"JOIN items i ON i.id = c.item_id WHERE chunks_fts MATCH ?{filter_sql} "
            "ORDER BY f.rank LIMIT ?",
            [match, *params, limit],
        )
        return [(str(row[0]), int(row[1])) for row in rows]

    def chunk_texts(self, chunk_ids: Sequence[int]) -> dict[int, str]:
        """The text of each chunk."""
        rows = self.rows(
            f"SELECT id, text FROM chunks WHERE id IN ({_marks(chunk_ids)})", list(chunk_ids)
        )
        return {int(row[0]): str(row[1]) for row in rows}

    def missing_vectors(self, limit: int) -> list[tuple[int, str]]:
        """Chunks without a vector from the current model."""
        rows = self.rows(
            "SELECT c.id, c.text FROM chunks c LEFT JOIN vectors v ON v.chunk_id = c.id "
            "AND v.model = ? WHERE v.chunk_id IS NULL ORDER BY c.id LIMIT ?",
            (self.model, limit),
        )
        return [(int(row[0]), str(row[1])) for row in rows]

    def live_chunks(self, chunk_ids: Sequence[int]) -> dict[int, IndexedChunk]:
        """Those of ``chunk_ids`` that still exist, tagged for the index."""
        rows = self.rows(
            "SELECT c.id, c.item_id, i.kind, i.source, i.happened_at FROM chunks c JOIN items i "
            f"ON i.id = c.item_id WHERE c.id IN ({_marks(chunk_ids)})",
            list(chunk_ids),
        )
        return {int(row[0]): _tag(row[1], row[2], row[3], row[4], int(row[0])) for row in rows}

    def other_models(self) -> list[str]:
        """The models but the current one that still have vectors, found by stepping through
        the model index (a probe per model, never a read of the vectors)."""
        found: list[str] = []
        row = self.rows("SELECT min(model) FROM vectors")[0]
        while row[0] is not None:
            if row[0] != self.model:
                found.append(str(row[0]))
            row = self.rows("SELECT min(model) FROM vectors WHERE model > ?", (row[0],))[0]
        return found

    def drop_other_models(self) -> None:
        """Delete vectors of every model but the current one, and record the current one;
        writes nothing when that is done already (as at every start but after a change)."""
        # "model != ?" cannot use the model index: it read every vector (0.15 s at 100k items
        # with a warm cache, the whole file from disk after a boot), under the store's lock.
        for model in self.other_models():
            self.conn.execute("DELETE FROM vectors WHERE model = ?", (model,))
        if self.meta_value("embedding_model") != self.model:
            self.set_meta("embedding_model", self.model)
