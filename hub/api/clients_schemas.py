"""Answers and bodies of /v1/clients: the owner's list of client credentials."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, Field

from hub.clients.store import ClientRecord


def _iso(seconds: float | None) -> str | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC).isoformat()


class ClientIn(BaseModel):
    """A new client program and what it may do."""

    name: str = Field(max_length=64, description="Such as home-assistant; letters, digits, . _ -")
    scopes: list[str] = Field(
        min_length=1, max_length=16, description="Such as ['chat', 'memory:read']."
    )


class ClientOut(BaseModel):
    """One client program (never its credential)."""

    name: str
    scopes: list[str]
    created_at: str = Field(description="ISO 8601, UTC.")
    last_seen_at: str | None = Field(
        description="When it last used its credential (to the minute), ISO 8601; null if never."
    )

    @classmethod
    def from_record(cls, record: ClientRecord) -> ClientOut:
        """The API's view of a stored client."""
        return cls(
            name=record.name,
            scopes=list(record.scopes),
            created_at=_iso(record.created_at) or "",
            last_seen_at=_iso(record.last_seen_at),
        )


class ClientListOut(BaseModel):
    """Every client program, oldest first."""

    data: list[ClientOut]


class CreatedClientOut(ClientOut):
    """A client just made: its credential is shown this once and never again."""

    credential: str = Field(description="Shown only now; the hub keeps only its hash.")
    header: str = Field(description="What a program that can send a header sends.")
    url_prefix: str = Field(
        description="The path a program that takes only a URL puts after http://HOST:PORT."
    )


class ScopeOut(BaseModel):
    """A scope a credential may hold."""

    name: str
    description: str


class ScopeListOut(BaseModel):
    """Every scope, in the order the hub lists them."""

    data: list[ScopeOut]


class ClientRevokedOut(BaseModel):
    """A client whose credential no longer works."""

    name: str
    revoked: bool
