"""Memory commands a person types in chat: "remember that …", "forget …", and the yes/no that
confirms a forget. The confirmation needs no server state: the question the hub asked carries
the memory's id, and the client sends the conversation back with the answer."""

from __future__ import annotations

import re
from dataclasses import dataclass

from hub.engine.types import ChatMessage

REMEMBER = re.compile(
    r"^\s*(?:please\s+)?(?:remember|note|keep in mind)\s*(?:that\b|:)\s*(?P<what>.+?)\s*[.!]?\s*$",
    re.IGNORECASE | re.DOTALL,
)
FORGET = re.compile(
    r"^\s*(?:please\s+)?forget\s+(?:about\s+|that\s+|the\s+memory\s+(?:about|that)\s+)?"
    r"(?P<what>.+?)\s*[.!]?\s*$",
    re.IGNORECASE | re.DOTALL,
)
YES = re.compile(r"^\s*(?:yes|yep|yeah|y|sure|ok|okay|do it|please do|confirm)\b[\s.!]*$", re.I)
NO = re.compile(r"^\s*(?:no|nope|n|don't|do not|cancel|keep it)\b[\s.!]*$", re.IGNORECASE)
QUESTION_MARK = "Shall I forget this memory"
PENDING_ID = re.compile(QUESTION_MARK + r"[^\[]*\[(?P<id>mem_[A-Za-z0-9_.:-]+)\]")


@dataclass(frozen=True)
class Remember:
    """Store ``text`` as a fact."""

    text: str


@dataclass(frozen=True)
class Forget:
    """Find the memory that best matches ``query`` and ask before forgetting it."""

    query: str


@dataclass(frozen=True)
class ConfirmForget:
    """The person answered the hub's forget question (``yes`` or not)."""

    memory_id: str
    yes: bool


Command = Remember | Forget | ConfirmForget


def forget_question(memory_id: str, text: str, happened_at: str) -> str:
    """The hub's question before forgetting; its wording is parsed back by ``find_command``."""
    return (
        f'{QUESTION_MARK}: "{text}" (from {happened_at[:10]}) [{memory_id}]? '
        'Answer "yes" to forget it, or "no" to keep it.'
    )


def find_command(messages: list[ChatMessage]) -> Command | None:
    """The memory command in the conversation's last user message, if any."""
    if not messages or messages[-1].role != "user":
        return None
    said = messages[-1].content.strip()
    previous = messages[-2] if len(messages) >= 2 else None
    if previous is not None and previous.role == "assistant":
        pending = PENDING_ID.search(previous.content)
        if pending and (YES.match(said) or NO.match(said)):
            return ConfirmForget(pending.group("id"), bool(YES.match(said)))
    remember = REMEMBER.match(said)
    if remember and len(remember.group("what").split()) >= 2:
        return Remember(remember.group("what").strip())
    forget = FORGET.match(said)
    if forget and _names_something(forget.group("what")):
        return Forget(forget.group("what").strip())
    return None


def _names_something(what: str) -> bool:
    """'forget my locker code' names a memory; 'forget it, tell me a joke' does not."""
    words = re.findall(r"[\w']+", what.lower())
    return len(words) >= 2 and words[0] not in {"it", "this", "everything"}
