"""Give retrieved memories to the model: a numbered list in the system message, within a token
budget, and the citations of exactly the memories that made it in."""

from __future__ import annotations

from typing import Any

from hub.engine.chat_model import ChatModel
from hub.engine.types import ChatMessage
from memory.types import SearchHit

DEFAULT_SYSTEM = "You are a helpful personal assistant running on the user's own hub."
HEADER = (
    "Here is what you remember about the user (first person means the user). Use it when it "
    "helps, and mention the number of a memory you rely on, like [1]:"
)


def citation(number: int, hit: SearchHit) -> dict[str, Any]:
    """How a cited memory appears in an answer."""
    return {
        "number": number,
        "id": hit.item.id,
        "snippet": hit.snippet,
        "kind": hit.item.kind,
        "happened_at": hit.item.happened_at,
        "score": round(hit.score, 6),
        "similarity": None if hit.similarity is None else round(hit.similarity, 4),
    }


def _line(number: int, hit: SearchHit) -> str:
    return f"[{number}] ({hit.item.happened_at[:10]}, {hit.item.kind}) {hit.snippet}"


def memory_block(
    hits: list[SearchHit], model: ChatModel, budget: int
) -> tuple[str, list[dict[str, Any]]]:
    """The numbered memories that fit in ``budget`` tokens, and their citations."""
    lines = [HEADER]
    cited: list[dict[str, Any]] = []
    for hit in hits:
        candidate = [*lines, _line(len(cited) + 1, hit)]
        if len(model.render_text("\n".join(candidate)).tokens) > budget:
            break
        lines = candidate
        cited.append(citation(len(cited) + 1, hit))
    return ("\n".join(lines) if cited else ""), cited


def with_memories(messages: list[ChatMessage], block: str) -> list[ChatMessage]:
    """The conversation with the memory block added to (or as) its leading system message."""
    if not block:
        return messages
    if messages and messages[0].role == "system":
        first = ChatMessage("system", f"{messages[0].content}\n\n{block}")
        return [first, *messages[1:]]
    return [ChatMessage("system", f"{DEFAULT_SYSTEM}\n\n{block}"), *messages]
