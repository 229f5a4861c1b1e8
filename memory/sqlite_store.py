"""SqliteMemoryStore: memories in SQLite (the source of truth) with a vector index kept in step."""

from __future__ import annotations

import logging
import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import numpy as np

from memory import ann_file, jsonl, reembed
from memory.chunking import Chunk, chunk_text
from memory.embedder import Embedder, Vectors
from memory.errors import InvalidMemoryError, UnknownMemoryError
from memory.filters import compile_filters
from memory.housekeeping import REWRITE_DUE_KEY, StoreHousekeeping
from memory.hybrid import RankedChunk, fuse, query_words
from memory.hybrid import snippet as make_snippet
from memory.migrations import MIGRATIONS
from memory.protocol import Progress
from memory.query_vectors import RecentQueryVectors
from memory.sqlite_database import BUSY_TIMEOUT_SECONDS, apply_migrations, connect, fold_wal
from memory.tables import MemoryTables
from memory.timestamps import stored_from_input, to_epoch, to_stored, utc_now
from memory.types import (
    KINDS,
    SOURCES,
    HistoryEntry,
    ImportReport,
    IndexProgress,
    MemoryItem,
    MemoryPatch,
    NewMemory,
    ReembedProgress,
    SearchFilters,
    SearchHit,
    SearchMode,
)
from memory.validation import (
    MAX_QUERY_CHARS,
    check_id,
    check_k,
    check_kind,
    check_source,
    clean_text,
    metadata_json,
)
from memory.vector_index import IndexedChunk
from memory.vector_layers import EXACT_LIMIT, LayeredVectors

logger = logging.getLogger(__name__)

# After a forget the whole file is rewritten at once up to this size (0.6 s for a 70 MB store
# and 3.3 s for a 234 MB file on a 2-core box, so several seconds at the limit); a larger store
# leaves it to the next housekeeping run, at night, when nobody waits on the store.
REWRITE_NOW_MAX_BYTES = 512 * 1024 * 1024

# The file's name in the hub's data directory.
MEMORY_DB_NAME = "memory.db"
EMBED_BATCH = 256
SNIPPET_CHARS = 240
ITEM_COLUMNS = "id, kind, text, source, happened_at, stored_at, updated_at, metadata, pinned"


@dataclass(frozen=True)
class _Prepared:
    """A validated memory, chunked, ready to embed and insert."""

    item: MemoryItem
    chunks: list[Chunk]


def _imported_history(
    entries: Sequence[jsonl.ImportEntry],
) -> Callable[[MemoryItem], list[tuple[str, str, dict[str, Any]]]]:
    histories = {entry.item.id: entry.history for entry in entries}
    return lambda item: [(h.at, h.action, h.changes) for h in histories[item.id]]


def new_memory_id() -> str:
    """A fresh memory id such as ``mem_3f9a…``."""
    return "mem_" + secrets.token_hex(8)


class SqliteMemoryStore:
    """The hub's memory in one SQLite file (WAL); thread-safe, one writer at a time."""

    def __init__(
        self,
        path: Path,
        embedder: Embedder,
        clock: Callable[[], datetime] = utc_now,
        exact_limit: int = EXACT_LIMIT,
    ) -> None:
        self.path = path
        self.embedder = embedder
        self.embedding_model = embedder.name
        self._query_vectors = RecentQueryVectors(embedder)
        self._clock = clock
        self._lock = threading.RLock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = connect(path)
        self._conn = self._db.conn
        # secure_delete: a forgotten memory's bytes are overwritten, not left in free pages.
        self._conn.execute("PRAGMA secure_delete=ON")
        apply_migrations(self._db, MIGRATIONS)
        self._tables = MemoryTables(self._conn, self.embedding_model)
        self._index = LayeredVectors(
            ann_file.index_folder(path),
            self._tables,
            self._lock,
            self._db.atomic,
            embedder.dimension,
            exact_limit,
        )
        self._stop = threading.Event()
        self._reembed_thread: threading.Thread | None = None
        self._reembed_error: str | None = None
        with self._lock:
            self._index.open()
        self.housekeeping = StoreHousekeeping(
            self._tables, self._lock, self._index, self._embed, self._erase_traces, path
        )

    # ----- writing ------------------------------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        with self._lock, self._db.atomic():
            yield

    def _prepare(self, new: NewMemory, memory_id: str | None = None) -> _Prepared:
        text = clean_text(new.text)
        now = to_stored(self._clock())
        happened = (
            stored_from_input(new.happened_at, "happened_at")
            if new.happened_at is not None
            else now
        )
        metadata_json(new.metadata)
        for source_id in new.derived_from:
            check_id(source_id)
        item = MemoryItem(
            id=check_id(memory_id) if memory_id else new_memory_id(),
            kind=check_kind(new.kind),
            text=text,
            source=check_source(new.source),
            happened_at=happened,
            stored_at=now,
            updated_at=now,
            metadata=dict(new.metadata),
            pinned=bool(new.pinned),
            derived_from=tuple(dict.fromkeys(new.derived_from)),
        )
        return _Prepared(item, chunk_text(text))

    def _embed(self, texts: list[str], progress: Progress | None = None) -> Vectors:
        parts = []
        for start in range(0, len(texts), EMBED_BATCH):
            parts.append(self.embedder.embed(texts[start : start + EMBED_BATCH]))
            if progress is not None:
                progress(min(start + EMBED_BATCH, len(texts)), len(texts))
        if not parts:
            return np.zeros((0, self.embedder.dimension), dtype=np.float32)
        return np.concatenate(parts).astype(np.float32, copy=False)

    def _write_prepared(
        self,
        prepared: list[_Prepared],
        vectors: Vectors,
        history: Callable[[MemoryItem], list[tuple[str, str, dict[str, Any]]]],
    ) -> None:
        """Insert items with their chunks, vectors and history in one transaction; only after
        it commits does the index learn of them (under the same hold of the lock, so the index
        always reflects a prefix of the vector log)."""
        indexed: list[IndexedChunk] = []
        offset = 0
        with self._lock:
            with self._db.atomic():
                for entry in prepared:
                    self._tables.insert_item(entry.item)
                    count = len(entry.chunks)
                    indexed += self._tables.insert_chunks(
                        entry.item, entry.chunks, vectors[offset : offset + count]
                    )
                    offset += count
                    for at, action, changes in history(entry.item):
                        self._tables.add_history(entry.item.id, action, changes, at)
            self._index.added(indexed, vectors)

    def add(self, new: NewMemory) -> MemoryItem:
        """Store one memory and return it with its id."""
        return self.add_many([new])[0]

    def add_many(
        self, news: Sequence[NewMemory], progress: Progress | None = None
    ) -> list[MemoryItem]:
        """Validate everything first, embed outside the lock, then write in one transaction."""
        prepared = [self._prepare(new) for new in news]
        vectors = self._embed([c.text for entry in prepared for c in entry.chunks], progress)
        self._write_prepared(prepared, vectors, lambda item: [(item.stored_at, "created", {})])
        return [entry.item for entry in prepared]

    def get(self, memory_id: str) -> MemoryItem:
        """One memory, or UnknownMemoryError."""
        check_id(memory_id)
        with self._lock:
            found = self._tables.items([memory_id]).get(memory_id)
        if found is None:
            raise UnknownMemoryError(memory_id)
        return found

    def update(self, memory_id: str, patch: MemoryPatch, action: str = "updated") -> MemoryItem:
        """Change fields; a new text is re-chunked and re-embedded, all in one transaction."""
        before = self.get(memory_id)
        text = clean_text(patch.text) if patch.text is not None else before.text
        after = MemoryItem(
            id=before.id,
            kind=check_kind(patch.kind) if patch.kind is not None else before.kind,
            text=text,
            source=check_source(patch.source) if patch.source is not None else before.source,
            happened_at=(
                stored_from_input(patch.happened_at, "happened_at")
                if patch.happened_at is not None
                else before.happened_at
            ),
            stored_at=before.stored_at,
            updated_at=to_stored(self._clock()),
            metadata=dict(patch.metadata) if patch.metadata is not None else before.metadata,
            pinned=patch.pinned if patch.pinned is not None else before.pinned,
            derived_from=before.derived_from,
        )
        metadata_json(after.metadata)
        fields = ("kind", "text", "source", "happened_at", "metadata", "pinned")
        changes = {
            name: {"before": getattr(before, name), "after": getattr(after, name)}
            for name in fields
            if getattr(before, name) != getattr(after, name)
        }
        if not changes:
            return before
        if action == "updated" and set(changes) == {"pinned"}:
            action = "pinned" if after.pinned else "unpinned"
        text_changed = "text" in changes
        chunks = chunk_text(text) if text_changed else []
        vectors = self._embed([chunk.text for chunk in chunks])
        with self._lock:
            with self._db.atomic():
                if not self._tables.rows("SELECT 1 FROM items WHERE id = ?", (memory_id,)):
                    raise UnknownMemoryError(memory_id)
                self._tables.update_item(after)
                old_chunks = self._tables.chunk_ids(memory_id)
                indexed: list[IndexedChunk] = []
                if text_changed:
                    self._tables.delete_chunks(old_chunks)
                    indexed = self._tables.insert_chunks(after, chunks, vectors)
                self._tables.add_history(memory_id, action, changes, after.updated_at)
            if text_changed:
                self._index.removed(old_chunks)
                self._index.added(indexed, vectors)
            else:
                self._index.retag(
                    memory_id,
                    KINDS.index(after.kind),
                    SOURCES.index(after.source),
                    to_epoch(after.happened_at),
                )
        return self.get(memory_id)

    def pin(self, memory_id: str, pinned: bool = True) -> MemoryItem:
        """Pin or unpin a memory."""
        return self.update(
            memory_id, MemoryPatch(pinned=pinned), action="pinned" if pinned else "unpinned"
        )

    def forget(self, memory_id: str) -> list[str]:
        """Remove a memory, its chunks, vectors, full-text rows, history and jobs, and the facts
        derived from it; then purge the full-text index and the WAL of the deleted text."""
        self.get(memory_id)
        with self._lock:
            with self._db.atomic():
                derived = self._tables.column(
                    "SELECT fact_id FROM derivations WHERE source_id = ?", (memory_id,)
                )
                doomed = list(dict.fromkeys([memory_id, *derived]))
                chunk_ids: list[int] = []
                for item_id in doomed:
                    chunk_ids += self._tables.delete_item(item_id)
                    # A housekeeping summary forgotten takes the raw items it holds with it.
                    self.housekeeping.drop_for_summary(item_id)
            # The exact layer drops them now; a vector in the saved graph is marked dead and
            # its slot overwritten in a new graph file by the background fold this schedules.
            self._index.removed(chunk_ids)
            self._erase_traces()
        logger.info("forgot %s", ", ".join(doomed))
        return doomed

    def _erase_traces(self, whole_file: bool = False) -> None:
        """After deleting text: leave none of it in the file (callers hold the lock). A large
        store rewrites the whole file only when ``whole_file`` (the housekeeping run) says so."""
        # FTS5 keeps deleted terms in old segments until they merge; merge now so the
        # forgotten words leave the index.
        with self._db.atomic():
            self._conn.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('optimize')")
        if whole_file or self._file_bytes() <= REWRITE_NOW_MAX_BYTES:
            self._rewrite_file()
        else:
            with self._db.atomic():
                self._tables.set_meta(REWRITE_DUE_KEY, "1")
            logger.info("memory.db is rewritten by the next housekeeping run (it is large)")
        if not fold_wal(self._conn):
            logger.warning("a reader kept the WAL busy: the deleted text leaves it later")

    def _file_bytes(self) -> int:
        (pages,) = self._conn.execute("PRAGMA page_count").fetchone()
        (size,) = self._conn.execute("PRAGMA page_size").fetchone()
        return int(pages) * int(size)

    def _rewrite_file(self) -> None:
        """Write every page anew (VACUUM), so no page keeps stale copies of deleted rows."""
        # secure_delete zeroes a deleted row, but a page rebuilt when rows move between pages
        # keeps stale copies of its old cells in its unused gap: a compacted transcript's text
        # was found in such a gap of an items page after its purge, in about 1 of 150 runs.
        try:
            self._conn.execute("VACUUM")
        except sqlite3.OperationalError as error:
            with self._db.atomic():
                self._tables.set_meta(REWRITE_DUE_KEY, "1")
            logger.warning(
                "could not rewrite memory.db after deleting (%s): copies of the deleted text "
                "may stay in its unused space until the next housekeeping run",
                error,
            )
            return
        with self._db.atomic():
            self._tables.set_meta(REWRITE_DUE_KEY, "0")

    def link_derivation(self, fact_id: str, source_ids: Sequence[str]) -> None:
        """Record that a fact was derived from other memories (kept until either is forgotten)."""
        self.get(fact_id)
        with self._transaction():
            self._tables.link(fact_id, [check_id(source_id) for source_id in source_ids])

    # ----- searching ----------------------------------------------------------------------

    def search(
        self,
        query: str,
        k: int = 10,
        filters: SearchFilters | None = None,
        mode: SearchMode = "hybrid",
    ) -> list[SearchHit]:
        """Vector neighbours and BM25 matches fused by reciprocal rank (or either alone)."""
        query = clean_text(query, "query", MAX_QUERY_CHARS)
        check_k(k)
        if mode not in ("hybrid", "vector", "text"):
            raise InvalidMemoryError("mode must be hybrid, vector or text", field="mode")
        filters = filters or SearchFilters()
        vector_filter, filter_sql, filter_params = compile_filters(filters)
        excluded = filters.exclude_ids
        wanted = max(50, 5 * k) + 10 * len(excluded)
        query_vector = self._query_vectors.vector(query) if mode != "text" else None
        with self._lock:
            allowed = self._index.narrow(vector_filter, filter_sql, filter_params)
            by_vector: list[RankedChunk] = []
            if query_vector is not None:
                by_vector = [
                    RankedChunk(item_id, chunk_id, score)
                    for chunk_id, item_id, score in self._index.nearest(
                        query_vector, wanted, vector_filter, filter_sql, filter_params, allowed
                    )
                    if item_id not in excluded
                ]
            by_text: list[RankedChunk] = []
            terms = query_words(query) if mode != "vector" else []
            if terms:
                matches = (
                    self._tables.text_matches(" OR ".join(terms), filter_sql, filter_params, wanted)
                    if allowed is None
                    else self._tables.text_matches_among(terms, allowed, wanted)
                )
                by_text = [
                    RankedChunk(item_id, chunk_id)
                    for item_id, chunk_id in matches
                    if item_id not in excluded
                ]
            fused = fuse(by_vector, by_text)[:k]
            items = self._tables.items([entry.item_id for entry in fused])
            snippets = self._tables.chunk_texts([entry.chunk_id for entry in fused])
            hits = []
            for entry in fused:
                similarity = entry.similarity
                if similarity is None and query_vector is not None:
                    similarity = self._index.similarity(entry.chunk_id, query_vector)
                snippet = snippets.get(entry.chunk_id, "")
                hits.append(
                    SearchHit(
                        item=items[entry.item_id],
                        score=entry.score,
                        snippet=make_snippet(snippet, query, SNIPPET_CHARS),
                        similarity=similarity,
                        vector_rank=entry.vector_rank,
                        text_rank=entry.text_rank,
                    )
                )
        return hits

    def list_items(
        self, filters: SearchFilters | None = None, limit: int = 50, offset: int = 0
    ) -> tuple[list[MemoryItem], int]:
        """A page of memories, newest first, and how many match in all."""
        _, filter_sql, params = compile_filters(filters or SearchFilters())
        limit = max(1, min(limit, 1000))
        # Counted outside the lock: at millions of items the count is a scan (see count).
        (total,) = self._read_alone(f"SELECT count(*) FROM items i WHERE 1=1{filter_sql}", params)
        with self._lock:
            ids = self._tables.column(
                f"SELECT i.id FROM items i WHERE 1=1{filter_sql} "
                "ORDER BY i.happened_at DESC, i.id LIMIT ? OFFSET ?",
                [*params, limit, max(0, offset)],
            )
            items = self._tables.items(ids)
        return [items[item_id] for item_id in ids], int(total)

    def items_of_kinds(self, kinds: Sequence[str]) -> list[MemoryItem]:
        """Every memory of these kinds with its times, oldest stored first."""
        wanted = [check_kind(kind, "kinds") for kind in kinds]
        with self._lock:
            return self._tables.items_of_kinds(wanted)

    def history(self, memory_id: str) -> list[HistoryEntry]:
        """Every change to one memory, oldest first."""
        self.get(memory_id)
        with self._lock:
            return self._tables.histories([memory_id]).get(memory_id, [])

    def count(self) -> int:
        """How many memories are stored: counted on a connection of its own, outside the
        store's lock, since at millions of items the count reads the whole items index and
        chat's search and ingest must not wait for it (the UI polls it)."""
        (total,) = self._read_alone("SELECT count(*) FROM items")
        return int(total)

    # ----- export, import, re-embedding -----------------------------------------------------

    def export_jsonl(self, out: IO[str]) -> int:
        """Write every memory, with its history, as JSON lines; return how many."""
        with self._lock:
            ids = self._tables.column("SELECT id FROM items ORDER BY stored_at, id")
        return jsonl.write_export(out, ids, self._items_locked, self._history_locked)

    def _items_locked(self, ids: Sequence[str]) -> dict[str, MemoryItem]:
        with self._lock:
            return self._tables.items(ids)

    def _history_locked(self, ids: Sequence[str]) -> dict[str, list[HistoryEntry]]:
        with self._lock:
            return self._tables.histories(ids)

    def import_jsonl(self, source: IO[str], progress: Progress | None = None) -> ImportReport:
        """Read an export back exactly (ids, times, history kept); existing ids are skipped."""
        added = skipped = 0
        for batch in jsonl.read_export(source):
            with self._lock:
                existing = set(self._tables.items([entry.item.id for entry in batch]))
            fresh = [entry for entry in batch if entry.item.id not in existing]
            skipped += len(batch) - len(fresh)
            prepared = [_Prepared(entry.item, chunk_text(entry.item.text)) for entry in fresh]
            vectors = self._embed([c.text for entry in prepared for c in entry.chunks])
            self._write_prepared(prepared, vectors, _imported_history(fresh))
            added += len(fresh)
            if progress is not None:
                progress(added + skipped, 0)
        return ImportReport(added=added, skipped=skipped)

    def reembed_progress(self) -> ReembedProgress:
        """How many chunks have a vector from the current model, and whether work is running.
        Counted on a read-only connection of its own, outside the store's lock: the counts
        read two indexes row by row (0.3 s at 100k items alone, 1.4 s beside a hub's start),
        and neither search, nor a start waiting to write (housekeeping), must wait for them."""
        # One statement: both counts from one snapshot of the database.
        total, done = self._read_alone(
            "SELECT (SELECT count(*) FROM chunks), (SELECT count(*) FROM vectors WHERE model = ?)",
            (self.embedding_model,),
        )
        running = self._reembed_thread is not None and self._reembed_thread.is_alive()
        return ReembedProgress(
            self.embedding_model, int(done), int(total), running, self._reembed_error
        )

    def start_reembedding(self) -> None:
        """In a background thread, embed every chunk that lacks a vector from the current model
        (after the model changed), or drop other models' vectors when none does. Finding out
        counts two indexes row by row (0.35 s at 200k items), so the opening waits for none,
        and nothing waits for the store's lock meanwhile (see reembed_progress)."""
        if self._reembed_thread is not None and self._reembed_thread.is_alive():
            return
        self._reembed_thread = threading.Thread(
            target=self._reembed_if_needed, name="memory-reembed", daemon=True
        )
        self._reembed_thread.start()

    def _reembed_if_needed(self) -> None:
        try:
            if self.reembed_progress().complete:
                if not self._stop.is_set():
                    self._drop_other_models()
                return
        except Exception:
            logger.exception("could not check for memories to re-embed")
            return
        logger.info("re-embedding memories with %s in the background", self.embedding_model)
        self.reembed_now()

    def reembed_now(self, progress: Progress | None = None) -> None:
        """Embed every chunk lacking a current-model vector, in this thread."""
        try:
            reembed.run(
                self._missing_chunks,
                self._store_vectors,
                self.embedder,
                self._stop,
                lambda: self.reembed_progress(),
                progress,
            )
            if not self._stop.is_set():
                self._drop_other_models()
        except Exception as exc:
            self._reembed_error = f"re-embedding failed: {exc}; it resumes on the next start"
            logger.exception("re-embedding with %s failed", self.embedding_model)

    def _missing_chunks(self, limit: int) -> list[tuple[int, str]]:
        with self._lock:
            return self._tables.missing_vectors(limit)

    def _store_vectors(self, chunk_ids: list[int], vectors: Vectors) -> None:
        with self._lock:
            with self._db.atomic():
                alive = self._tables.live_chunks(chunk_ids)
                keep = [n for n, chunk_id in enumerate(chunk_ids) if chunk_id in alive]
                for n in keep:
                    self._tables.insert_vector(chunk_ids[n], vectors[n])
            self._index.added([alive[chunk_ids[n]] for n in keep], vectors[keep])

    def _drop_other_models(self) -> None:
        with self._transaction():
            self._tables.drop_other_models()

    def index_progress(self) -> IndexProgress:
        """How vector search is served now (exact, the saved index, or while rebuilding it).
        The vectors are counted outside the store's lock (see reembed_progress): the UI polls
        this while a start rebuilds the index, and chat's search must not wait for the count."""
        (total,) = self._read_alone(
            "SELECT count(*) FROM vectors WHERE model = ?", (self.embedding_model,)
        )
        with self._lock:
            return self._index.progress(int(total))

    def _read_alone(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...]:
        """The one row of a query, read on a read-only connection of its own (outside the
        store's lock, seeing every committed change)."""
        uri = f"{self.path.resolve().as_uri()}?mode=ro"
        conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_SECONDS)
        try:
            row: tuple[Any, ...] = conn.execute(sql, params).fetchone()
        finally:
            conn.close()
        return row

    def wait_for_index(self) -> None:
        """Wait until background index work (a rebuild, a fold after a forget) is done."""
        self._index.wait()

    def checkpoint(self) -> None:
        """Fold the WAL into the database file (for backups and size measurements)."""
        with self._lock:
            fold_wal(self._conn)

    def close(self) -> None:
        """Stop background work and close the database."""
        self._stop.set()
        if self._reembed_thread is not None:
            self._reembed_thread.join(timeout=30)
        self._index.close()
        with self._lock:
            self._conn.close()
