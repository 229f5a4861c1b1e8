"""Client credentials in clients.db: only a hash of each secret is stored.

A credential is a random 256-bit secret, so a plain SHA-256 of it is as good as a slow password
hash (there is nothing to guess) and lets every request find its client by an indexed lookup.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from hub.clients.scopes import parse_scopes
from hub.errors import HubError
from memory.sqlite_database import LockedDatabase, Migration, open_database

CLIENTS_DB_NAME = "clients.db"
# Every credential starts so: a person (and a secret scanner) can tell it from the owner token.
CREDENTIAL_PREFIX = "wnc_"
# Last seen is written at most this often per client: an fsync on every request would cost more
# than the request.
LAST_SEEN_EVERY_SECONDS = 60.0
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
# Longer than any credential this store makes: longer input is refused unhashed.
MAX_CREDENTIAL_CHARS = 100


def m001_clients(db: sqlite_utils.Database) -> None:
    """One row per client program: its name, scopes and the hash of its secret."""
    db.execute(
        """
        CREATE TABLE clients (
            name TEXT PRIMARY KEY,
            secret_hash TEXT NOT NULL UNIQUE,
            scopes TEXT NOT NULL,
            created_at REAL NOT NULL,
            last_seen_at REAL
        )
        """
    )


MIGRATIONS: list[Migration] = [m001_clients]


class ClientNameError(HubError, ValueError):
    """A client name that cannot be used."""

    error_code = "invalid_client_name"
    param = "name"


class ClientExistsError(HubError, ValueError):
    """A client of that name exists already."""

    http_status = 409
    error_code = "client_exists"
    param = "name"


class UnknownClientError(HubError, LookupError):
    """No client has that name."""

    http_status = 404
    error_code = "client_not_found"
    param = "name"


@dataclass(frozen=True)
class ClientRecord:
    """One client program as the owner sees it (never its secret)."""

    name: str
    scopes: tuple[str, ...]
    created_at: float
    last_seen_at: float | None


@dataclass(frozen=True)
class NewClient:
    """A client just made, with its secret: shown once, then only its hash is kept."""

    record: ClientRecord
    credential: str


def hash_credential(credential: str) -> str:
    """The stored form of a credential."""
    return hashlib.sha256(credential.encode()).hexdigest()


def looks_like_credential(text: str) -> bool:
    """True when ``text`` has a client credential's form (not whether it is valid)."""
    return text.startswith(CREDENTIAL_PREFIX) and len(text) <= MAX_CREDENTIAL_CHARS


def check_name(name: str) -> str:
    """The name, or a ClientNameError saying what a name may be."""
    if not NAME_PATTERN.fullmatch(name):
        raise ClientNameError(
            f"client name {name[:80]!r} is not usable; use 1 to 64 letters, digits, '.', '_' "
            "or '-', starting with a letter or digit (such as home-assistant)"
        )
    return name


def _record(row: tuple[str, str, float, float | None]) -> ClientRecord:
    name, scopes, created_at, last_seen_at = row
    return ClientRecord(name, tuple(scopes.split()), created_at, last_seen_at)


class SqliteClientStore:
    """Add, list, revoke and authenticate client credentials; blocking (call from a thread)."""

    def __init__(self, database: LockedDatabase, clock: Callable[[], float] = time.time) -> None:
        self.database = database
        self.clock = clock

    @classmethod
    def open(cls, data_dir: Path) -> SqliteClientStore:
        """Open clients.db in the data directory, migrating it if needed."""
        return cls(open_database(data_dir / CLIENTS_DB_NAME, MIGRATIONS))

    def close(self) -> None:
        """Close the database."""
        self.database.close()

    def add(self, name: str, scopes: list[str] | str) -> NewClient:
        """Make a credential for the program ``name`` limited to ``scopes``."""
        check_name(name)
        chosen = parse_scopes(scopes)
        credential = CREDENTIAL_PREFIX + secrets.token_urlsafe(32)
        now = self.clock()
        with self.database.transaction() as db:
            if db.execute("SELECT 1 FROM clients WHERE name = ?", [name]).fetchone():
                raise ClientExistsError(
                    f"a client named {name!r} exists already; revoke it first "
                    f"(`hub clients revoke {name}`) or choose another name"
                )
            db.execute(
                "INSERT INTO clients (name, secret_hash, scopes, created_at) VALUES (?, ?, ?, ?)",
                [name, hash_credential(credential), " ".join(chosen), now],
            )
        return NewClient(ClientRecord(name, chosen, now, None), credential)

    def list_clients(self) -> list[ClientRecord]:
        """Every client, oldest first."""
        with self.database.reading() as db:
            rows = db.execute(
                "SELECT name, scopes, created_at, last_seen_at FROM clients ORDER BY created_at"
            ).fetchall()
        return [_record(row) for row in rows]

    def revoke(self, name: str) -> None:
        """Forget the client's credential: the next request that carries it is refused."""
        with self.database.transaction() as db:
            if db.execute("DELETE FROM clients WHERE name = ?", [name]).rowcount == 0:
                raise UnknownClientError(
                    f"no client is named {name[:80]!r}; `hub clients list` shows them"
                )

    def authenticate(self, credential: str) -> ClientRecord | None:
        """The client holding ``credential``, noting that it was seen; None when no client does."""
        if not looks_like_credential(credential):
            return None
        secret_hash = hash_credential(credential)
        with self.database.reading() as db:
            row = db.execute(
                "SELECT name, scopes, created_at, last_seen_at FROM clients WHERE secret_hash = ?",
                [secret_hash],
            ).fetchone()
        if row is None:
            return None
        record = _record(row)
        now = self.clock()
        if record.last_seen_at is None or now - record.last_seen_at >= LAST_SEEN_EVERY_SECONDS:
            with self.database.transaction() as db:
                db.execute(
                    "UPDATE clients SET last_seen_at = ? WHERE secret_hash = ?", [now, secret_hash]
                )
            record = ClientRecord(record.name, record.scopes, record.created_at, now)
        return record
