"""Check a backup before trusting it: format, every file present, sizes and checksums."""

from __future__ import annotations

from pathlib import Path

from hub import __version__
from hub.backup.errors import BackupRefusedError
from hub.backup.manifest import PAYLOAD_DIR, Manifest, read_manifest
from hub.backup.progress import Progress, no_progress
from hub.backup.snapshot import sha256_of


def _version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for part in version.split("."):
        digits = "".join(ch for ch in part if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def _listed_payload(payload: Path) -> set[str]:
    return {path.relative_to(payload).as_posix() for path in payload.rglob("*") if path.is_file()}


def verify_backup(backup_dir: Path, progress: Progress = no_progress) -> Manifest:
    """Return the manifest of a complete, untouched backup; refuse anything else, saying why."""
    manifest = read_manifest(backup_dir)
    if _version_tuple(manifest.hub_version) > _version_tuple(__version__):
        raise BackupRefusedError(
            f"this backup was made by hub {manifest.hub_version}, newer than this hub "
            f"({__version__}): upgrade the hub, then restore"
        )
    payload = backup_dir / PAYLOAD_DIR
    if not payload.is_dir():
        raise BackupRefusedError(f"{payload} is missing: the backup is incomplete")
    extra = sorted(_listed_payload(payload) - {entry.path for entry in manifest.files})
    if extra:
        raise BackupRefusedError(
            f"the backup holds files its manifest does not list ({', '.join(extra[:5])}): "
            "it was changed after it was taken; use an untouched backup"
        )
    for entry in manifest.files:
        path = payload / entry.path
        progress(entry.path, entry.size)
        if not path.is_file():
            raise BackupRefusedError(f"{entry.path} is missing from the backup: it is incomplete")
        size = path.stat().st_size
        if size != entry.size:
            raise BackupRefusedError(
                f"{entry.path} is truncated or altered: {size} bytes, the manifest says "
                f"{entry.size}; use another backup"
            )
        if sha256_of(path) != entry.sha256:
            raise BackupRefusedError(
                f"{entry.path} fails its sha256 checksum: the backup is corrupt or was "
                "tampered with; use another backup"
            )
    return manifest
