"""Curation of training examples: scrub personal identifiers, drop (near) duplicates, split."""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace

from adapters.examples import TrainingExample

_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
# Seven or more digits, optionally with a leading + and spaces, dots, dashes or brackets between.
_PHONE = re.compile(r"(?<![\w])\+?\d(?:[\s().-]?\d){6,}(?![\w])")
_STREET_AFTER = (
    "street|st|road|rd|avenue|ave|lane|ln|drive|dr|boulevard|blvd|way|court|ct|place|pl|"
    "square|sq|terrace|close|crescent|highway|hwy|strasse|straße"
)
_STREET_BEFORE = "rua|calle|avenida|rue|via|travessa|largo"
_NAME = r"(?:[A-Z][\w'-]*|das|dos|da|de|do|del|la|of|the)"
# "42 Baker Street" and "42 Rua Augusta": a house number, then a street word after or before
# the capitalized name.
_ADDRESS = re.compile(
    rf"\b\d{{1,5}}[A-Za-z]?,?\s+(?:(?:{_NAME}\s+){{0,4}}(?i:{_STREET_AFTER})\b\.?"
    rf"|(?i:{_STREET_BEFORE})\s+{_NAME}(?:\s+{_NAME}){{0,3}})"
)
_WORD = re.compile(r"[a-z0-9]+")
NEAR_DUPLICATE_JACCARD = 0.8
MIN_EXAMPLES_TO_HOLD_OUT = 10


def scrub_text(text: str) -> str:
    """Replace email addresses, phone numbers and street addresses with placeholders."""
    text = _EMAIL.sub("[email]", text)
    text = _ADDRESS.sub("[address]", text)
    return _PHONE.sub("[phone]", text)


def scrub_example(example: TrainingExample) -> TrainingExample:
    """The example with identifiers scrubbed from both sides."""
    return replace(
        example,
        prompt=scrub_text(example.prompt),
        answer=scrub_text(example.answer),
        expect=scrub_text(example.expect),
    )


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _shingles(words: list[str]) -> set[tuple[str, ...]]:
    if len(words) < 3:
        return {tuple(words)}
    return {tuple(words[i : i + 3]) for i in range(len(words) - 2)}


def deduplicate(examples: list[TrainingExample]) -> tuple[list[TrainingExample], int]:
    """Drop exact duplicates (ignoring case, spacing and punctuation) and near duplicates (word
    3-gram Jaccard similarity at least 0.8); preferred examples win. Returns (kept, dropped)."""
    ordered = sorted(examples, key=lambda e: not e.preferred)  # stable: preferred first
    kept: list[TrainingExample] = []
    kept_shingles: list[set[tuple[str, ...]]] = []
    seen: set[str] = set()
    for example in ordered:
        words = [*_words(example.prompt), "|", *_words(example.answer)]
        key = " ".join(words)
        if key in seen:
            continue
        shingles = _shingles(words)
        if any(
            len(shingles & other) / max(1, len(shingles | other)) >= NEAR_DUPLICATE_JACCARD
            for other in kept_shingles
        ):
            continue
        seen.add(key)
        kept.append(example)
        kept_shingles.append(shingles)
    return kept, len(examples) - len(kept)


def _fraction(text: str) -> float:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split_held_out(
    examples: list[TrainingExample], fraction: float, most_others: int | None = None
) -> tuple[list[TrainingExample], list[TrainingExample]]:
    """Split deterministically into (train, held_out). Facts asked several ways keep one way
    aside, so the held-out set asks known facts in words the model never trained on; other
    examples go aside by a hash of their text, at most ``most_others`` of them (the gate asks
    every one, so a month of conversations must not make it ask thousands)."""
    by_fact: dict[str, list[TrainingExample]] = {}
    train: list[TrainingExample] = []
    held: list[TrainingExample] = []
    others = [example for example in examples if example.source != "fact"]
    # With only a few other examples, each one is worth more in training than in judging.
    hold_others = len(others) >= MIN_EXAMPLES_TO_HOLD_OUT
    aside = sorted(
        (_fraction(e.prompt + e.answer), n)
        for n, e in enumerate(others)
        if hold_others and _fraction(e.prompt + e.answer) < fraction
    )
    held_others = {n for _, n in aside[:most_others]}
    other_index = 0
    for example in examples:
        if example.source == "fact":
            by_fact.setdefault(example.source_id, []).append(example)
            continue
        (held if other_index in held_others else train).append(example)
        other_index += 1
    for fact_id, asked in by_fact.items():
        if len(asked) >= 3:
            kept_aside = int(_fraction(fact_id) * len(asked))
            held.append(asked[kept_aside])
            train.extend(e for i, e in enumerate(asked) if i != kept_aside)
        else:
            train.extend(asked)
    if not train and held:
        train, held = held, []
    return train, held
