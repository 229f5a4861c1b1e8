"""The data directory: created owner-only, holding the token, settings, models and databases."""

from __future__ import annotations

import fcntl
import os
import secrets
from pathlib import Path

from memory.durable_files import write_atomically

TOKEN_FILE_NAME = "owner_token"


def ensure_data_dir(data_dir: Path) -> Path:
    """Create the data directory (mode 0700) if missing and return it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(data_dir, 0o700)
    return data_dir


class DataDirInUseError(RuntimeError):
    """Another process holds the data directory (another hub serves it)."""


def lock_data_dir(data_dir: Path) -> int:
    """Hold the data directory for this process; closing the returned descriptor lets it go.

    The kernel drops the lock when the process dies, so a crash never leaves it held.
    """
    ensure_data_dir(data_dir)
    fd = os.open(data_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        os.close(fd)
        raise DataDirInUseError(f"another process holds {data_dir}") from exc
    return fd


def token_path(data_dir: Path) -> Path:
    """Where the owner's bearer token is kept."""
    return data_dir / TOKEN_FILE_NAME


def read_owner_token(data_dir: Path) -> str | None:
    """Return the owner's token, or None when the hub has never started with this data directory."""
    path = token_path(data_dir)
    if not path.exists():
        return None
    return path.read_text(encoding="utf-8").strip() or None


def write_new_owner_token(data_dir: Path) -> str:
    """Make a new owner token, replace the stored one with it (atomically) and return it."""
    ensure_data_dir(data_dir)
    token = "wnas_" + secrets.token_urlsafe(32)
    write_atomically(token_path(data_dir), token + "\n")
    return token


def ensure_owner_token(data_dir: Path) -> str:
    """Return the owner's token, making one on first start."""
    existing = read_owner_token(data_dir)
    if existing:
        return existing
    return write_new_owner_token(data_dir)
