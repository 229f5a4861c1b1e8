"""The personal-intelligence benchmark's judge and data: fast, no model and no hub."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from bench.personal.dataset import (
    Person,
    answer_terms,
    held_out_names,
    load_distractors,
    load_general,
    load_persons,
    rivals,
)
from bench.personal.judge import contains_term, judge, normalize
from memory.time_phrases import find_time_range

NOW = datetime(2026, 1, 14, 12, 0).astimezone()
# Words that carry no content: overlap in these between a question and its fact is fine.
STOP_WORDS = frozenset(
    re.findall(
        r"\S+",
        "a an the my our i me we us is are was were do does did to of in on at for and or what "
        "when where who whom whose which how much many s it its be am have has had with from by "
        "i'm every each usually",
    )
)


@pytest.fixture(scope="module")
def persons() -> list[Person]:
    return load_persons()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The 14th of June!", "14 june"),
        ("June fourteenth", "june 14"),
        ("Seventy-five milligrams", "75 milligrams"),
        ("forty thousand nine hundred seventeen", "40917"),
        ("one hundred and twenty", "120"),
        ("at seven fifteen", "at 7 15"),
        ("1,140 euros", "1140 euros"),
        ("Café Lúme, Rua Nova", "cafe lume rua nova"),
        ("Tromsø", "tromso"),
        ("21:30", "21 30"),
    ],
)
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected


@pytest.mark.parametrize(
    "answer",
    [
        "Your anniversary is on 14 June.",
        "It's June 14th.",
        "the fourteenth of june",
        "On June the fourteenth, I believe.",
    ],
)
def test_dates_pass_in_several_forms(answer: str) -> None:
    assert judge(answer, [["14 june"]]).correct


@pytest.mark.parametrize(
    "answer",
    ["You take 50 mg every morning.", "Fifty milligrams.", "fifty mg of sertraline"],
)
def test_numbers_pass_as_digits_and_words(answer: str) -> None:
    assert judge(answer, [["50"]]).correct


def test_accents_case_and_plural_do_not_matter() -> None:
    assert judge("Your favourite is CAFÉ LUME on rua Nova.", [["lume"], ["rua nova"]]).correct
    assert judge("He is allergic to hazelnuts.", [["hazelnut"]]).correct


def test_every_group_must_match() -> None:
    verdict = judge("It expires in November.", [["november"], ["2027"]])
    assert not verdict.correct
    assert verdict.reason == "missing"
    assert verdict.missing == [["2027"]]
    assert judge("November 2027", [["november"], ["2027"]]).correct


@pytest.mark.parametrize("answer", ["", "   ", "...", "\n"])
def test_empty_answers_fail(answer: str) -> None:
    verdict = judge(answer, [["porto"]])
    assert not verdict.correct
    assert verdict.reason == "empty"


@pytest.mark.parametrize(
    ("answer", "groups"),
    [
        ("Your sister lives in Lisbon.", [["porto"]]),
        ("You can find coffee on most public transportation systems.", [["lume"]]),
        ("I don't know.", [["porto"]]),
        ("Portugal", [["porto"]]),  # a whole word is needed, not a prefix
        ("It is on 15 June.", [["14 june"]]),  # a near-miss date
        ("It is on 14 July.", [["14 june"]]),
        ("You take 150 mg.", [["50"]]),  # 150 is not 50
        ("You take 5.0 mg.", [["50"]]),
    ],
)
def test_wrong_answers_fail(answer: str, groups: list[list[str]]) -> None:
    verdict = judge(answer, groups)
    assert not verdict.correct
    assert verdict.reason == "missing"


def test_a_hedge_naming_a_rival_fails() -> None:
    verdict = judge("She lives in Porto or maybe Braga.", [["porto"]], rivals=["braga"])
    assert not verdict.correct
    assert verdict.reason == "hedge"
    assert verdict.rivals_named == ["braga"]
    assert judge("She lives in Porto.", [["porto"]], rivals=["braga"]).correct


def test_the_rivals_of_a_question_leave_out_what_it_mentions(persons: list[Person]) -> None:
    distractors = load_distractors(persons)
    marta = next(p for p in persons if p.name == "marta")
    fact = marta.fact("marta-01")  # sister in Tavira; a place
    found = rivals(marta, fact, fact.questions[0], distractors)
    assert "milfontes" in found  # another of her places
    assert "braga" in found  # a town from the distractor notes
    assert "tavira" not in found


def test_the_split_holds_out_one_named_person(persons: list[Person]) -> None:
    assert len(persons) >= 4
    assert held_out_names(persons) == ["ilse"]
    assert sum(p.split == "dev" for p in persons) >= 3


def test_every_fact_is_asked_three_ways_and_answered_by_its_own_text(
    persons: list[Person],
) -> None:
    distractors = load_distractors(persons)
    for person in persons:
        assert 20 <= len(person.facts) <= 25, person.name
        ids = [q.id for q in person.questions(include_visible=True)]
        assert len(ids) == len(set(ids))
        for fact in person.facts:
            held_out = [q for q in fact.questions if not q.visible]
            assert len(held_out) >= 3, fact.id
            assert sum(q.visible for q in fact.questions) == 1, fact.id
            assert all(normalize(t) for group in fact.answer for t in group), fact.id
            for q in fact.questions:
                verdict = judge(fact.text, fact.answer, rivals(person, fact, q, distractors))
                assert verdict.correct, (q.id, verdict)


def test_questions_neither_give_the_answer_nor_trip_the_hubs_phrases(
    persons: list[Person],
) -> None:
    for person in persons:
        for fact in person.facts:
            for q in fact.questions:
                assert q.text.endswith("?"), q.id  # a question is never kept as a memory
                assert find_time_range(q.text, NOW) is None, q.id  # no time filter by accident
                assert not re.match(r"\s*(remember|forget|note|keep in mind)\b", q.text, re.I)
                if not q.visible:
                    text = normalize(q.text)
                    assert not any(contains_term(text, t) for g in fact.answer for t in g), q.id


def test_held_out_questions_share_few_words_with_their_fact(persons: list[Person]) -> None:
    def content(text: str) -> set[str]:
        return {w for w in normalize(text).split() if w not in STOP_WORDS}

    overlaps = [
        len(content(q.text) & content(f.text)) / max(1, len(content(q.text)))
        for p in persons
        for f in p.facts
        for q in f.questions
        if not q.visible
    ]
    assert sum(overlaps) / len(overlaps) < 0.25


def test_distractors_are_many_distinct_and_never_contain_an_answer(
    persons: list[Person],
) -> None:
    distractors = load_distractors(persons)
    texts = [normalize(n.text) for n in distractors.notes]
    assert len(texts) == 300
    assert len(set(texts)) == 300
    terms = answer_terms(persons)
    assert not [t for t in texts if any(contains_term(t, term) for term in terms)]
    assert load_distractors(persons) == distractors  # the same every run


def test_distractors_are_the_same_in_every_process(persons: list[Person]) -> None:
    script = (
        "from bench.personal.dataset import load_distractors, load_persons; "
        "print([n.text for n in load_distractors(load_persons()).notes])"
    )
    root = Path(__file__).resolve().parent.parent
    runs = [
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(root)},
            capture_output=True,
            text=True,
            check=False,
        )
        for seed in ("1", "2")
    ]
    assert [r.returncode for r in runs] == [0, 0], runs[0].stderr[-2000:]
    outputs = [r.stdout for r in runs]
    assert outputs[0] == outputs[1]
    assert outputs[0].strip() == str([n.text for n in load_distractors(persons).notes])


def test_general_questions_are_answerable_by_key_terms() -> None:
    general = load_general()
    assert len(general) >= 20
    assert judge("The capital of France is Paris.", general[0].answer).correct
