"""Find what a backup takes from the data directory: databases, small files, adapters."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from hub.running_address import RUNNING_FILE_NAME

SQLITE_MAGIC = b"SQLite format 3\x00"
# Re-created on demand (the assembled packaged model file, about 250 MB; the de-quantized copy
# of the base model that nightly jobs keep, about 500 MB): not worth backing up.
CACHE_DIRS = frozenset({"models", "cache"})
# SQLite's own side files; the online backup folds the -wal's content into the copy.
SIDECAR_SUFFIXES = ("-wal", "-shm", "-journal")


@dataclass(frozen=True)
class DataItem:
    """One file to back up: its path relative to the data directory and how to copy it."""

    relative: str
    path: Path
    is_sqlite: bool

    @property
    def size(self) -> int:
        """Current size on disk (for progress)."""
        return self.path.stat().st_size


def is_sqlite_file(path: Path) -> bool:
    """True when the file starts with SQLite's header."""
    try:
        with path.open("rb") as handle:
            return handle.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError:
        return False


def _skipped_name(name: str) -> bool:
    # Dot files are temporary files of atomic writes (memory.durable_files); the
    # running hub's address file describes one process, and would be stale once restored.
    return name.startswith(".") or name.endswith(SIDECAR_SUFFIXES) or name == RUNNING_FILE_NAME


def _walk(root: Path, folder: Path) -> Iterator[DataItem]:
    for path in sorted(folder.iterdir()):
        if _skipped_name(path.name) or path.is_symlink():
            continue
        if path.is_dir():
            yield from _walk(root, path)
        elif path.is_file():
            relative = path.relative_to(root).as_posix()
            yield DataItem(relative, path, is_sqlite_file(path))


def scan_data_dir(data_dir: Path) -> tuple[list[DataItem], list[str]]:
    """Every file to back up, and the cache folders left out (with a trailing slash)."""
    items: list[DataItem] = []
    skipped: list[str] = []
    for path in sorted(data_dir.iterdir()):
        if _skipped_name(path.name) or path.is_symlink():
            continue
        if path.is_dir():
            if path.name in CACHE_DIRS:
                skipped.append(path.name + "/")
                continue
            items.extend(_walk(data_dir, path))
        elif path.is_file():
            items.append(DataItem(path.name, path, is_sqlite_file(path)))
    return items, skipped
