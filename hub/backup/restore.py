"""Restore a backup into an empty data directory with owner-only permissions, checking every
file as it is copied and holding back the settings that could widen the hub's exposure."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from hub.backup.errors import BackupError
from hub.backup.in_use import processes_using
from hub.backup.manifest import Manifest
from hub.backup.progress import Progress, no_progress
from hub.backup.restored_settings import (
    SettingsOutcome,
    hold_satellites,
    screen_models,
    set_aside_settings,
)
from hub.backup.staging import stage_backup
from hub.backup.verify import check_backup_layout
from memory.durable_files import replace_durably


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


def _match_owner(tree: Path, uid: int, gid: int) -> None:
    """Give the restored files to the data directory's owner (root restoring for the service)."""
    for path in [tree, *tree.rglob("*")]:
        os.chown(path, uid, gid, follow_symlinks=False)


@dataclass(frozen=True)
class RestoreResult:
    """What a restore did, for the person to read: where things went and what was held back."""

    manifest: Manifest
    moved_to: Path | None  # where the data directory's previous contents went
    settings: SettingsOutcome  # hub.toml: the backup's set aside, this machine's kept
    # models.json entries left out: (name, path, why)
    dropped_models: tuple[tuple[str, str, str], ...]
    held_satellites: tuple[str, ...]  # satellites the backup approved, waiting for approval


def _trusted_uids(owner: os.stat_result | None) -> frozenset[int]:
    """Who may own a model file the restored hub serves: root, us, the data directory's owner."""
    return frozenset({0, os.geteuid(), *([owner.st_uid] if owner is not None else [])})


def restore_backup(
    backup_dir: Path,
    data_dir: Path,
    force: bool = False,
    progress: Progress = no_progress,
) -> RestoreResult:
    """Check the backup while copying it beside the data directory, hold back what could widen
    the hub's exposure, then swap the copy in; the live data is untouched until that swap."""
    moved_to = _check_target(data_dir, force)
    manifest = check_backup_layout(backup_dir)
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    owner = data_dir.stat() if data_dir.exists() else None
    staging = data_dir.with_name(f".{data_dir.name}.restoring-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        try:
            stage_backup(backup_dir, manifest, staging, progress)
        except PermissionError as exc:
            raise BackupError(
                f"cannot write beside {data_dir} ({exc.strerror}: {exc.filename}): run the "
                f"restore as root (sudo) or as the owner of {data_dir.parent}"
            ) from exc
        settings = set_aside_settings(staging, data_dir if moved_to is not None else None)
        dropped = screen_models(staging, backup_dir, _trusted_uids(owner))
        held = hold_satellites(staging)
        if owner is not None and os.geteuid() == 0:
            _match_owner(staging, owner.st_uid, owner.st_gid)
        if moved_to is not None:
            data_dir.rename(moved_to)
        elif data_dir.exists():
            data_dir.rmdir()  # empty, checked above
        replace_durably(staging, data_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    data_dir.chmod(0o700)
    return RestoreResult(manifest, moved_to, settings, tuple(dropped), tuple(held))
