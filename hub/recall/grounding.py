"""Is an answer drawn from the memories it was given? And, when it is not, the answer the
memory itself gives.

A small model sometimes ignores the notes in front of it, talks about the prompt, or names
something no note says. A sentence that says what the memory says, with its citation, beats a
fluent wrong one: so the hub checks the start of every answer given with memories, and when it
is not drawn from them, answers with the best memory restated instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from adapters.dataset import second_person
from hub.recall.asked_for import MONTHS, holds_what_is_asked
from hub.recall.context import about_the_person

_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
# Words that carry no content of their own: a shared one proves nothing about where an answer
# came from.
STOPWORDS = frozenset(
    (  # noqa: SIM905 (a word list reads better as text)
        "a about above after again against all am an and any are as at be because been before "
        "being below between both but by can could did do does doing down during each few for "
        "from further had has have having he her here hers herself him himself his how i if in "
        "into is it its itself just me more most my myself no nor not now of off on once only or "
        "other our ours ourselves out over own same she should so some such than that the their "
        "theirs them themselves then there these they this those through to too under until up "
        "very was we were what when where which while who whom why will with would you your yours "
        "yourself yourselves usually always often every also still yes ok okay i'm i've i'd "
        "you're it's that's there's answer question note notes fact facts user know tell remember "
    ).split()
)


def stem(word: str) -> str:
    """A word without its English ending, so "lives", "lived" and "live" compare equal."""
    word = word.lower().removesuffix("'s")
    for ending in ("ing", "ed", "es", "s"):
        if word.endswith(ending) and len(word) - len(ending) >= 3:
            word = word[: -len(ending)]
            break
    return word.removesuffix("e") if len(word) > 3 else word


def content_words(text: str) -> set[str]:
    """The stems of the words of ``text`` that carry content."""
    words = (word.removesuffix("'s") for word in _WORD.findall(text.lower()))
    return {stem(word) for word in words if word not in STOPWORDS}


def _specific_words(text: str) -> set[str]:
    """Numbers and capitalised words after a sentence's first: what an answer must not invent."""
    found: set[str] = set()
    for sentence in re.split(r"(?<=[.!?])\s+", text):
        for index, token in enumerate(re.findall(r"[A-Za-z0-9][\w'-]*", sentence)):
            if any(ch.isdigit() for ch in token) or (index > 0 and token[0].isupper()):
                found.add(token.lower().strip("'"))
    return {stem(word) for word in found - STOPWORDS}


_MONTH_STEMS = frozenset(stem(month) for month in MONTHS)


def _is_number(word: str) -> bool:
    """A number, or a month: a date is told whole ("12 October 2019", not "12 months")."""
    return any(ch.isdigit() for ch in word) or word in _MONTH_STEMS


def _written_as_names(text: str) -> set[str]:
    """The stems of the words ``text`` writes as names or numbers (capitalised anywhere, or
    with a digit): "the hospital" does not repeat the name "Hospital Santa Brígida"."""
    tokens = re.findall(r"[A-Za-z0-9À-ÿ][\w'-]*", text)
    named = {t.lower().strip("'") for t in tokens if t[0].isupper() or any(c.isdigit() for c in t)}
    return {stem(word) for word in named - STOPWORDS}


def _uncommon_words(text: str, everyday: frozenset[str]) -> set[str]:
    """The stems of the words of ``text`` outside the ``everyday`` vocabulary ("quince",
    "kiwi"): an answer that says what the note says names one of them as it would a name."""
    found: set[str] = set()
    for word in _WORD.findall(text.lower()):
        word = word.removesuffix("'s")
        if len(word) < 3 or not word.isalpha() or word in STOPWORDS:
            continue
        singular = (word, word.removesuffix("s"), word.removesuffix("es"))
        if not any(form in everyday for form in singular):
            found.add(stem(word))
    return found


# A question asking for what something is called, and the name a memory gives ("a Lapphund
# called Brunost"): the answer to such a question must say that name, not another of the
# memory's names (the breed).
_ASKS_NAME = re.compile(r"\bname\b|\bcalled\b|\bwhat do (?:we|i|you) call\b", re.IGNORECASE)
_GIVEN_NAME = re.compile(r"\b(?:called|named)\s+([A-Z][\w'-]*)")


def _given_names(memory: str) -> set[str]:
    """The stems of the names ``memory`` gives with "called" or "named"."""
    return {stem(name) for name in _GIVEN_NAME.findall(memory)}


@dataclass(frozen=True)
class Grounding:
    """Which given memory an answer draws on (its index), or None when it draws on none."""

    source: int | None

    @property
    def grounded(self) -> bool:
        """True when the answer says something a given memory says."""
        return self.source is not None


def check_grounding(
    answer: str, memories: list[str], question: str, everyday: frozenset[str]
) -> Grounding:
    """The memory ``answer`` repeats a piece of that the question did not already hold (all of
    its numbers and months and at least one of its names, written as a name, that the question
    does not hold; for a memory with none left, one of its words outside the ``everyday``
    vocabulary, if it has any), as long as the answer names no number or name that neither a
    memory nor the question holds."""
    asked = content_words(question)
    said = content_words(answer)
    said_names = _written_as_names(answer)
    known = asked | set().union(*(content_words(m) for m in memories)) if memories else asked
    invented = {word for word in _specific_words(answer) if word not in known}
    if invented:
        return Grounding(None)
    best, best_shared = None, 0
    for index, memory in enumerate(memories):
        telling = _specific_words(memory) - asked
        numbers = {word for word in telling if _is_number(word)}
        if (telling and not said_names & telling) or not numbers <= said:
            continue  # it leaves out a number, or every name, the memory would tell
        uncommon = set() if telling else _uncommon_words(memory, everyday) - asked
        if uncommon and not said & uncommon:
            continue  # "a sweet treat" for "quince spoon sweet": it tells none of its own
        given = _given_names(memory) - asked if _ASKS_NAME.search(question) else set()
        if given and not said_names & given:
            continue  # "a Lapphund" for "what's our dog's name?": not the name it was given
        shared = len(said & (content_words(memory) - asked))
        if shared > best_shared:
            best, best_shared = index, shared
    return Grounding(best)


def draws_on(answer: str, memories: list[str], question: str) -> bool:
    """Whether ``answer`` repeats a name or number of a memory that the question did not hold:
    it then speaks from that memory, and must say what the memory says ("10:15pm" from a
    note that says "10:15" does not), whatever the question was."""
    asked = content_words(question)
    said_names = _written_as_names(answer)
    return any(said_names & (_specific_words(memory) - asked) for memory in memories)


def asks_about(question: str, memories: list[str]) -> bool:
    """Whether a question is one the memories should answer: it is about the person ("my",
    "I", "we"), or names something (a name, a number) that a memory names too. A general
    question ("what is the capital of France?") is neither, and is answered as the model will."""
    if about_the_person(question):
        return True
    named = _specific_words(question) | {w.lower() for w in re.findall(r"\b[A-Z][\w'-]+", question)}
    named = {stem(word) for word in named - STOPWORDS}
    return any(named & content_words(memory) for memory in memories)


# An answer that speaks of the prompt instead of answering ("The note is referring to...", "The
# answer to this question is...") says nothing of its own, whatever the question was.
_ABOUT_THE_PROMPT = re.compile(
    r"\b(?:the|this|that|these) (?:notes?|question|memor(?:y|ies)|prompt|user)\b"
    r"|\bthe answer (?:to|is)\b|\breferenc(?:e|es|ed|ing) the\b",
    re.IGNORECASE,
)


def talks_about_the_prompt(answer: str) -> bool:
    """Whether ``answer`` speaks of the note, the question or the user instead of answering."""
    return _ABOUT_THE_PROMPT.search(answer) is not None


def answering_memory(question: str, memories: list[str]) -> int:
    """The memory to answer with when the model's answer drew on none: the first given that holds
    what the question asks for ("When does the post come?" wants the note with a time), else the
    first given."""
    fits = [holds_what_is_asked(question, memory) for memory in memories]
    return max(range(len(memories)), key=lambda index: (fits[index], -index)) if memories else 0


def restated(memory: str) -> str:
    """The memory in the assistant's words: "My sister lives in Porto." becomes "Your sister
    lives in Porto." (a first-person note reads as said back to its author)."""
    text = " ".join(memory.split())
    if not text:
        return text
    text = second_person(text)
    if text[-1] not in ".!?":
        text += "."
    return text[0].upper() + text[1:]
