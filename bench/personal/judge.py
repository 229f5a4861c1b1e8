"""Judge an answer by normalized key terms: every group must match, any alternative in a group may.

Normalization (applied to answers and key terms alike): lower case, accents removed, thousands
separators dropped ("1,140" is "1140"), every other punctuation mark a space, ordinal suffixes
dropped ("14th" is "14"), number words turned into digits ("seventy-five" is "75", "fourteenth" is
"14", "forty thousand nine hundred seventeen" is "40917"), and the fillers "of" and "the" dropped
(so "the 14th of June" is "14 june"). A term matches whole words, with an optional plural "s" or
"es" on its last word; a "day month" term also matches "month day".

A hedge is not an answer: when the answer contains the expected terms but also names a rival (the
answer of another of the person's facts of the same kind, or an entity of that kind from the
distractor notes, as long as the question and the fact do not mention it themselves), it is judged
wrong, with the reason "hedge".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

UNITS = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
}
TEENS = {
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
}
TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
ORDINAL_UNITS = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
}
ORDINAL_TEENS = {
    "tenth": 10,
    "eleventh": 11,
    "twelfth": 12,
    "thirteenth": 13,
    "fourteenth": 14,
    "fifteenth": 15,
    "sixteenth": 16,
    "seventeenth": 17,
    "eighteenth": 18,
    "nineteenth": 19,
}
ORDINAL_TENS = {
    "twentieth": 20,
    "thirtieth": 30,
    "fortieth": 40,
    "fiftieth": 50,
    "sixtieth": 60,
    "seventieth": 70,
    "eightieth": 80,
    "ninetieth": 90,
}
ORDINALS = {**ORDINAL_UNITS, **ORDINAL_TEENS, **ORDINAL_TENS}
FILLERS = {"of", "the"}
MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
# Letters that carry no separable accent in Unicode.
_UNDECOMPOSABLE = str.maketrans({"ø": "o", "æ": "ae", "œ": "oe", "ß": "ss", "ł": "l", "đ": "d"})
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_NON_WORD = re.compile(r"[^a-z0-9]+")
_ORDINAL_SUFFIX = re.compile(r"^(\d+)(?:st|nd|rd|th)$")
_DAY_MONTH = re.compile(rf"^(\d{{1,2}}) ({'|'.join(MONTHS)})$")
_MONTH_DAY = re.compile(rf"^({'|'.join(MONTHS)}) (\d{{1,2}})$")


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.translate(_UNDECOMPOSABLE))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _small_value(word: str) -> int | None:
    """The value of a number word below 100 (cardinal or ordinal), else None."""
    for table in (UNITS, TEENS, TENS, ORDINAL_UNITS, ORDINAL_TEENS, ORDINAL_TENS):
        if word in table:
            return table[word]
    return None


def _read_number(words: list[str], start: int) -> tuple[int, int] | None:
    """Read a run of number words from ``start``: (value, words used), or None.

    Tens take a following unit ("twenty one" is 21), "hundred" and "thousand" scale what came
    before, "and" may follow a scale; an ordinal ends the number. Two numbers side by side
    otherwise stay two numbers, so a time said "seven fifteen" stays "7 15"."""
    total, current, last = 0, 0, ""
    i = start
    while i < len(words):
        word = words[i]
        value = _small_value(word)
        if value is not None:
            small = value < 10
            after_scale = last in ("hundred", "thousand")
            if not (last == "" or after_scale or (small and last == "tens")):
                break
            current += value
            if word in ORDINALS:
                last = "ordinal"
            elif small:
                last = "unit"
            else:
                last = "tens" if value >= 20 and value % 10 == 0 else "teen"
        elif word == "hundred" and last in ("unit", "teen", "tens"):
            current *= 100
            last = "hundred"
        elif word == "thousand" and last in ("unit", "teen", "tens", "hundred"):
            total, current, last = total + current * 1000, 0, "thousand"
        elif not (word == "and" and last in ("hundred", "thousand") and _next_is_number(words, i)):
            break
        i += 1
    if not last:
        return None
    return total + current, i - start


def _next_is_number(words: list[str], i: int) -> bool:
    return i + 1 < len(words) and _small_value(words[i + 1]) is not None


def _numbers_to_digits(words: list[str]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(words):
        read = _read_number(words, i)
        if read is None:
            out.append(words[i])
            i += 1
            continue
        value, used = read
        out.append(str(value))
        i += used
    return out


def normalize(text: str) -> str:
    """Lower case, no accents or punctuation, number words and ordinals as digits, no fillers."""
    text = _strip_accents(text.lower())
    text = _THOUSANDS.sub("", text)
    words = [w for w in _NON_WORD.split(text) if w]
    words = [_ORDINAL_SUFFIX.sub(r"\1", w) for w in words]
    words = _numbers_to_digits(words)
    return " ".join(w for w in words if w not in FILLERS)


def term_variants(term: str) -> list[str]:
    """A normalized key term and its equivalent forms ("14 june" also as "june 14")."""
    norm = normalize(term)
    variants = [norm]
    day_month = _DAY_MONTH.match(norm)
    month_day = _MONTH_DAY.match(norm)
    if day_month:
        variants.append(f"{day_month.group(2)} {day_month.group(1)}")
    elif month_day:
        variants.append(f"{month_day.group(2)} {month_day.group(1)}")
    return [v for v in variants if v]


def _term_pattern(variant: str) -> re.Pattern[str]:
    words = variant.split(" ")
    last = re.escape(words[-1]) + "(?:s|es)?"
    body = " ".join([*(re.escape(w) for w in words[:-1]), last])
    return re.compile(rf"(?:^| ){body}(?: |$)")


def contains_term(normalized_text: str, term: str) -> bool:
    """Whether a normalized text contains the term (whole words, optional plural)."""
    return any(_term_pattern(v).search(normalized_text) for v in term_variants(term))


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
