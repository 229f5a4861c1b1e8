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
from hub.engine.chat_template import HUB_SYSTEM_PROMPT
from hub.engine.types import ChatMessage
from hub.recall.asked_for import holds_what_is_asked
from memory.types import SearchHit

DEFAULT_SYSTEM = HUB_SYSTEM_PROMPT
ONE_NOTE_INSTRUCTION = "Answer the question in one short sentence using the note."
NOTES_INSTRUCTION = "Answer the question in one short sentence using the notes."
QUESTION_LABEL = "Question: "
# Text only the hub writes around the notes: a base model given a plain transcript goes on
# after its answer by writing the instruction and asking itself the next question (Gemma 3
# 270M in about 250 of 552 answers of the personal evaluation), so generation stops at it.
PROMPT_ECHOES = (ONE_NOTE_INSTRUCTION, NOTES_INSTRUCTION, QUESTION_LABEL)
# Memories of things that happened at a time (what was said, seen, measured) carry their date;
# facts and notes hold whenever they were written down.
DATED_KINDS = frozenset({"message", "transcript", "sensor_summary", "image_text"})
# How far down the order a memory holding what is asked may come from to lead: the right memory
# is in the first three for nearly every question whose memory was found (RETRIEVE_K is wider).
ASKED_FOR_WITHIN = 3
FIRST_PERSON = re.compile(r"\b(i|i'm|i've|i'd|i'll|me|my|mine|myself|we|our|ours|us)\b", re.I)
# Family members called by what the person calls them ("What does Dad farm?") are the person's.
FAMILY_NAMES = re.compile(
    r"\b(mum|mom|mummy|mommy|dad|daddy|grandma|grandpa|granny|grandad|granddad|nan|nana)\b", re.I
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


def about_the_person(question: str) -> bool:
    """True when the question asks about the person or their family ("my", "I", "we", "Dad")."""
    return FIRST_PERSON.search(question) is not None or FAMILY_NAMES.search(question) is not None


_NAME = re.compile(r"(?<![\w'\u2019])[A-Z][\w'\u2019-]*[a-z][\w'\u2019-]*")


def names_in_common(question: str, text: str) -> bool:
    """True when the question names something the memory names: a capitalized word, not the
    question's first, found in the memory as it is written ("Which flatbread does Fatiha make?"
    and "My grandmother Fatiha makes msemen")."""
    first = question.lstrip()[:1]
    names = {m.group() for m in _NAME.finditer(question) if m.start() > question.find(first)}
    return any(re.search(rf"(?<![\w]){re.escape(name)}(?![\w])", text) for name in names)


def ordered_for(
    question: str, hits: list[SearchHit], sure_similarity: float = 0.0
) -> list[SearchHit]:
    """The hits in the order to offer them: those that surely concern the question (at least
    ``sure_similarity``) before weaker ones; within each, for a question about the person, what
    the person wrote about themselves before notes about other people; then by meaning (the
    similarity), not by the search's rank, which also counts shared words. Of the first
    ``ASKED_FOR_WITHIN``, the first holding what the question asks for (a time for "when", a
    number for "how many") leads. (On the evaluation's development persons, the person's own
    notes first put the right memory first in 97% of the questions whose memory was found,
    against 89% in search order; then by meaning, 142 of 146 against 140: a shared word
    ("night-shift" for "my shifts", "architect" for "drawing plans") had put a note that only
    shares it first.)"""

    def weak(hit: SearchHit) -> bool:
        return hit.similarity is None or hit.similarity < sure_similarity

    def meaning(hit: SearchHit) -> float:
        # Found by words alone (the embedder still loading): all equal, kept in search order.
        return -hit.similarity if hit.similarity is not None else 0.0

    def standing(hit: SearchHit) -> tuple[bool, bool]:
        # For a question about the person, their own notes stand before others' (False first).
        others = about_the_person(question) and FIRST_PERSON.search(hit.item.text) is None
        return weak(hit), others

    ordered = sorted(hits, key=lambda hit: (standing(hit), meaning(hit)))
    # Of the first few that stand as high as the first, the first holding what is asked leads.
    near = [hit for hit in ordered[:ASKED_FOR_WITHIN] if standing(hit) == standing(ordered[0])]
    best = max(near, key=lambda hit: holds_what_is_asked(question, hit.item.text), default=None)
    if best is None or best is ordered[0]:
        return ordered
    return [best, *(hit for hit in ordered if hit is not best)]


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
