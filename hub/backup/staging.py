"""Copy a backup into a staging folder beside the data directory, hashing the very bytes copied.

Each file is read once: the bytes that are hashed are the bytes that are written. Hashing first
and copying after would let a file on removable media or a shared folder change in between, and
the changed bytes would be installed unchecked.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from hub.backup.errors import BackupRefusedError
from hub.backup.manifest import PAYLOAD_DIR, BackedUpFile, Manifest
from hub.backup.progress import Progress
from hub.backup.snapshot import HASH_CHUNK, check_integrity
from hub.backup.verify import missing, wrong_checksum, wrong_size


def _open_backed_up(payload: Path, entry: BackedUpFile) -> int:
    """Open a payload file for reading: a regular file inside the payload, through no link."""
    source = payload / entry.path
    linked = BackupRefusedError(
        f"{entry.path} is a symbolic link or lies behind one: backups hold none, and a link "
        "could lead anywhere; use an untouched backup"
    )
    if source.exists() and source.resolve() != payload.resolve() / entry.path:
        raise linked
    try:
        # O_NOFOLLOW: a link put in place after the check above is refused too.
        fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError as exc:
        raise missing(entry) from exc
    except OSError as exc:
        if source.is_symlink():
            raise linked from exc
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise BackupRefusedError(f"{entry.path} is not a regular file: use an untouched backup")
    return fd


def copy_verified(payload: Path, entry: BackedUpFile, target: Path) -> None:
    """Copy one file of the backup to ``target`` (new, owner-only), hashing as it goes; refuse
    it unless the bytes copied are the manifest's size and sha256."""
    digest = hashlib.sha256()
    size = 0
    with (
        os.fdopen(_open_backed_up(payload, entry), "rb") as source,
        os.fdopen(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out,
    ):
        while chunk := source.read(HASH_CHUNK):
            size += len(chunk)
            if size > entry.size:
                break  # longer than listed: no need to copy the rest to refuse it
            digest.update(chunk)
            out.write(chunk)
    if size != entry.size:
        raise wrong_size(entry, size)
    if digest.hexdigest() != entry.sha256:
        raise wrong_checksum(entry)


def stage_backup(backup_dir: Path, manifest: Manifest, staging: Path, progress: Progress) -> None:
    """Copy every listed file into ``staging`` (a new folder), each checked as it is copied."""
    payload = backup_dir / PAYLOAD_DIR
    staging.mkdir(mode=0o700)
    for entry in manifest.files:
        target = staging / entry.path
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        progress(entry.path, entry.size)
        copy_verified(payload, entry, target)
        if entry.kind == "sqlite":
            problem = check_integrity(target)
            if problem:
                raise BackupRefusedError(f"{entry.path} fails SQLite's integrity check: {problem}")
