"""Judge an answer by normalized key terms: every group must match, any alternative in a group may.

Normalization and term matching are adapters/judge.py's, so the benchmark and the nightly run's
gate judge an answer alike (lower case, no accents or punctuation, number words as digits, whole
words with an optional plural).

A hedge is not an answer: when the answer contains the expected terms but also names a rival (the
answer of another of the person's facts of the same kind, or an entity of that kind from the
distractor notes, as long as the question and the fact do not mention it themselves), it is judged
wrong, with the reason "hedge".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from adapters.judge import contains_term, normalize

__all__ = ["Judgement", "contains_term", "judge", "normalize", "rivals_for"]


@dataclass(frozen=True)
class Judgement:
    """The verdict on one answer and why."""

    correct: bool
    reason: str  # "correct", "empty", "missing", "hedge"
    missing: list[list[str]] = field(default_factory=list)
    rivals_named: list[str] = field(default_factory=list)


def judge(
    answer: str,
    groups: Sequence[Sequence[str]],
    rivals: Sequence[str] = (),
) -> Judgement:
    """Judge ``answer`` against key-term ``groups``; naming one of ``rivals`` too is a hedge."""
    text = normalize(answer)
    if not text:
        return Judgement(False, "empty", [list(g) for g in groups])
    missing = [list(group) for group in groups if not any(contains_term(text, t) for t in group)]
    if missing:
        return Judgement(False, "missing", missing)
    named = [rival for rival in rivals if contains_term(text, rival)]
    if named:
        return Judgement(False, "hedge", [], named)
    return Judgement(True, "correct")


def rivals_for(
    candidates: Sequence[str], groups: Sequence[Sequence[str]], *contexts: str
) -> list[str]:
    """The rival terms that count against an answer: candidates that are neither one of the
    expected terms nor mentioned in the question or the fact (``contexts``)."""
    expected = {normalize(t) for group in groups for t in group}
    context = " ".join(normalize(c) for c in contexts)
    kept: list[str] = []
    for candidate in candidates:
        norm = normalize(candidate)
        if not norm or norm in expected or norm in kept:
            continue
        if contains_term(context, candidate):
            continue
        if any(contains_term(norm, t) or contains_term(t, candidate) for t in expected):
            continue
        kept.append(norm)
    return kept
