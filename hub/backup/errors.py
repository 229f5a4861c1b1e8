"""The errors a backup or restore raises; each message names the problem and the fix."""

from __future__ import annotations


class BackupError(RuntimeError):
    """A backup could not be taken or restored; the message says why and what to do."""


class BackupRefusedError(BackupError):
    """A backup is corrupt, truncated, tampered with, foreign or too new, so it is not restored."""
