"""Take a backup: every SQLite database by online backup, the small files, then the manifest."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from hub import __version__
from hub.backup.errors import BackupError
from hub.backup.manifest import PAYLOAD_DIR, BackedUpFile, Manifest
from hub.backup.progress import Progress, no_progress
from hub.backup.scan import DataItem, scan_data_dir
from hub.backup.snapshot import copy_file, schema_version, sha256_of, snapshot_database


def prepare_target(target: Path) -> None:
    """Create the backup folder (0700), refusing one that already holds anything."""
    if target.exists():
        if not target.is_dir():
            raise BackupError(f"{target} exists and is not a folder: choose a new path")
        if any(target.iterdir()):
            raise BackupError(
                f"{target} is not empty: refusing to overwrite it; choose a new path "
                "(for example one with today's date)"
            )
    target.mkdir(parents=True, exist_ok=True)
    target.chmod(0o700)


def _copy_item(item: DataItem, payload: Path) -> BackedUpFile:
    destination = payload / item.relative
    destination.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if item.is_sqlite:
        snapshot_database(item.path, destination)
    else:
        copy_file(item.path, destination)
    destination.chmod(0o600)
    return BackedUpFile(
        path=item.relative,
        kind="sqlite" if item.is_sqlite else "file",
        size=destination.stat().st_size,
        sha256=sha256_of(destination),
        schema=schema_version(destination) if item.is_sqlite else None,
    )


def plan_backup(data_dir: Path) -> tuple[list[DataItem], list[str]]:
    """What a backup of ``data_dir`` will take, and the cache folders it leaves out."""
    if not data_dir.is_dir():
        raise BackupError(
            f"data directory {data_dir} does not exist: pass --data-dir or set HUB_DATA_DIR"
        )
    items, skipped = scan_data_dir(data_dir)
    if not items:
        raise BackupError(f"{data_dir} holds nothing to back up: is it the right data directory?")
    return items, skipped


def create_backup(data_dir: Path, target: Path, progress: Progress = no_progress) -> Manifest:
    """Copy the data directory into ``target`` consistently, even while the hub runs."""
    items, skipped = plan_backup(data_dir)
    if target.resolve().is_relative_to(data_dir.resolve()):
        raise BackupError(
            f"{target} is inside the data directory {data_dir}: put the backup elsewhere "
            "(ideally on another disk)"
        )
    prepare_target(target)
    payload = target / PAYLOAD_DIR
    payload.mkdir(mode=0o700)
    files = []
    for item in items:
        progress(item.relative, item.size)
        try:
            files.append(_copy_item(item, payload))
        except FileNotFoundError:
            # Removed while we ran (an atomic rename's temporary file): nothing to keep.
            continue
        except OSError as exc:
            raise BackupError(f"could not copy {item.path}: {exc}; check permissions") from exc
    manifest = Manifest(
        hub_version=__version__,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        source_data_dir=str(data_dir),
        files=tuple(files),
        skipped=tuple(skipped),
        notes={"skipped": "caches the hub re-creates on start (models/ holds assembled models)"},
    )
    # The manifest comes last: a backup without one was interrupted and is never restored.
    manifest.write(target)
    os.sync()
    return manifest
