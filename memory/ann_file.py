"""The saved ANN index: an HNSW graph (usearch) of int8 vectors in a dot folder beside memory.db.

It is a cache of SQLite's vectors. ``index.json`` names the current graph file, the model and
the highest vector-log sequence number the graph holds; a graph file is written whole under a
fresh name before ``index.json`` points to it, so a crash leaves either the old pair or the new.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from memory.durable_files import replace_durably, sync_directory, temporary_path, write_atomically
from memory.embedder import Vectors
from memory.usearch_index import Index

logger = logging.getLogger(__name__)

META_NAME = "index.json"
FORMAT = 1
# HNSW shape (bench/bench_memory.py): 16 links per node; a search beam of 128 gave recall@10
# 0.934 at 1M items after exact re-ranking, so searches use 256 (set on open, not saved).
CONNECTIVITY = 16
EXPANSION_ADD = 64
EXPANSION_SEARCH = 256
# Keys at or above this are never chunk ids: they fill the slots of removed vectors (below).
PLACEHOLDER_KEY = 1 << 62


@dataclass(frozen=True)
class AnnMeta:
    """What index.json says about the saved graph."""

    token: str
    seq: int
    model: str
    dimension: int
    count: int
    format: int = FORMAT

    @property
    def file_name(self) -> str:
        """The graph file's name in the index folder."""
        return f"{self.token}.usearch"


def index_folder(database: Path) -> Path:
    """The index folder of one database: a dot folder beside it, which backups skip (it is
    rebuilt from the database)."""
    return database.parent / f".{database.name}.index"


def for_int8(vectors: Vectors) -> Vectors:
    """Scale each vector so its largest component is 1: cosine is unchanged, and usearch's int8
    quantization (x127) then uses the whole range instead of a few levels of it."""
    matrix = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
    peak = np.abs(matrix).max(axis=1, keepdims=True)
    return (matrix / np.where(peak > 0, peak, 1.0)).astype(np.float32)


def new_index(dimension: int) -> Index:
    """An empty in-memory graph of int8 vectors compared by cosine."""
    return Index(
        ndim=dimension,
        metric="cos",
        dtype="i8",
        connectivity=CONNECTIVITY,
        expansion_add=EXPANSION_ADD,
        expansion_search=EXPANSION_SEARCH,
    )


def read_meta(folder: Path) -> AnnMeta | None:
    """The saved graph's description, or None when there is none or it is unreadable."""
    try:
        raw = json.loads((folder / META_NAME).read_text(encoding="utf-8"))
        meta = AnnMeta(**raw)
    except (OSError, ValueError, TypeError):
        return None
    return meta if meta.format == FORMAT else None


def open_view(folder: Path, meta: AnnMeta) -> Index:
    """Memory-map the saved graph (read-only); ValueError when it does not match ``meta``."""
    path = folder / meta.file_name
    try:
        described = Index.metadata(str(path))
    except (OSError, RuntimeError, ValueError) as error:
        raise ValueError(f"{path.name} is unreadable: {error}") from error
    if described is None or described.get("dimensions") != meta.dimension:
        raise ValueError(f"{path.name} does not hold {meta.dimension}-d vectors")
    if described.get("count_present") != meta.count:
        raise ValueError(f"{path.name} holds {described.get('count_present')} vectors")
    index = Index.restore(str(path), view=True)
    if index is None:
        raise ValueError(f"{path.name} could not be opened")
    _tune(index)
    return index


def _tune(index: Index) -> None:
    # The saved file keeps the graph, not the beams; usearch's setters lack annotations, which
    # mypy reads as read-only properties.
    index.expansion_add = EXPANSION_ADD  # type: ignore[misc]
    index.expansion_search = EXPANSION_SEARCH  # type: ignore[misc]


def load_for_edit(folder: Path, meta: AnnMeta) -> tuple[Index, int]:
    """Read the saved graph into memory so it can be changed and saved anew; with it, how many
    free (removed) slots it has."""
    path = str(folder / meta.file_name)
    described = Index.metadata(path)
    index = Index.restore(path, view=False)
    if index is None or described is None:
        raise ValueError(f"{meta.file_name} could not be read")
    _tune(index)
    return index, int(described.get("count_deleted", 0))


def scrub(index: Index, free_slots: int) -> None:
    """Overwrite the ``free_slots`` slots of removed vectors: usearch only marks a removed
    vector, and reuses its slot for the next one added, so adding and removing as many constant
    placeholders leaves none of the removed vectors' bytes in the graph (or a file saved of it)."""
    if free_slots <= 0:
        return
    keys = np.arange(PLACEHOLDER_KEY, PLACEHOLDER_KEY + free_slots, dtype=np.uint64)
    index.add(keys, np.ones((free_slots, index.ndim), dtype=np.float32))
    index.remove(keys)


def save(folder: Path, index: Index, meta: AnnMeta) -> None:
    """Write the graph under its new name, then point index.json at it, then delete the rest."""
    folder.mkdir(mode=0o700, exist_ok=True)
    target = folder / meta.file_name
    tmp = temporary_path(target)
    try:
        index.save(str(tmp))
        os.chmod(tmp, 0o600)  # the vectors say what the memories say
        replace_durably(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    write_atomically(folder / META_NAME, json.dumps(asdict(meta)))
    remove_stale(folder, keep=meta.file_name)


def remove_stale(folder: Path, keep: str | None) -> None:
    """Delete every graph file but ``keep`` (older graphs may hold forgotten vectors)."""
    if not folder.is_dir():
        return
    for path in folder.iterdir():
        if path.name not in (keep, META_NAME):
            path.unlink(missing_ok=True)
    sync_directory(folder)


def forget_saved(folder: Path) -> None:
    """Delete the saved graph and its description (it no longer matches memory.db)."""
    (folder / META_NAME).unlink(missing_ok=True)
    remove_stale(folder, keep=None)
    if folder.is_dir() and not any(folder.iterdir()):
        os.rmdir(folder)
