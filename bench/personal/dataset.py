"""The evaluation's data: synthetic persons (facts and questions), distractor notes and general
questions, read from the JSON files beside this module."""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from .judge import contains_term, normalize, rivals_for

DATA_DIR = Path(__file__).resolve().parent
PERSONS_DIR = DATA_DIR / "persons"
DISTRACTORS_FILE = DATA_DIR / "distractors.json"
GENERAL_FILE = DATA_DIR / "general.json"
SPLITS = ("dev", "test")
# Memories carry fixed dates so that every run shows the model the same prompt.
FACTS_START = date(2025, 2, 3)
DISTRACTORS_START = date(2025, 1, 6)
_FIELD = re.compile(r"\{(\w+)\}")
# "an accountant" and "Dr. Moreau" are named in answers as "accountant" and "Moreau".
_ARTICLE = re.compile(r"^(?:a|an|the|dr\.?)\s+", re.IGNORECASE)


@dataclass(frozen=True)
class Question:
    """One way the person asks about one fact."""

    id: str
    fact_id: str
    text: str
    visible: bool  # may appear in training data; never counted as held-out


@dataclass(frozen=True)
class Fact:
    """One thing the person told the hub, and how its answer is recognized."""

    id: str
    topic: str
    slot: str
    text: str
    answer: list[list[str]]
    questions: list[Question]
    happened_at: str


@dataclass(frozen=True)
class Person:
    """A synthetic person: their facts, and whether they are development or test data."""

    name: str
    full_name: str
    split: str
    facts: list[Fact]

    def questions(self, include_visible: bool = False) -> list[Question]:
        """Every question about this person's facts (held-out ones, and the visible ones too
        when asked)."""
        return [q for f in self.facts for q in f.questions if include_visible or not q.visible]

    def fact(self, fact_id: str) -> Fact:
        """The fact with this id."""
        return next(f for f in self.facts if f.id == fact_id)


@dataclass(frozen=True)
class Note:
    """A distractor memory."""

    text: str
    kind: str
    happened_at: str


@dataclass(frozen=True)
class Distractors:
    """The distractor notes and, for each answer slot, the entities they name."""

    notes: list[Note]
    entities: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class GeneralQuestion:
    """A general-knowledge question for the guard."""

    id: str
    text: str
    answer: list[list[str]]


def _read_person(path: Path) -> Person:
    raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if raw.get("split") not in SPLITS:
        raise ValueError(f"{path}: split must be one of {SPLITS}")
    facts = []
    for index, item in enumerate(raw["facts"]):
        questions = [
            Question(f"{item['id']}-q{n + 1}", item["id"], text, False)
            for n, text in enumerate(item["questions"])
        ]
        if item.get("visible"):
            questions.append(Question(f"{item['id']}-v", item["id"], item["visible"], True))
        when = FACTS_START + timedelta(days=9 * index)
        facts.append(
            Fact(
                id=item["id"],
                topic=item["topic"],
                slot=item["slot"],
                text=item["text"],
                answer=[list(group) for group in item["answer"]],
                questions=questions,
                happened_at=f"{when.isoformat()}T09:00:00+00:00",
            )
        )
    return Person(raw["name"], raw["full_name"], raw["split"], facts)


def load_persons() -> list[Person]:
    """Every person, development persons first, in name order."""
    persons = [_read_person(path) for path in sorted(PERSONS_DIR.glob("*.json"))]
    return sorted(persons, key=lambda p: (SPLITS.index(p.split), p.name))


def held_out_names(persons: list[Person]) -> list[str]:
    """The held-out persons' names."""
    return [p.name for p in persons if p.split == "test"]


def answer_terms(persons: list[Person]) -> list[str]:
    """Every key term of every person's facts (a distractor must contain none of them)."""
    return sorted({term for p in persons for f in p.facts for group in f.answer for term in group})


def _fill(template: str, fills: dict[str, list[str]], rng: random.Random) -> str:
    """The template with each field drawn from its fills; a field used twice gets two values."""
    names = _FIELD.findall(template)
    # In order of appearance, never a set's order: that changes with each process's hash seed.
    drawn = {name: rng.sample(fills[name], names.count(name)) for name in dict.fromkeys(names)}
    return _FIELD.sub(lambda m: drawn[m.group(1)].pop(), template)


def load_distractors(persons: list[Person], count: int | None = None) -> Distractors:
    """Expand the templates into ``count`` distinct notes, none containing an answer term."""
    spec: dict[str, Any] = json.loads(DISTRACTORS_FILE.read_text(encoding="utf-8"))
    wanted = int(spec["count"] if count is None else count)
    rng = random.Random(int(spec["seed"]))
    fills: dict[str, list[str]] = spec["fills"]
    forbidden = answer_terms(persons)
    templates: list[dict[str, str]] = spec["templates"]
    notes: list[Note] = []
    seen: set[str] = set()
    attempts = 0
    while len(notes) < wanted:
        attempts += 1
        if attempts > wanted * 50:
            raise ValueError("cannot draw enough distinct distractors; add fills or templates")
        template = templates[attempts % len(templates)]
        text = _fill(template["text"], fills, rng)
        norm = normalize(text)
        if norm in seen or any(contains_term(norm, term) for term in forbidden):
            continue
        seen.add(norm)
        when = DISTRACTORS_START + timedelta(days=rng.randrange(0, 330))
        notes.append(Note(text, template["kind"], f"{when.isoformat()}T18:00:00+00:00"))
    entities = {
        slot: [_ARTICLE.sub("", value) for fill in sources for value in fills[fill]]
        for slot, sources in spec["rival_slots"].items()
    }
    return Distractors(notes, entities)


def rivals(person: Person, fact: Fact, question: Question, distractors: Distractors) -> list[str]:
    """Terms that make an answer containing the right one a hedge: the (one-part) answers of
    the person's other facts of the same slot, and distractor entities of that slot."""
    candidates = [
        term
        for other in person.facts
        if other.slot == fact.slot and other.id != fact.id and len(other.answer) == 1
        for term in other.answer[0]
        if not (term.isdigit() and len(term) == 1)  # "4" turns up in too many right answers
    ]
    candidates += distractors.entities.get(fact.slot, [])
    return rivals_for(candidates, fact.answer, question.text, fact.text)


def load_general() -> list[GeneralQuestion]:
    """The general-ability questions."""
    raw: dict[str, Any] = json.loads(GENERAL_FILE.read_text(encoding="utf-8"))
    return [
        GeneralQuestion(item["id"], item["question"], [list(g) for g in item["answer"]])
        for item in raw["questions"]
    ]
