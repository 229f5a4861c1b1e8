"""What a restore keeps of a backup's settings, and what it sets aside for the person to review.

A backup is data from a folder or a disk that others may have written to: its databases and keys
are restored (that is what a backup is for), but nothing in it may widen what the hub exposes or
runs. So hub.toml (listen address, token requirement, ports) stays this machine's, models.json
keeps only model files this machine has and only trusted users can change, and satellites the
backup approved wait for the person's approval again.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hub.models.catalog import MODEL_NAME_PATTERN, REGISTRY_FILE_NAME
from hub.models.gguf_info import NotAGgufFileError, check_gguf_magic
from hub.models.packaged import PACKAGED_MODELS
from hub.settings import SETTINGS_FILE_NAME
from hub.voice.satellite_store import VOICE_DB_NAME
from memory.durable_files import write_atomically

SET_ASIDE_SETTINGS_NAME = SETTINGS_FILE_NAME + ".restored"
# Write bits for the group and for everyone: a file or folder with them may be changed by others.
OTHERS_WRITE = stat.S_IWGRP | stat.S_IWOTH


@dataclass(frozen=True)
class SettingsOutcome:
    """What became of hub.toml: the backup's set aside (by name), this machine's kept or not."""

    set_aside: str | None
    kept_current: bool


def set_aside_settings(staging: Path, current: Path | None) -> SettingsOutcome:
    """Keep this machine's hub.toml (from ``current``, the data directory being replaced) and
    move the backup's to hub.toml.restored, unless the two are the same."""
    restored = staging / SETTINGS_FILE_NAME
    mine = current / SETTINGS_FILE_NAME if current is not None else None
    if mine is not None and not mine.is_file():
        mine = None
    if restored.is_file() and mine is not None and restored.read_bytes() == mine.read_bytes():
        return SettingsOutcome(None, True)
    set_aside = None
    if restored.is_file():
        os.replace(restored, staging / SET_ASIDE_SETTINGS_NAME)
        set_aside = SET_ASIDE_SETTINGS_NAME
    if mine is not None and mine.is_symlink():
        restored.symlink_to(mine.readlink())  # settings kept elsewhere (/etc) stay there
    elif mine is not None:
        shutil.copyfile(mine, restored)
        restored.chmod(0o600)
    return SettingsOutcome(set_aside, mine is not None)


def _changeable_by_others(info: os.stat_result, trusted_uids: frozenset[int]) -> bool:
    return info.st_uid not in trusted_uids or bool(info.st_mode & OTHERS_WRITE)


def model_file_problem(
    raw: Any, backup_dir: Path, trusted_uids: frozenset[int], backup_media: int | None
) -> str | None:
    """Why a model path from a backup may not be served here, or None when it may.

    ``backup_media`` is the device the backup is on when that is not the data directory's (a
    USB disk, a network share): whoever could write the backup there may have put the model.
    """
    if not isinstance(raw, str) or not Path(raw).is_absolute():
        return "not an absolute path"
    try:
        path = Path(raw).resolve(strict=True)
        info = path.stat()
        folder = path.parent.stat()
    except OSError:
        return "no such file on this machine"
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file"
    if path.is_relative_to(backup_dir.resolve()) or info.st_dev == backup_media:
        return "it lies on the backup's disk or share"
    if _changeable_by_others(info, trusted_uids):
        return "other users may change the file"
    # A folder with the sticky bit (like /tmp) lets no one else replace a file they do not own.
    if _changeable_by_others(folder, trusted_uids) and not folder.st_mode & stat.S_ISVTX:
        return "other users may change its folder"
    try:
        check_gguf_magic(path)
    except NotAGgufFileError:
        return "not a GGUF model file"
    return None


def screen_models(
    staging: Path, backup_dir: Path, trusted_uids: frozenset[int]
) -> list[tuple[str, str, str]]:
    """Keep the backup's models.json entries that point at model files fit to serve; return
    the dropped ones as (name, path, why); the metadata cache goes too (files are read again)."""
    path = staging / REGISTRY_FILE_NAME
    if not path.is_file():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("user_models", {}), dict):
        path.unlink()
        return [("every model", REGISTRY_FILE_NAME, "the backup's model list is unreadable")]
    packaged = {model.name for model in PACKAGED_MODELS}
    backup_device = backup_dir.stat().st_dev
    backup_media = backup_device if backup_device != staging.stat().st_dev else None
    kept: dict[str, str] = {}
    dropped = []
    for name, raw in sorted(data.get("user_models", {}).items()):
        problem = (
            "not a usable model name"
            if not MODEL_NAME_PATTERN.match(name) or name in packaged
            else model_file_problem(raw, backup_dir, trusted_uids, backup_media)
        )
        if problem is None:
            kept[name] = raw
        else:
            dropped.append((name, str(raw), problem))
    active = data.get("active")
    if active is not None and active not in kept and active not in packaged:
        active = None
    screened = {"active": active, "user_models": kept, "info_cache": {}}
    write_atomically(path, json.dumps(screened, indent=2, sort_keys=True) + "\n")
    return dropped


def hold_satellites(staging: Path) -> list[str]:
    """Turn the Wyoming satellites the backup approved back to discovered (the hub would connect
    to their addresses and take their audio as the owner's); return their ids and addresses."""
    path = staging / VOICE_DB_NAME
    if not path.is_file():
        return []
    conn = sqlite3.connect(f"file:{path}?mode=rw", uri=True)
    try:
        with conn:
            exists = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'satellites'"
            ).fetchone()
            if not exists:
                return []
            rows = conn.execute(
                "SELECT id, host, port FROM satellites WHERE status = 'approved' ORDER BY id"
            ).fetchall()
            conn.execute(
                "UPDATE satellites SET status = 'discovered', approved_at = NULL "
                "WHERE status = 'approved'"
            )
    finally:
        conn.close()
    return [
        row[0] if row[0] == f"{row[1]}:{row[2]}" else f"{row[0]} ({row[1]}:{row[2]})"
        for row in rows
    ]
