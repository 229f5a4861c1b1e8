"""The training child's answer-judging with the real packaged model, on a tiny held-out set:
the model answers in the trained chat format, each answer is judged, progress is told, and the
gate compares what a candidate answers with what is served now."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from adapters.answers import changed_answers
from adapters.base_cache import load_base_cached
from adapters.base_model import file_sha256
from adapters.config import GateMargins, TrainConfig
from adapters.dataset import Dataset, DatasetSummary
from adapters.examples import TrainingExample
from adapters.gate import decide
from adapters.job import read_progress
from adapters.train import scored
from adapters.trainer import add_lora
from tests.personalization_support import model_path

HELD_OUT = [
    TrainingExample(
        "What is the capital of France?",
        "The capital of France is Paris.",
        "fact",
        "f1",
        expect="Paris",
    ),
    TrainingExample(
        "What is my dog's name?", "Your dog's name is Pistachio.", "fact", "f2", expect="Pistachio"
    ),
    # No expected piece: judged by the reference's words the question does not say ("seven").
    TrainingExample("How many days are in a week?", "A week has seven days.", "note", "n1"),
]


@pytest.mark.slow
def test_the_child_answers_and_judges_held_out_questions_with_the_real_model(
    tmp_path: Path,
) -> None:
    # One thread: the test shares a small machine, where two busy threads wait on each other.
    path = model_path()
    copies = Path(os.environ["HUB_PERSONALIZE_BASE_CACHE_DIR"])  # shared by the session
    base = load_base_cached(path, file_sha256(path), 1, copies)
    dataset = Dataset([], HELD_OUT, DatasetSummary())
    started = time.monotonic()
    current = scored(tmp_path, "current", base.model, base.tokenizer, dataset, 256)
    seconds = time.monotonic() - started

    by_question = {a.question: a for a in current.answers}
    assert by_question["What is the capital of France?"].correct
    assert "Paris" in by_question["What is the capital of France?"].answer
    assert not by_question["What is my dog's name?"].correct  # it cannot know the person
    assert by_question["How many days are in a week?"].correct
    assert by_question["How many days are in a week?"].expected == HELD_OUT[2].answer
    assert (current.metrics.answered, current.metrics.questions) == (2, 3)
    # Answers end where the model ends its turn: no chat markup, no next turn.
    assert not any("<|im_" in a.answer or "\nUser:" in a.answer for a in current.answers)
    answering = [e for e in read_progress(tmp_path) if e["event"] == "answering"]
    assert answering[-1]["answered"] == answering[-1]["questions"] == 3
    assert answering[-1]["what"] == "current"

    # A fresh LoRA (its B matrices start at zero) answers exactly as the bare model: through
    # peft's generation the answers are the same, nothing changed, and the gate says not better.
    candidate_model = add_lora(base.model, TrainConfig(rank=4, alpha=8))
    candidate = scored(tmp_path, "candidate", candidate_model, base.tokenizer, dataset, 256)
    assert [a.answer for a in candidate.answers] == [a.answer for a in current.answers]
    assert changed_answers(current.answers, candidate.answers) == {
        "now_answered": [],
        "now_missed": [],
    }
    decision = decide(candidate.metrics, current.metrics, GateMargins())
    assert not decision.passed
    assert decision.reasons[0] == "answers 2 of 3 held-out questions, against 2 now: not better"
    print(f"answering and scoring 3 held-out questions took {seconds:.1f} s")
