"""Training prompts with memories in them, made by the very functions that prompt the model
when retrieval is on (hub/recall/context.py), so a change to that format is learned as is."""

from __future__ import annotations

from collections.abc import Sequence

from adapters.examples import SourceText
from hub.engine.types import ChatMessage, Prompt
from hub.recall.context import memory_block, with_default_system, with_memories
from memory.types import MemoryItem, SearchHit

# Training examples show a handful of short memories: never near any real budget.
_BUDGET_TOKENS = 100_000


class _CharCounter:
    """Stands in for the model where memory_block only counts tokens (about 4 characters each)."""

    context_length = 4 * _BUDGET_TOKENS

    def render_text(self, text: str) -> Prompt:
        """Roughly as many tokens as the model would make of ``text``."""
        return Prompt([0] * (len(text) // 4 + 1))


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
    block, _ = memory_block([_hit(m) for m in memories], _CharCounter(), _BUDGET_TOKENS)  # type: ignore[arg-type]
    messages = with_memories(with_default_system([ChatMessage("user", question)]), block)
    system = next((m.content for m in messages if m.role == "system"), "")
    return system, messages[-1].content
