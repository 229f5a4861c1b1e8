"""Facts: short statements about the person, merged with similar ones instead of duplicated."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from memory.protocol import MemoryStore
from memory.types import MemoryItem, MemoryPatch, NewMemory, SearchFilters

logger = logging.getLogger(__name__)

# Cosine similarities for all-MiniLM-L6-v2: at or above SAME the new fact adds nothing; at or
# above MERGE it restates an existing fact (often with a change, "works at X" -> "works at Y")
# and replaces its text, keeping the old one in the history.
SAME_AT = 0.95
MERGE_AT = 0.80

FactAction = Literal["added", "merged", "unchanged"]


@dataclass(frozen=True)
class FactOutcome:
    """What remembering a fact did, and the fact as it now stands."""

    item: MemoryItem
    action: FactAction
    replaced: str | None = None


def _normalise(text: str) -> str:
    return " ".join(text.lower().strip(" .!").split())


def remember_fact(
    store: MemoryStore,
    text: str,
    source: str = "conversation",
    derived_from: Sequence[str] = (),
    happened_at: str | datetime | None = None,
    metadata: dict[str, Any] | None = None,
    merge_at: float = MERGE_AT,
    same_at: float = SAME_AT,
) -> FactOutcome:
    """Add a fact, or fold it into the most similar existing fact."""
    hits = store.search(text, k=1, filters=SearchFilters(kinds=("fact",)), mode="vector")
    best = hits[0] if hits else None
    similarity = best.similarity if best is not None and best.similarity is not None else -1.0
    if best is not None and (
        similarity >= same_at or _normalise(best.item.text) == _normalise(text)
    ):
        if derived_from:
            store.link_derivation(best.item.id, derived_from)
        logger.info("fact already known as %s (similarity %.2f)", best.item.id, similarity)
        return FactOutcome(store.get(best.item.id), "unchanged")
    if best is not None and similarity >= merge_at:
        merged = store.update(best.item.id, MemoryPatch(text=text), action="merged")
        if derived_from:
            store.link_derivation(merged.id, derived_from)
        logger.info("fact merged into %s (similarity %.2f)", merged.id, similarity)
        return FactOutcome(store.get(merged.id), "merged", replaced=best.item.text)
    item = store.add(
        NewMemory(
            text=text,
            kind="fact",
            source=source,
            happened_at=happened_at,
            metadata=metadata or {},
            derived_from=tuple(derived_from),
        )
    )
    return FactOutcome(item, "added")
