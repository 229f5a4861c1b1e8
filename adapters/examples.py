"""The plain inputs personalization learns from, and the training examples made from them."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class SourceMessage:
    """One message of a conversation; ``edited`` is the person's own better answer, if any."""

    role: str
    content: str
    rating: str | None = None  # "good", "bad" or None
    edited: str | None = None


@dataclass(frozen=True)
class SourceConversation:
    """A stored conversation; an excluded one is never learned from."""

    id: str
    messages: list[SourceMessage]
    updated_at: float = 0.0
    excluded: bool = False


@dataclass(frozen=True)
class SourceText:
    """A memory that is plain text: a fact, a note or a transcript."""

    id: str
    kind: str  # "fact", "note" or "transcript"
    text: str
    stored_at: float = 0.0
    happened_at: str = ""
    questions: tuple[str, ...] = ()  # more ways to ask for it, written by the local model
    cues: tuple[str, ...] = ()  # everyday words a question may use for it (adapters/cue_words.py)


@dataclass(frozen=True)
class PersonInputs:
    """Everything about the person that a run may learn from, as the hub hands it over."""

    conversations: list[SourceConversation] = field(default_factory=list)
    texts: list[SourceText] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PersonInputs:
        """Read the form ``to_json`` wrote."""
        conversations = [
            SourceConversation(
                id=str(c["id"]),
                messages=[SourceMessage(**m) for m in c["messages"]],
                updated_at=float(c.get("updated_at", 0.0)),
                excluded=bool(c.get("excluded", False)),
            )
            for c in data.get("conversations", [])
        ]
        texts = [
            SourceText(**{**t, "questions": tuple(t.get("questions", ()))})
            for t in data.get("texts", [])
        ]
        return cls(conversations, texts)


@dataclass(frozen=True)
class TrainingExample:
    """One question and the answer the model should learn to give."""

    prompt: str
    answer: str
    source: str  # "conversation", "fact", "note", "transcript"
    source_id: str
    preferred: bool = False
    expect: str = ""  # a short piece a correct answer contains, when known
    system: str = ""  # the system message, when not the model's own default

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return asdict(self)


def write_examples(path: Path, examples: Iterable[TrainingExample]) -> int:
    """Write examples as JSON lines; return how many."""
    count = 0
    with path.open("w", encoding="utf-8") as out:
        for example in examples:
            out.write(json.dumps(example.to_json(), ensure_ascii=False) + "\n")
            count += 1
    return count


def read_examples(path: Path) -> list[TrainingExample]:
    """Read examples written by ``write_examples``."""
    with path.open(encoding="utf-8") as source:
        return [TrainingExample(**json.loads(line)) for line in source if line.strip()]
