"""Request bodies of the memory and embeddings endpoints, validated at the edge."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


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
