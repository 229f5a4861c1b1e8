"""Check a backup before trusting it: format, every file present, sizes and checksums."""

from __future__ import annotations

from pathlib import Path

from hub import __version__
from hub.backup.errors import BackupRefusedError
from hub.backup.manifest import PAYLOAD_DIR, BackedUpFile, Manifest, read_manifest
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


def check_backup_layout(backup_dir: Path) -> Manifest:
    """Return the manifest of a backup whose folder holds exactly the files it lists, no newer
    than this hub; the files' bytes are checked by whoever reads them (verify, or restore)."""
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
    return manifest


def missing(entry: BackedUpFile) -> BackupRefusedError:
    """The refusal for a listed file that is not in the backup."""
    return BackupRefusedError(f"{entry.path} is missing from the backup: it is incomplete")


def wrong_size(entry: BackedUpFile, size: int) -> BackupRefusedError:
    """The refusal for a file whose size is not the manifest's."""
    return BackupRefusedError(
        f"{entry.path} is truncated or altered: {size} bytes, the manifest says "
        f"{entry.size}; use another backup"
    )


def wrong_checksum(entry: BackedUpFile) -> BackupRefusedError:
    """The refusal for a file whose bytes do not hash to the manifest's sha256."""
    return BackupRefusedError(
        f"{entry.path} fails its sha256 checksum: the backup is corrupt or was "
        "tampered with; use another backup"
    )


def verify_backup(backup_dir: Path, progress: Progress = no_progress) -> Manifest:
    """Return the manifest of a complete, untouched backup; refuse anything else, saying why."""
    manifest = check_backup_layout(backup_dir)
    payload = backup_dir / PAYLOAD_DIR
    for entry in manifest.files:
        path = payload / entry.path
        progress(entry.path, entry.size)
        if not path.is_file():
            raise missing(entry)
        size = path.stat().st_size
        if size != entry.size:
            raise wrong_size(entry, size)
        if sha256_of(path) != entry.sha256:
            raise wrong_checksum(entry)
    return manifest
