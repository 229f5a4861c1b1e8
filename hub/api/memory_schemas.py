"""Request and answer bodies of the memory and embeddings endpoints: requests are validated at
the edge; answers are built from the memory store's dataclasses (``from_domain``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from hub.api.response_base import ResponseModel
from memory.types import (
    KINDS,
    SOURCES,
    HistoryEntry,
    IndexMode,
    IndexProgress,
    MemoryItem,
    ReembedProgress,
    SearchHit,
)

TIMESTAMP = "ISO 8601 with a UTC offset."


class MemoryIn(BaseModel):
    """POST /v1/memory: one thing to remember."""

    model_config = ConfigDict(extra="forbid")

    text: str
    kind: str = "note"
    source: str = "conversation"
    happened_at: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    pinned: bool = False


class MemoryBatchIn(BaseModel):
    """POST /v1/memory/batch: several memories, stored together or not at all."""

    model_config = ConfigDict(extra="forbid")

    items: list[MemoryIn] = Field(min_length=1, max_length=1000)


class MemoryPatchIn(BaseModel):
    """PATCH /v1/memory/{id}: the fields to change."""

    model_config = ConfigDict(extra="forbid")

    text: str | None = None
    kind: str | None = None
    source: str | None = None
    happened_at: str | None = None
    metadata: dict[str, Any] | None = None
    pinned: bool | None = None


class MemorySearchIn(BaseModel):
    """POST /v1/memory/search."""

    model_config = ConfigDict(extra="forbid")

    query: str
    k: int = Field(default=10, ge=1, le=100)
    kinds: list[str] | None = None
    sources: list[str] | None = None
    since: str | None = None
    until: str | None = None
    mode: Literal["hybrid", "vector", "text"] = "hybrid"
    interpret_time: bool = Field(
        default=True, description='Read "yesterday", "last week" in the query as a time range.'
    )


class EmbeddingsIn(BaseModel):
    """POST /v1/embeddings, as OpenAI clients send it."""

    model_config = ConfigDict(extra="ignore")

    input: str | list[str]
    model: str = Field(min_length=1, max_length=200)
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = None
    user: str | None = None


class MemoryOut(ResponseModel):
    """A memory as the API shows it."""

    object: Literal["memory"] = "memory"
    id: str
    kind: str = Field(description=f"One of {', '.join(KINDS)}.")
    text: str
    source: str = Field(description=f"One of {', '.join(SOURCES)}.")
    happened_at: str = Field(description="When it happened (" + TIMESTAMP + ")")
    stored_at: str = Field(description="When the hub stored it (" + TIMESTAMP + ")")
    updated_at: str = Field(description="When it last changed (" + TIMESTAMP + ")")
    metadata: dict[str, Any] = Field(description="Free-form JSON the caller attached.")
    pinned: bool = Field(description="Pinned memories are kept and preferred in answers.")
    derived_from: list[str] = Field(
        description="Ids of the memories this one was derived from (a fact from a message)."
    )

    @classmethod
    def fields_of(cls, item: MemoryItem) -> dict[str, Any]:
        """The fields every memory answer shares."""
        return {
            "id": item.id,
            "kind": item.kind,
            "text": item.text,
            "source": item.source,
            "happened_at": item.happened_at,
            "stored_at": item.stored_at,
            "updated_at": item.updated_at,
            "metadata": item.metadata,
            "pinned": item.pinned,
            "derived_from": list(item.derived_from),
        }

    @classmethod
    def from_domain(cls, item: MemoryItem) -> MemoryOut:
        """The answer for one stored memory."""
        return cls(**cls.fields_of(item))


class HistoryEntryOut(ResponseModel):
    """One change to a memory."""

    at: str = Field(description=TIMESTAMP)
    action: str = Field(
        description='What happened: "created", "updated", "pinned", "unpinned" or "merged".'
    )
    changes: dict[str, Any] = Field(
        description='Each changed field as {"before": ..., "after": ...}; empty when created.'
    )

    @classmethod
    def from_domain(cls, entry: HistoryEntry) -> HistoryEntryOut:
        """The answer for one history entry."""
        return cls(at=entry.at, action=entry.action, changes=entry.changes)


class MemoryWithHistoryOut(MemoryOut):
    """GET /v1/memory/{id}: a memory, and its history when asked for."""

    history: list[HistoryEntryOut] | None = Field(
        default=None,
        exclude_if=lambda value: value is None,
        description="Oldest first; present only with ?history=true.",
    )

    @classmethod
    def with_history(
        cls, item: MemoryItem, history: list[HistoryEntry] | None
    ) -> MemoryWithHistoryOut:
        """The memory, with ``history`` when it was asked for."""
        entries = None if history is None else [HistoryEntryOut.from_domain(e) for e in history]
        return cls(**cls.fields_of(item), history=entries)


class MemoryHitOut(MemoryOut):
    """A search result: the whole memory, the matching snippet, and why it matched."""

    score: float = Field(description="Rank-fusion score (higher first), to 6 decimals.")
    similarity: float | None = Field(
        description="Cosine similarity to the query, to 4 decimals; null in text-only search."
    )
    snippet: str = Field(description="The part of the text that matched.")
    vector_rank: int | None = Field(description="Rank among vector matches; null if not one.")
    text_rank: int | None = Field(description="Rank among full-text matches; null if not one.")

    @classmethod
    def from_hit(cls, hit: SearchHit) -> MemoryHitOut:
        """The answer for one search hit."""
        return cls(
            **cls.fields_of(hit.item),
            score=round(hit.score, 6),
            similarity=None if hit.similarity is None else round(hit.similarity, 4),
            snippet=hit.snippet,
            vector_rank=hit.vector_rank,
            text_rank=hit.text_rank,
        )


class MemoryListOut(ResponseModel):
    """GET /v1/memory: a page of memories, newest first."""

    object: Literal["list"] = "list"
    data: list[MemoryOut]
    total: int = Field(description="How many memories match, over every page.")


class MemoryIdsOut(ResponseModel):
    """POST /v1/memory/batch: the new memories' ids, in the order sent."""

    ids: list[str]


class ReembeddingOut(ResponseModel):
    """How far re-embedding with the current embedding model has got."""

    done: int = Field(description="Chunks with a vector from the current model.")
    total: int = Field(description="Chunks in all.")
    running: bool
    error: str | None = Field(description="Why re-embedding last stopped, if it failed.")

    @classmethod
    def from_domain(cls, progress: ReembedProgress) -> ReembeddingOut:
        """The answer for the store's progress."""
        return cls(
            done=progress.done, total=progress.total, running=progress.running, error=progress.error
        )


class VectorIndexOut(ResponseModel):
    """How search by meaning is served, and how far a rebuild of its index has got."""

    mode: IndexMode = Field(
        description="exact: a small store, every vector scanned; ann: the saved HNSW index "
        "(memory-mapped) plus an exact scan of what came since; building: the index is being "
        "rebuilt from memory.db, meanwhile search finds by words and, by meaning, what is indexed."
    )
    searchable: int = Field(description="Vectors search finds by meaning now.")
    total: int = Field(description="Vectors of the current embedding model.")
    built: int = Field(description="Vectors the running rebuild has indexed (0 when none runs).")
    error: str | None = Field(description="Why saving the index last failed, if it did.")

    @classmethod
    def from_domain(cls, progress: IndexProgress) -> VectorIndexOut:
        """The answer for the store's index progress."""
        return cls(
            mode=progress.mode,
            searchable=progress.searchable,
            total=progress.total,
            built=progress.built,
            error=progress.error,
        )


class MemoryStatusOut(ResponseModel):
    """GET /v1/memory/status."""

    items: int = Field(description="Memories stored.")
    embedding_model: str
    embedder_ready: bool = Field(
        description="False for the first seconds after a start, while the embedding model loads: "
        "chat then answers without memories (and keeps the message once it has loaded)."
    )
    reembedding: ReembeddingOut
    index: VectorIndexOut
    fact_jobs: dict[str, int] = Field(
        description="Fact-extraction jobs by status (pending, done, failed); "
        "a status with no jobs is left out."
    )


class MemoryImportOut(ResponseModel):
    """POST /v1/memory/import: what the import did."""

    added: int
    skipped: int = Field(description="Memories whose id was already present.")


class MemoryDeletedOut(ResponseModel):
    """DELETE /v1/memory/{id}."""

    id: str
    object: Literal["memory.deleted"] = "memory.deleted"
    deleted: bool
    removed: list[str] = Field(description="Every id forgotten: the memory and facts from it.")


class AppliedTimeRange(ResponseModel):
    """The time phrase read in a search query, and the range it stands for."""

    phrase: str = Field(description='The words read as a time, e.g. "last week".')
    since: str = Field(description=TIMESTAMP)
    until: str = Field(description=TIMESTAMP)


class NoTimeRange(ResponseModel):
    """No time phrase was read (or since/until were given): an empty object."""

    model_config = ConfigDict(extra="forbid")


class MemorySearchOut(ResponseModel):
    """POST /v1/memory/search: best match first."""

    object: Literal["list"] = "list"
    results: list[MemoryHitOut]
    time: AppliedTimeRange | NoTimeRange = Field(
        description="The time range read from the query; an empty object when none was."
    )


class EmbeddingOut(ResponseModel):
    """One input's vector."""

    object: Literal["embedding"] = "embedding"
    index: int = Field(description="Position of the input it embeds.")
    embedding: list[float] | str = Field(
        description="Unit-length floats, or with encoding_format=base64 their little-endian "
        "float32 bytes in base64."
    )


class EmbeddingUsage(ResponseModel):
    """Tokens read."""

    prompt_tokens: int
    total_tokens: int


class EmbeddingListOut(ResponseModel):
    """POST /v1/embeddings, in OpenAI's shape."""

    object: Literal["list"] = "list"
    data: list[EmbeddingOut]
    model: str
    usage: EmbeddingUsage
