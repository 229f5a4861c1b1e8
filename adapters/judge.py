"""Judge a short answer by normalized key terms, the same way for the gate and the benchmark.

Normalization (applied to answers and key terms alike): lower case, accents removed, thousands
separators dropped ("1,140" is "1140"), every other punctuation mark a space, ordinal suffixes
dropped ("14th" is "14"), number words turned into digits ("seventy-five" is "75", "fourteenth" is
"14", "forty thousand nine hundred seventeen" is "40917"), and the fillers "of" and "the" dropped
(so "the 14th of June" is "14 june"). A term matches whole words, with an optional plural "s" or
"es" on its last word; a "day month" term also matches "month day".

A held-out question is judged by its ``expect`` (the short piece a right answer contains) when it
has one; otherwise by the reference answer's content words that the question does not already
say: a right answer holds at least half of them (at most ``CONTENT_WORDS_NEEDED_AT_MOST``).
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass

from adapters.lexicon import MONTHS

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


# Words that carry no content of their own: a reference answer's other words are what a right
# answer must repeat when the question has no ``expect``. Both persons are here, because the
# person asks about "my" things and the answer says "your". ("may" is left out: it is a month.)
STOP_WORDS = frozenset(
    re.findall(
        r"\S+",
        """
    a an and or but if then so as at by for from in into on onto to up with without about
    over under after before during since until than too very just also only not no nor yes
    is are was were be been being am do does did done doing have has had having will would
    shall should can could might must i me my mine myself we us our ours you your yours
    yourself he him his she her hers it its they them their theirs this that these those
    there here what which who whom whose when where why how all any each every some much
    many more most other such own same s t ll re ve d m don doesn didn isn aren wasn weren
    tell know remember said say says note noted please thanks thank okay ok sure
    """,
    )
)
# A 48-token answer holds about 35 words: half of a long note's content words cannot fit in
# it, while five of the note's own content words rarely come up by chance.
CONTENT_WORDS_NEEDED_AT_MOST = 5


def content_words(text: str) -> list[str]:
    """The normalized words of ``text`` that carry content, each once, in order."""
    seen: list[str] = []
    for word in normalize(text).split():
        if word not in STOP_WORDS and word not in seen:
            seen.append(word)
    return seen


@dataclass(frozen=True)
class AnswerKey:
    """What a right answer contains: at least ``needed`` of ``terms``."""

    terms: tuple[str, ...]
    needed: int

    def accepts(self, answer: str) -> bool:
        """Whether ``answer`` contains enough of the terms."""
        text = normalize(answer)
        return sum(1 for term in self.terms if contains_term(text, term)) >= self.needed


def answer_key(question: str, reference: str, expect: str = "") -> AnswerKey | None:
    """The key to judge answers to ``question`` by: its ``expect`` when it has one, else the
    reference answer's content words the question does not say (None: nothing to judge by)."""
    if normalize(expect):
        return AnswerKey((expect,), 1)
    asked = normalize(question)
    terms = tuple(w for w in content_words(reference) if not contains_term(asked, w))
    if not terms:
        return None
    return AnswerKey(terms, min(math.ceil(len(terms) / 2), CONTENT_WORDS_NEEDED_AT_MOST))
