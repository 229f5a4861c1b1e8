"""The gate that judges answers: the key-term judge, the gate's decision, the examples kept of
answers that changed, and how `hub personalize list` shows them (fast, no model)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from adapters.answers import JudgedAnswer, changed_answers
from adapters.config import GateMargins
from adapters.evaluate import Metrics
from adapters.gate import decide
from adapters.judge import answer_key, content_words, normalize
from adapters.registry import AdapterRegistry
from hub.cli.personalize import adapter_lines


def right(question: str, reference: str, answer: str, expect: str = "") -> bool:
    key = answer_key(question, reference, expect)
    assert key is not None
    return key.accepts(answer)


@pytest.mark.parametrize(
    ("answer", "expect"),
    [
        ("You live in Tavira.", "Tavira"),
        ("TAVIRA, in the Algarve", "Tavira"),
        ("Your café is Café Lumière.", "Lumière"),
        ("It is on the fourteenth of March.", "14th of March"),
        ("March 14.", "the 14th of March"),
        ("You have two cats.", "2"),
        ("Your PIN ends in seventy-five", "75"),
        ("You are allergic to hazelnuts.", "hazelnut"),
        ("It costs 1,140 euros.", "1140"),
    ],
)
def test_an_answer_holding_the_expected_piece_is_right_whatever_its_form(
    answer: str, expect: str
) -> None:
    assert right("Where do I live?", "unused", answer, expect)


@pytest.mark.parametrize(
    ("answer", "expect"),
    [
        ("You live in Taviraville.", "Tavira"),  # whole words only
        ("You live somewhere in the Algarve.", "Tavira"),
        ("It is on the 4th of March.", "14th of March"),
        ("You have twenty cats.", "2"),
        ("", "Tavira"),
    ],
)
def test_an_answer_without_the_expected_piece_is_wrong(answer: str, expect: str) -> None:
    assert not right("Where do I live?", "unused", answer, expect)


def test_without_an_expected_piece_half_the_references_new_content_words_are_needed() -> None:
    question = "Which bus do I take to work?"
    reference = "You take the 728 bus from the river."
    # "take" and "bus" are in the question: the key is 728, river (one of two needed).
    key = answer_key(question, reference)
    assert key is not None and key.terms == ("728", "river") and key.needed == 1
    assert right(question, reference, "The 728, every morning.")
    assert not right(question, reference, "You take the bus to work.")
    # Echoing the question is never enough, and a question with nothing new cannot be judged.
    assert answer_key("Do I like tea?", "Yes, you like tea.") is None


def test_a_long_reference_needs_at_most_five_of_its_content_words() -> None:
    reference = (
        "You noted that the boiler service is booked with Joaquim for Thursday morning, "
        "that the gas meter reading was 4521, and that the radiator in the hallway leaks."
    )
    key = answer_key("What did I note about the boiler?", reference)
    assert key is not None and len(key.terms) > 10 and key.needed == 5
    short = "Joaquim services it on Thursday; the meter read 4521; the hallway radiator leaks."
    assert key.accepts(short)
    assert not key.accepts("Joaquim is coming on Thursday.")


def test_normalization_and_content_words() -> None:
    assert normalize("Café LUMIÈRE, on the 3rd of May!") == "cafe lumiere on 3 may"
    assert content_words("My dog's name is Pistachio and MY dog is 3.") == [
        "dog",
        "name",
        "pistachio",
        "3",
    ]
    assert "may" in content_words("Your birthday is in May.")  # a month, not a verb


def scores(answered: int, questions: int = 23, ppl: float = 16.0, loss: float = 1.0) -> Metrics:
    return Metrics(2.0, ppl, loss, answered, questions)


MARGINS = GateMargins(general_max_regression=0.5)


def test_the_gate_promotes_only_an_adapter_that_answers_more_held_out_questions() -> None:
    now = scores(2)
    better = decide(scores(14), now, MARGINS)
    assert better.passed
    assert better.reasons[0] == "answers 14 of 23 held-out questions, against 2 now: better"
    same = decide(scores(2), now, MARGINS)
    assert not same.passed and same.reasons[0].endswith("not better")
    fewer = decide(scores(1), now, MARGINS)
    assert not fewer.passed
    assert decide(scores(3), now, MARGINS).passed  # one more right answer is enough


def test_a_lower_personal_loss_alone_no_longer_passes() -> None:
    # The adapter the issue saw: its loss fell, yet it answered none of the questions.
    lower_loss = Metrics(0.4, 16.0, 1.0, 0, 23)
    decision = decide(lower_loss, Metrics(2.1, 16.0, 1.0, 0, 23), MARGINS)
    assert not decision.passed
    assert "personal loss 0.400 vs 2.100 (shown, not judged)" in decision.reasons


def test_the_gate_keeps_the_general_ability_bounds() -> None:
    now = scores(2, ppl=16.0, loss=1.0)
    drifted = decide(scores(20, ppl=25.0), now, MARGINS)
    assert not drifted.passed and "general perplexity 25.00 vs 16.00" in drifted.reasons[2]
    assert "too much worse" in drifted.reasons[2]
    # The general questions' perplexity (exp of their loss) may rise by half too, no more.
    worse_questions = decide(scores(20, loss=1.0 + math.log(1.6)), now, MARGINS)
    assert not worse_questions.passed and "too much worse" in worse_questions.reasons[3]
    assert decide(scores(20, ppl=23.9, loss=1.0 + math.log(1.4)), now, MARGINS).passed


def test_with_no_held_out_question_to_judge_nothing_is_promoted() -> None:
    decision = decide(scores(0, questions=0), scores(0, questions=0), MARGINS)
    assert not decision.passed and "add more data" in decision.reasons[0]


def judged(question: str, answer: str, correct: bool) -> JudgedAnswer:
    return JudgedAnswer(question, "Tavira", answer, correct)


def test_examples_are_kept_of_questions_answered_now_and_missed_now() -> None:
    before = [
        judged("a?", "I don't know.", False),
        judged("b?", "Tavira.", True),
        judged("c?", "Faro.", False),
        *[judged(f"q{n}?", "No idea.", False) for n in range(8)],
    ]
    after = [
        judged("a?", "You live in Tavira.", True),
        judged("b?", "Lisbon.", False),
        judged("c?", "Faro.", False),
        *[judged(f"q{n}?", "Tavira.", True) for n in range(8)],
    ]
    changed = changed_answers(before, after, limit=3)
    assert [e["question"] for e in changed["now_answered"]] == ["a?", "q0?", "q1?"]
    assert changed["now_answered"][0] == {
        "question": "a?",
        "expected": "Tavira",
        "answer": "You live in Tavira.",
        "answer_before": "I don't know.",
    }
    assert [(e["question"], e["answer"]) for e in changed["now_missed"]] == [("b?", "Lisbon.")]


def test_the_list_shows_answers_before_and_after_with_examples() -> None:
    version = {
        "id": "v0003",
        "created_at": 1_760_000_000.0,
        "model_name": "smollm2-135m-instruct",
        "passed_gate": True,
        "active": True,
        "metrics": {
            "candidate": {"answered": 14, "questions": 23, "personal_loss": 0.5},
            "current": {"answered": 2, "questions": 23, "personal_loss": 2.0},
            "now_answered": [
                {"question": "Where do I live?", "expected": "Tavira", "answer": "In [Tavira]."}
            ],
        },
    }
    lines = adapter_lines(version)
    assert lines[0].startswith("v0003") and lines[0].endswith("passed the gate, active")
    assert "answers 14/23 held-out questions (before: 2/23)" in lines[1]
    assert "now answers: 'Where do I live?' -> 'In [Tavira].' (expected 'Tavira')" in lines[3]
    # A record an older hub wrote has no counts and no examples; it still lists.
    old = {**version, "active": False, "passed_gate": False, "metrics": {"candidate": {}}}
    assert "were not judged" in "\n".join(adapter_lines(old))
    none = {**version, "metrics": {"candidate": {"answered": 0, "questions": 0}}}
    assert "no held-out questions to judge it by" in adapter_lines(none)[1]
    assert not any("drifted" in line for line in lines)
    # A run that ended too far from general text was judged as it was at an earlier step.
    drifted = {**version, "training": {"steps": 300, "kept_step": 240}}
    assert (
        "the weights of step 240 of 300: later steps drifted too far from general text"
        in "\n".join(adapter_lines(drifted))
    )


def test_adapter_records_written_before_answers_were_judged_still_load(tmp_path: Path) -> None:
    registry = AdapterRegistry(tmp_path / "adapters")
    folder = registry.versions_dir / "v0001"
    folder.mkdir(parents=True)
    old = {
        "id": "v0001",
        "created_at": 1.0,
        "model_name": "m",
        "base_sha256": "aaa",
        "architecture": "llama",
        "passed_gate": True,
        "metrics": {"candidate": {"personal_loss": 0.8, "general_perplexity": 18.0}},
    }
    (folder / "meta.json").write_text(json.dumps(old))
    [version] = registry.versions()
    assert version.metrics["candidate"] == {"personal_loss": 0.8, "general_perplexity": 18.0}
    metrics = Metrics.from_json(
        {"personal_loss": 0.8, "general_perplexity": 18.0, "general_questions_loss": 1.0}
    )
    assert (metrics.answered, metrics.questions) == (0, 0)
