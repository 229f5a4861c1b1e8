"""Backups of the data directory: SQLite online backup plus small files, with a manifest."""

from hub.backup.create import create_backup
from hub.backup.errors import BackupError, BackupRefusedError
from hub.backup.manifest import Manifest
from hub.backup.restore import RestoreResult, restore_backup
from hub.backup.verify import verify_backup

__all__ = [
    "BackupError",
    "BackupRefusedError",
    "Manifest",
    "RestoreResult",
    "create_backup",
    "restore_backup",
    "verify_backup",
]
