"""The owner's web passphrase, kept as an argon2id hash in the data directory."""

from __future__ import annotations

import hashlib
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from memory.durable_files import write_atomically

PASSPHRASE_FILE_NAME = "web_passphrase"
MIN_PASSPHRASE_CHARS = 8
MAX_PASSPHRASE_CHARS = 1024


class PassphraseRejectedError(ValueError):
    """The chosen passphrase is too short or too long."""


def check_new_passphrase(passphrase: str) -> None:
    """Refuse passphrases that are too weak or absurdly long, saying what is wanted."""
    if len(passphrase.strip()) < MIN_PASSPHRASE_CHARS:
        raise PassphraseRejectedError(
            f"choose a passphrase of at least {MIN_PASSPHRASE_CHARS} characters; "
            "a few unrelated words are easy to remember and hard to guess"
        )
    if len(passphrase) > MAX_PASSPHRASE_CHARS:
        raise PassphraseRejectedError(
            f"a passphrase may be at most {MAX_PASSPHRASE_CHARS} characters"
        )


class PassphraseFile:
    """Set and check the passphrase; only its argon2id hash is ever written (mode 0600)."""

    def __init__(self, data_dir: Path, hasher: PasswordHasher | None = None) -> None:
        self.path = data_dir / PASSPHRASE_FILE_NAME
        self.hasher = hasher or PasswordHasher()

    def is_set(self) -> bool:
        """True once the owner has chosen a passphrase."""
        return self.path.exists() and bool(self.path.read_text(encoding="utf-8").strip())

    def set(self, passphrase: str) -> None:
        """Hash and store a new passphrase (blocking: argon2 is deliberately slow)."""
        check_new_passphrase(passphrase)
        write_atomically(self.path, self.hasher.hash(passphrase) + "\n")

    def tag(self) -> str | None:
        """A fingerprint of the stored hash (a new salt each time one is set), or None when no
        passphrase is set: sessions are bound to it, so a new passphrase ends them all."""
        try:
            stored = self.path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        return hashlib.sha256(stored.encode()).hexdigest()[:32] if stored else None

    def verify(self, passphrase: str) -> bool:
        """True when ``passphrase`` is the owner's (blocking)."""
        if not self.is_set() or len(passphrase) > MAX_PASSPHRASE_CHARS:
            return False
        stored = self.path.read_text(encoding="utf-8").strip()
        try:
            return self.hasher.verify(stored, passphrase)
        except (VerificationError, InvalidHashError):
            return False
