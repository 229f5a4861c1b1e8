"""manifest.json: what a backup holds, with sizes, sha256 checksums and schema versions."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from hub.backup.errors import BackupRefusedError
from memory.durable_files import write_atomically

MANIFEST_NAME = "manifest.json"
PAYLOAD_DIR = "data"
FORMAT_NAME = "walking-nas-backup"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class SchemaVersion:
    """How far a database's schema had come: PRAGMA user_version and applied migrations."""

    user_version: int
    migrations: tuple[str, ...]


@dataclass(frozen=True)
class BackedUpFile:
    """One file of the backup, by its path relative to the data directory."""

    path: str
    kind: str  # "sqlite" or "file"
    size: int
    sha256: str
    schema: SchemaVersion | None = None


@dataclass(frozen=True)
class Manifest:
    """Everything restore needs to check a backup before trusting it."""

    hub_version: str
    created_at: str
    source_data_dir: str
    files: tuple[BackedUpFile, ...]
    skipped: tuple[str, ...] = ()
    format: str = FORMAT_NAME
    format_version: int = FORMAT_VERSION
    notes: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        """The manifest as pretty, stable JSON."""
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    def write(self, backup_dir: Path) -> None:
        """Write manifest.json into the backup directory (last, so its presence means complete)."""
        write_atomically(backup_dir / MANIFEST_NAME, self.to_json())


def _safe_relative(path: Any) -> str:
    if not isinstance(path, str) or not path:
        raise BackupRefusedError(f"manifest lists a file without a valid path ({path!r})")
    pure = PurePosixPath(path)
    if pure.is_absolute() or ".." in pure.parts or "\\" in path:
        raise BackupRefusedError(f"manifest lists an unsafe path {path!r}: refusing to restore")
    return path


def _file_from(raw: Any) -> BackedUpFile:
    if not isinstance(raw, dict):
        raise BackupRefusedError("manifest's file list is malformed: the backup is corrupt")
    try:
        schema_raw = raw.get("schema")
        schema = (
            SchemaVersion(int(schema_raw["user_version"]), tuple(schema_raw["migrations"]))
            if schema_raw
            else None
        )
        entry = BackedUpFile(
            path=_safe_relative(raw["path"]),
            kind=str(raw["kind"]),
            size=int(raw["size"]),
            sha256=str(raw["sha256"]),
            schema=schema,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise BackupRefusedError(
            f"manifest entry {raw!r} is malformed: the backup is corrupt"
        ) from exc
    if entry.kind not in ("sqlite", "file"):
        raise BackupRefusedError(f"manifest entry {entry.path!r} has unknown kind {entry.kind!r}")
    return entry


def read_manifest(backup_dir: Path) -> Manifest:
    """Read and check the shape of a backup's manifest; refuse what is not ours."""
    if not backup_dir.is_dir():
        raise BackupRefusedError(f"{backup_dir} is not a directory: give the backup's folder")
    path = backup_dir / MANIFEST_NAME
    if not path.is_file():
        raise BackupRefusedError(
            f"{backup_dir} has no {MANIFEST_NAME}: it is not a walking-nas backup, or the "
            "backup was interrupted; take a new one with `hub backup PATH`"
        )
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BackupRefusedError(f"{path} is not valid JSON: the backup is corrupt") from exc
    if not isinstance(raw, dict) or raw.get("format") != FORMAT_NAME:
        found = raw.get("format") if isinstance(raw, dict) else None
        raise BackupRefusedError(
            f"{path} is not a walking-nas backup manifest (format {found!r}, "
            f"expected {FORMAT_NAME!r}): point `hub restore` at a folder made by `hub backup`"
        )
    version = raw.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise BackupRefusedError(f"{path} has an invalid format_version {version!r}")
    if version > FORMAT_VERSION:
        raise BackupRefusedError(
            f"this backup uses format {version}, newer than this hub understands "
            f"({FORMAT_VERSION}): upgrade the hub, then restore"
        )
    files = raw.get("files")
    if not isinstance(files, list) or not files:
        raise BackupRefusedError(f"{path} lists no files: the backup is corrupt or empty")
    entries = tuple(_file_from(item) for item in files)
    if len({entry.path for entry in entries}) != len(entries):
        raise BackupRefusedError(f"{path} lists a file twice: the backup is corrupt")
    return Manifest(
        hub_version=str(raw.get("hub_version", "")),
        created_at=str(raw.get("created_at", "")),
        source_data_dir=str(raw.get("source_data_dir", "")),
        files=entries,
        skipped=tuple(str(item) for item in raw.get("skipped", [])),
        format=FORMAT_NAME,
        format_version=version,
        notes={str(k): str(v) for k, v in dict(raw.get("notes", {})).items()},
    )
