"""Plain data the memory store takes and returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, get_args

Kind = Literal["note", "fact", "message", "transcript", "sensor_summary", "image_text", "document"]
Source = Literal["conversation", "device", "import"]
SearchMode = Literal["hybrid", "vector", "text"]

KINDS: tuple[str, ...] = get_args(Kind)
SOURCES: tuple[str, ...] = get_args(Source)


@dataclass(frozen=True)
class NewMemory:
    """Something to remember; the store fills in the id and the times it does not get."""

    text: str
    kind: str = "note"
    source: str = "conversation"
    happened_at: str | datetime | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    pinned: bool = False
    derived_from: tuple[str, ...] = ()


@dataclass(frozen=True)
class MemoryPatch:
    """Fields to change on an existing memory; None leaves a field as it is."""

    text: str | None = None
    kind: str | None = None
    source: str | None = None
    happened_at: str | datetime | None = None
    metadata: dict[str, Any] | None = None
    pinned: bool | None = None


@dataclass(frozen=True)
class MemoryItem:
    """One stored memory, whole (its chunks are an internal detail)."""

    id: str
    kind: str
    text: str
    source: str
    happened_at: str
    stored_at: str
    updated_at: str
    metadata: dict[str, Any]
    pinned: bool
    derived_from: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict with a stable key order."""
        return {
            "id": self.id,
            "kind": self.kind,
            "text": self.text,
            "source": self.source,
            "happened_at": self.happened_at,
            "stored_at": self.stored_at,
            "updated_at": self.updated_at,
            "metadata": self.metadata,
            "pinned": self.pinned,
            "derived_from": list(self.derived_from),
        }


@dataclass(frozen=True)
class SearchFilters:
    """Which memories a search may return; empty tuples and None mean no restriction."""

    kinds: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    since: str | datetime | None = None
    until: str | datetime | None = None
    exclude_ids: frozenset[str] = frozenset()


@dataclass(frozen=True)
class SearchHit:
    """A memory found by a search, with why it was found."""

    item: MemoryItem
    score: float
    snippet: str
    similarity: float | None
    vector_rank: int | None
    text_rank: int | None


@dataclass(frozen=True)
class HistoryEntry:
    """One change to one memory: what changed, when, and the values before and after."""

    item_id: str
    at: str
    action: str
    changes: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"at": self.at, "action": self.action, "changes": self.changes}


@dataclass(frozen=True)
class ReembedProgress:
    """How far re-embedding with the current model has got."""

    model: str
    done: int
    total: int
    running: bool
    error: str | None = None

    @property
    def complete(self) -> bool:
        """True when every chunk has a vector from the current model."""
        return self.done >= self.total


IndexMode = Literal["exact", "ann", "building"]


@dataclass(frozen=True)
class IndexProgress:
    """How vector search is served now: ``exact`` (every vector in memory, a small store),
    ``ann`` (the saved HNSW index plus an exact layer of what came since) or ``building`` (the
    index is being rebuilt; meanwhile search finds by words, and by meaning what came since)."""

    mode: IndexMode
    searchable: int  # vectors search can find by meaning now
    total: int  # vectors of the current model in SQLite
    built: int  # vectors the rebuild running now has indexed (0 when none runs)
    error: str | None = None


@dataclass(frozen=True)
class ImportReport:
    """What an import did."""

    added: int
    skipped: int
