"""The wake phrase: an utterance that starts with it ("hey hub, ...") is a request."""

from __future__ import annotations

import difflib
import re

_WORD = re.compile(r"[a-z0-9']+")
# How alike the utterance's first words must be to the phrase: "hey herb" passes for
# "hey hub", "hey, how are you" does not.
MIN_LIKENESS = 0.75


def words_of(text: str) -> list[str]:
    """Lower-case words without punctuation."""
    return _WORD.findall(text.lower())


def _alike(said: list[str], wanted: list[str]) -> bool:
    head, target = " ".join(said), " ".join(wanted)
    return head == target or difflib.SequenceMatcher(None, head, target).ratio() >= MIN_LIKENESS


def only_wake_phrase(text: str, phrase: str) -> bool:
    """True when ``text`` is the wake phrase and nothing else (the request comes next)."""
    said, wanted = words_of(text), words_of(phrase)
    return len(said) == len(wanted) > 0 and _alike(said, wanted)


def request_after_wake_phrase(text: str, phrase: str) -> str | None:
    """The request following the wake phrase at the start of ``text``, or None if it does not
    start with the phrase (or nothing follows it)."""
    wanted = words_of(phrase)
    if not wanted:
        return None
    said = text.strip()
    tokens = list(_WORD.finditer(said.lower()))
    count = len(wanted)
    if len(tokens) <= count:
        return None
    if not _alike([token.group() for token in tokens[:count]], wanted):
        return None
    rest = said[tokens[count - 1].end() :].lstrip(" ,.!?;:-")
    return rest or None
