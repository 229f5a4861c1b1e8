"""Durable atomic file writes: after a crash or power cut a reader finds the old file or the
new one, whole, never a mix or an empty file.

A rename alone is atomic but not durable: the new bytes and the directory entry may still sit
in the page cache, and after a power cut the file can come back empty. So the bytes are fsynced
before the rename and the directory after it.

It lives in ``memory`` for the reason ``memory/sqlite_database.py`` does: the hub and
``adapters`` both use it, and ``memory`` imports neither.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def temporary_path(path: Path) -> Path:
    """A fresh name beside ``path`` for its next version (a dot file: backups skip it)."""
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")


def sync_directory(folder: Path) -> None:
    """Make the entries of ``folder`` (a rename, a new file) survive a power cut."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_file(path: Path) -> None:
    """Flush a file another writer made (torch.save, a GGUF writer) to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_tree(folder: Path) -> None:
    """Flush every file and folder under ``folder``, deepest first, then ``folder`` itself."""
    for root, dirs, files in os.walk(folder, topdown=False):
        for name in files:
            sync_file(Path(root) / name)
        for name in dirs:
            sync_directory(Path(root) / name)
    sync_directory(folder)


def replace_durably(source: Path, target: Path) -> None:
    """Rename a finished file or folder onto ``target``: flushed before, its directory after."""
    if source.is_dir():
        sync_tree(source)
    else:
        sync_file(source)
    os.replace(source, target)
    sync_directory(target.parent)
    if source.parent != target.parent:
        sync_directory(source.parent)


def write_atomically(path: Path, content: str | bytes, mode: int = 0o600) -> None:
    """Replace ``path`` with ``content`` durably; the file gets ``mode`` (owner-only unless told).

    The temporary file is made with ``mode`` from the start, so the content is never readable
    by others even for a moment.
    """
    data = content.encode("utf-8") if isinstance(content, str) else content
    tmp = temporary_path(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        sync_directory(path.parent)
    finally:
        tmp.unlink(missing_ok=True)
