"""What agents may do with the person's memory over MCP: search it, add a note, read recent
transcripts and sensor summaries. Every answer cites the memories it comes from (id, kind,
time), so an agent can say where it read something. Forgetting is not offered to agents.

Plain functions over the memory store (blocking: run them in a thread); the MCP server in
``hub.mcp_server.server`` exposes them as tools.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from memory.protocol import MemoryStore
from memory.types import MemoryItem, NewMemory, SearchFilters

TEXT_LIMIT = 1000  # characters of a memory's text in an answer: enough to read, bounded


class MemoryCitation(BaseModel):
    """Where a piece of an answer comes from: one memory."""

    id: str = Field(description="The memory's id (GET /v1/memory/{id} on the hub).")
    kind: str = Field(description="note, fact, message, transcript, sensor_summary, ...")
    happened_at: str = Field(description="When it happened, ISO 8601.")
    stored_at: str = Field(description="When the hub stored it, ISO 8601.")


class FoundMemory(BaseModel):
    """One memory in an answer, with its citation."""

    text: str
    source: str
    score: float | None = Field(default=None, description="The search's ranking score.")
    citation: MemoryCitation


class MemoryAnswer(BaseModel):
    """Memories answering an agent's request, and the citations of all of them."""

    memories: list[FoundMemory]
    citations: list[MemoryCitation]


def citation_of(item: MemoryItem) -> MemoryCitation:
    """The citation of one stored memory."""
    return MemoryCitation(
        id=item.id, kind=item.kind, happened_at=item.happened_at, stored_at=item.stored_at
    )


def _answer(items: list[tuple[MemoryItem, float | None, str]]) -> MemoryAnswer:
    memories = [
        FoundMemory(
            text=text[:TEXT_LIMIT], source=item.source, score=score, citation=citation_of(item)
        )
        for item, score, text in items
    ]
    return MemoryAnswer(memories=memories, citations=[m.citation for m in memories])


def search_memories(
    store: MemoryStore,
    query: str,
    limit: int,
    kinds: list[str] | None = None,
    since: str | None = None,
    until: str | None = None,
) -> MemoryAnswer:
    """The memories that best match ``query`` (hybrid: meaning and words)."""
    filters = SearchFilters(kinds=tuple(kinds or ()), since=since, until=until)
    hits = store.search(query, limit, filters, "hybrid")
    return _answer([(hit.item, round(hit.score, 6), hit.item.text) for hit in hits])


def add_note(store: MemoryStore, text: str) -> MemoryAnswer:
    """Store a note the agent was told to keep; the answer cites the new memory."""
    item = store.add(NewMemory(text=text, kind="note", source="conversation"))
    return _answer([(item, None, item.text)])


def recent_of_kind(
    store: MemoryStore,
    kind: str,
    limit: int,
    since: str | None = None,
    until: str | None = None,
    oldest_first: bool = False,
) -> MemoryAnswer:
    """The newest memories of ``kind`` in the time range (newest first unless asked)."""
    filters = SearchFilters(kinds=(kind,), since=since, until=until)
    items, _ = store.list_items(filters, limit, 0)
    if oldest_first:
        items = sorted(items, key=lambda item: item.happened_at)
    return _answer([(item, None, item.text) for item in items])


def summary_text(answer: MemoryAnswer) -> str:
    """The answer as lines an agent's model reads: time, kind, id, text."""
    if not answer.memories:
        return "No memories found."
    return "\n".join(
        f"[{m.citation.happened_at} {m.citation.kind} {m.citation.id}] {m.text}"
        for m in answer.memories
    )


def as_result(answer: MemoryAnswer) -> dict[str, Any]:
    """The structured result an MCP tool returns."""
    return answer.model_dump(mode="json")
