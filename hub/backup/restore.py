"""Restore a verified backup into an empty data directory with owner-only permissions."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

from hub.backup.errors import BackupError, BackupRefusedError
from hub.backup.in_use import processes_using
from hub.backup.manifest import PAYLOAD_DIR, Manifest
from hub.backup.progress import Progress, no_progress
from hub.backup.snapshot import check_integrity, copy_file
from hub.backup.verify import verify_backup


def _check_target(data_dir: Path, force: bool) -> Path | None:
    """Refuse a data directory in use; with --force, say where a non-empty one is moved."""
    if not data_dir.exists():
        return None
    if not data_dir.is_dir():
        raise BackupError(f"{data_dir} is not a directory: choose a data directory path")
    users = processes_using(data_dir)
    if users:
        pids = ", ".join(str(pid) for pid in users)
        raise BackupError(
            f"{data_dir} is in use by running processes ({pids}), likely the hub: stop it "
            "first (`systemctl stop walking-nas`, or Ctrl-C on `hub serve`), then restore"
        )
    if not any(data_dir.iterdir()):
        return None
    if not force:
        raise BackupError(
            f"{data_dir} is not empty: restore into an empty data directory (--data-dir), "
            "or pass --force to move the current contents aside first"
        )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return data_dir.with_name(f"{data_dir.name}.before-restore-{stamp}")


def _stage(backup_dir: Path, manifest: Manifest, staging: Path, progress: Progress) -> None:
    payload = backup_dir / PAYLOAD_DIR
    staging.mkdir(mode=0o700)
    for entry in manifest.files:
        target = staging / entry.path
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        progress(entry.path, entry.size)
        copy_file(payload / entry.path, target)
        target.chmod(0o600)
        if entry.kind == "sqlite":
            problem = check_integrity(target)
            if problem:
                raise BackupRefusedError(f"{entry.path} fails SQLite's integrity check: {problem}")


def _match_owner(tree: Path, uid: int, gid: int) -> None:
    """Give the restored files to the data directory's owner (root restoring for the service)."""
    for path in [tree, *tree.rglob("*")]:
        os.chown(path, uid, gid, follow_symlinks=False)


def restore_backup(
    backup_dir: Path,
    data_dir: Path,
    force: bool = False,
    progress: Progress = no_progress,
    verify_progress: Progress = no_progress,
) -> tuple[Manifest, Path | None]:
    """Verify, then restore; return the manifest and where the old contents went (if moved)."""
    moved_to = _check_target(data_dir, force)
    manifest = verify_backup(backup_dir, verify_progress)
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    owner = data_dir.stat() if data_dir.exists() else None
    staging = data_dir.with_name(f".{data_dir.name}.restoring-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        try:
            _stage(backup_dir, manifest, staging, progress)
        except PermissionError as exc:
            raise BackupError(
                f"cannot write beside {data_dir} ({exc.strerror}: {exc.filename}): run the "
                f"restore as root (sudo) or as the owner of {data_dir.parent}"
            ) from exc
        if owner is not None and os.geteuid() == 0:
            _match_owner(staging, owner.st_uid, owner.st_gid)
        if moved_to is not None:
            data_dir.rename(moved_to)
        elif data_dir.exists():
            data_dir.rmdir()  # empty, checked above
        staging.rename(data_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    data_dir.chmod(0o700)
    return manifest, moved_to
