"""Give retrieved memories to the model: a numbered list beside the latest user message, within a
token budget, and the citations of exactly the memories that made it in.

The list goes into the latest turn, not the system message, so the earlier turns stay word for
word what they were and llama.cpp reuses their KV cache on the next turn."""

from __future__ import annotations

from typing import Any

from hub.engine.chat_model import ChatModel
from hub.engine.types import ChatMessage
from memory.types import SearchHit

# Worded and placed by trying them on the embedded 135M model: facts put in the latest user turn,
# under a fixed system prompt, were the ones it answered from most often.
DEFAULT_SYSTEM = "You are a helpful personal assistant. Answer using the facts the user gives."
HEADER = "Facts about me:"
QUESTION_LABEL = "Question: "


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


def with_default_system(messages: list[ChatMessage]) -> list[ChatMessage]:
    """Start with the caller's system prompt, or the hub's (always the same, so cached)."""
    if messages and messages[0].role == "system":
        return messages
    return [ChatMessage("system", DEFAULT_SYSTEM), *messages]


def with_memories(messages: list[ChatMessage], block: str) -> list[ChatMessage]:
    """The conversation with the memory block put in front of its latest user message."""
    if not block:
        return messages
    last_user = max((i for i, m in enumerate(messages) if m.role == "user"), default=None)
    if last_user is None:
        return [*messages, ChatMessage("user", block)]
    turn = messages[last_user]
    combined = ChatMessage("user", f"{block}\n\n{QUESTION_LABEL}{turn.content}")
    return [*messages[:last_user], combined, *messages[last_user + 1 :]]
