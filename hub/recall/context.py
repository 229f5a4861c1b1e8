"""Give retrieved memories to the model: the few that answer the question best, as plain notes
beside the latest user message, and the citations of exactly the memories given.

Chosen by trying them on the embedded 135M model with the personal evaluation's development
persons (bench/bench_personal.py; see docs/benchmarks.md): one plain note, no numbers, dates or
kinds to echo, under a fixed system prompt, with the instruction beside the note, answered it
far more often than a numbered list of eight. The list goes into the latest turn, not the
system message, so the earlier turns stay word for word what they were and llama.cpp reuses
their KV cache on the next turn.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from hub.engine.chat_model import ChatModel
from hub.engine.types import ChatMessage
from memory.types import SearchHit

DEFAULT_SYSTEM = "You are a helpful personal assistant."
ONE_NOTE_INSTRUCTION = "Answer the question in one short sentence using the note."
NOTES_INSTRUCTION = "Answer the question in one short sentence using the notes."
QUESTION_LABEL = "Question: "
# Memories of things that happened at a time (what was said, seen, measured) carry their date;
# facts and notes hold whenever they were written down.
DATED_KINDS = frozenset({"message", "transcript", "sensor_summary", "image_text"})
FIRST_PERSON = re.compile(r"\b(i|i'm|i've|i'd|i'll|me|my|mine|myself|we|our|ours|us)\b", re.I)


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


def about_the_person(question: str) -> bool:
    """True when the question asks about the person themselves ("my", "I", "we")."""
    return FIRST_PERSON.search(question) is not None


def ordered_for(question: str, hits: list[SearchHit]) -> list[SearchHit]:
    """The hits in the order to offer them: for a question about the person, what the person
    wrote about themselves comes before notes about other people, each group in search order.
    (On the evaluation's development persons this put the right memory first in 97% of the
    questions whose memory was found, against 89% in search order.)"""
    if not about_the_person(question):
        return list(hits)
    return sorted(hits, key=lambda hit: 0 if FIRST_PERSON.search(hit.item.text) else 1)


def note_text(hit: SearchHit) -> str:
    """A memory as the model reads it: its text, dated when it is something that happened."""
    text = " ".join(hit.snippet.split())
    if hit.item.kind not in DATED_KINDS:
        return text
    try:
        when = datetime.fromisoformat(hit.item.happened_at)
    except ValueError:
        return text
    return f"On {when:%A} {when.day} {when:%B %Y}: {text}"


def chosen_notes(
    hits: list[SearchHit], model: ChatModel, budget: int, most: int
) -> list[SearchHit]:
    """The first ``most`` hits whose notes fit in ``budget`` tokens."""
    chosen: list[SearchHit] = []
    used = 0
    for hit in hits[:most]:
        size = len(model.render_text(note_text(hit)).tokens) + 2
        if used + size > budget:
            break
        chosen.append(hit)
        used += size
    return chosen


def notes_message(question: str, notes: list[str]) -> str:
    """The latest user turn with its notes in front, and what to do with them."""
    if len(notes) == 1:
        block = f"Note: {notes[0]}\n\n{ONE_NOTE_INSTRUCTION}"
    else:
        block = "Notes:\n" + "\n".join(f"- {note}" for note in notes) + f"\n\n{NOTES_INSTRUCTION}"
    return f"{block}\n{QUESTION_LABEL}{question}"


def with_default_system(messages: list[ChatMessage]) -> list[ChatMessage]:
    """Start with the caller's system prompt, or the hub's (always the same, so cached)."""
    if messages and messages[0].role == "system":
        return messages
    return [ChatMessage("system", DEFAULT_SYSTEM), *messages]


def with_notes(messages: list[ChatMessage], notes: list[str]) -> list[ChatMessage]:
    """The conversation with the notes put in front of its latest user message."""
    if not notes:
        return messages
    last_user = max((i for i, m in enumerate(messages) if m.role == "user"), default=None)
    if last_user is None:
        return [*messages, ChatMessage("user", notes_message("", notes))]
    turn = messages[last_user]
    combined = ChatMessage("user", notes_message(turn.content, notes))
    return [*messages[:last_user], combined, *messages[last_user + 1 :]]
