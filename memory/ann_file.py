"""The saved ANN index: an HNSW graph (usearch) of binary codes in a dot folder beside memory.db.

Each vector is kept as one bit per dimension (its signs, 48 bytes at 384-d) and compared by
Hamming distance: "binary quantization". The graph only proposes candidates; the store re-ranks
them exactly on SQLite's float32 vectors ("rescoring"), so the codes need only be good enough to
put the true nearest among the few hundred it proposes.

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
from typing import cast

import numpy as np
import numpy.typing as npt

from memory.durable_files import replace_durably, sync_directory, temporary_path, write_atomically
from memory.embedder import Vectors
from memory.usearch_index import Index

logger = logging.getLogger(__name__)

# Binary codes: rows of packed bits, as usearch stores and returns them.
Codes = npt.NDArray[np.uint8]

META_NAME = "index.json"
# 1: int8 vectors compared by cosine; 2: binary codes compared by Hamming distance. A graph
# saved in another format is rebuilt from SQLite in the background.
FORMAT = 2
# HNSW shape, measured at 2M items of bench/bench_memory.py's vectors (exact re-rank of the
# candidates). int8 with 16 links was 532 bytes per item (a 1,016 MiB file: over the 1 GB goal,
# and random search touches all of it) and reached recall@10 0.909 with a beam of 256, 0.973
# with 512. Binary codes with 16 links are 197 bytes per item (375 MiB), build 2.8 times faster
# (205 s against 579 s on 2 busy cores) and, with a beam of 1024 and 300 candidates re-ranked,
# reach recall@10 0.977 in 1.5 ms of graph search (0.970 with 200 candidates, 0.965 with a beam
# of 512). The beam is set on open, not saved.
CONNECTIVITY = 16
EXPANSION_ADD = 64
EXPANSION_SEARCH = 1024
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


def to_codes(vectors: Vectors) -> Codes:
    """The binary codes of one or more vectors, one row each: a bit per dimension, set where
    the component is positive, packed eight to a byte (the form usearch's "b1" takes)."""
    matrix = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
    return np.packbits(matrix > 0, axis=1)


def hamming(codes: Codes, code: Codes) -> npt.NDArray[np.int32]:
    """How many bits of each row of ``codes`` differ from ``code`` (what the graph compares)."""
    differing: npt.NDArray[np.uint8] = np.bitwise_count(np.bitwise_xor(codes, code.reshape(-1)))
    counts: npt.NDArray[np.int32] = differing.sum(axis=1, dtype=np.int32)
    return counts


def stored_codes(index: Index, keys: npt.NDArray[np.uint64]) -> Codes:
    """The graph's codes of ``keys``, one row each (every key must be present)."""
    rows = cast(tuple[Codes, ...], index.get(keys, dtype="b1"))
    if not rows:
        return np.zeros((0, 0), dtype=np.uint8)
    return np.vstack(rows)


def new_index(dimension: int) -> Index:
    """An empty in-memory graph of binary codes compared by Hamming distance."""
    return Index(
        ndim=dimension,
        metric="hamming",
        dtype="b1",
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
    if getattr(described.get("kind_scalar"), "name", None) != "B1":
        raise ValueError(f"{path.name} does not hold binary codes")
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
    index.add(keys, to_codes(np.ones((free_slots, index.ndim), dtype=np.float32)))
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
