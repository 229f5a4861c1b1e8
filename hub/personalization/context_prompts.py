"""Training prompts with memories in them, made by the very functions that prompt the model
when retrieval is on (hub/recall/context.py), so a change to that format is learned as is."""

from __future__ import annotations

from collections.abc import Sequence

from adapters.examples import SourceText
from hub.engine.types import ChatMessage
from hub.recall.context import note_text, ordered_for, with_default_system, with_notes
from memory.types import MemoryItem, SearchHit


def _hit(memory: SourceText) -> SearchHit:
    item = MemoryItem(
        id=memory.id,
        kind=memory.kind,
        text=memory.text,
        source="training",
        happened_at=memory.happened_at,
        stored_at=memory.happened_at,
        updated_at=memory.happened_at,
        metadata={},
        pinned=False,
    )
    return SearchHit(item, 1.0, memory.text, None, None, None)


def training_context(memories: Sequence[SourceText], question: str) -> tuple[str, str]:
    """(system message, user message) as the hub sends them for ``question`` when retrieval
    returns ``memories`` in this order."""
    hits = ordered_for(question, [_hit(m) for m in memories])
    messages = with_default_system([ChatMessage("user", question)])
    messages = with_notes(messages, [note_text(hit) for hit in hits])
    system = next((m.content for m in messages if m.role == "system"), "")
    return system, messages[-1].content
