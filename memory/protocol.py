"""The MemoryStore seam: what the hub needs from any memory store."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import IO, Protocol

from memory.types import (
    HistoryEntry,
    ImportReport,
    IndexProgress,
    MemoryItem,
    MemoryPatch,
    NewMemory,
    ReembedProgress,
    SearchFilters,
    SearchHit,
    SearchMode,
)

Progress = Callable[[int, int], None]


class MemoryStore(Protocol):
    """Items with full-text and vector search; every method is safe to call from any thread."""

    embedding_model: str

    def add(self, new: NewMemory) -> MemoryItem:
        """Store one memory and return it with its id."""
        ...

    def add_many(
        self, news: Sequence[NewMemory], progress: Progress | None = None
    ) -> list[MemoryItem]:
        """Store several memories in one transaction."""
        ...

    def get(self, memory_id: str) -> MemoryItem:
        """One memory, or UnknownMemoryError."""
        ...

    def update(self, memory_id: str, patch: MemoryPatch, action: str = "updated") -> MemoryItem:
        """Change fields (a new text is re-chunked and re-embedded)."""
        ...

    def pin(self, memory_id: str, pinned: bool = True) -> MemoryItem:
        """Pin or unpin a memory."""
        ...

    def forget(self, memory_id: str) -> list[str]:
        """Remove a memory and every trace of it (and facts derived from it); return the ids."""
        ...

    def link_derivation(self, fact_id: str, source_ids: Sequence[str]) -> None:
        """Record that a fact was derived from other memories."""
        ...

    def search(
        self,
        query: str,
        k: int = 10,
        filters: SearchFilters | None = None,
        mode: SearchMode = "hybrid",
    ) -> list[SearchHit]:
        """The best ``k`` memories for ``query``."""
        ...

    def list_items(
        self, filters: SearchFilters | None = None, limit: int = 50, offset: int = 0
    ) -> tuple[list[MemoryItem], int]:
        """A page of memories, newest first, and how many match in all."""
        ...

    def count(self) -> int:
        """How many memories are stored."""
        ...

    def items_of_kinds(self, kinds: Sequence[str]) -> list[MemoryItem]:
        """Every memory of these kinds with its times, oldest stored first."""
        ...

    def history(self, memory_id: str) -> list[HistoryEntry]:
        """Every change to one memory, oldest first."""
        ...

    def export_jsonl(self, out: IO[str]) -> int:
        """Write every memory as JSON lines; return how many."""
        ...

    def import_jsonl(self, source: IO[str], progress: Progress | None = None) -> ImportReport:
        """Read an export back; existing ids are skipped."""
        ...

    def reembed_progress(self) -> ReembedProgress:
        """How far re-embedding with the current model has got."""
        ...

    def index_progress(self) -> IndexProgress:
        """How vector search is served now, and how far an index rebuild has got."""
        ...

    def close(self) -> None:
        """Stop background work and close the database."""
        ...
