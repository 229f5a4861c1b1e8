"""A bridge's secret: made once, shown once, kept only as hashes the hub can check."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

# 128 bits as 32 hex digits: safe in a URL, in an app's settings field, and long enough for
# Nightscout uploaders, which want an API secret of at least 12 characters.
SECRET_BYTES = 16


@dataclass(frozen=True)
class SecretHashes:
    """What the store keeps of a secret: its SHA-256, and the SHA-256 of its SHA-1 hex."""

    sha256: bytes
    sha1_sha256: bytes

    @classmethod
    def of(cls, secret: str) -> SecretHashes:
        """The hashes of ``secret``."""
        return cls(sha256_of(secret), sha256_of(sha1_hex(secret)))


def new_secret() -> str:
    """A fresh random secret for one bridge."""
    return secrets.token_hex(SECRET_BYTES)


def sha1_hex(secret: str) -> str:
    """The SHA-1 hex digest Nightscout uploaders send in place of the secret itself."""
    return hashlib.sha1(secret.encode()).hexdigest()


def sha256_of(text: str) -> bytes:
    """The SHA-256 of ``text``: how a presented secret (or its SHA-1 hex) is looked up."""
    return hashlib.sha256(text.strip().encode()).digest()
