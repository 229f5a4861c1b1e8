"""bench/bench_question_coverage.py: a held-out question is covered when the training question
closest to it is its own fact's."""

from __future__ import annotations

from bench.bench_question_coverage import coverage, training_questions
from bench.personal.dataset import Fact, Person, Question
from memory.fake_embedder import HashingEmbedder


def _person() -> Person:
    def fact(fact_id: str, text: str, questions: list[str]) -> Fact:
        asked = [Question(f"{fact_id}-q{i}", fact_id, q, False) for i, q in enumerate(questions)]
        return Fact(fact_id, "family", "place", text, [["x"]], asked, "2025-02-03")

    return Person(
        "pat",
        "Pat Example",
        "dev",
        [
            fact("pat-01", "My sister Oriana lives in Tavira.", ["Where does my sister live?"]),
            # Only words of the other fact: its closest training question is the other fact's.
            fact(
                "pat-02", "Our dog is a grey whippet called Biscoito.", ["Where does Oriana live?"]
            ),
        ],
    )


def test_a_question_in_its_own_facts_words_is_covered_and_one_in_anothers_is_not() -> None:
    person, embedder = _person(), HashingEmbedder(dimension=512)
    questions, owners = training_questions(person, embedder)
    assert set(owners) == {"pat-01", "pat-02"} and len(questions) == len(owners) >= 12
    assert coverage(person, embedder, None) == (1, 2)
