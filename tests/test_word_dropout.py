"""Word dropout: each training step leaves a few tokens out of the question of a memory it trains
on, never out of the chat template, the memories shown, the answer or a general question, and a
resumed run leaves out the same ones again."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from transformers import AutoTokenizer

import adapters.trainer
from adapters.chat_format import TokenizedExample, question_span, tokenize_example
from adapters.examples import TrainingExample
from adapters.trainer import train_lora
from adapters.word_dropout import drop_question_tokens, step_rng
from hub.models.packaged import locate_smollm2
from tests.test_training_drift import config
from tests.tiny_llama import tiny_lora_llama

QUESTION = "Where does my sister Oriana live?"
ANSWER = "Your sister Oriana lives in Tavira."


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    """The packaged default model's own tokenizer and chat template."""
    path = locate_smollm2(Path("unused"))
    return AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)


def test_a_memorys_question_is_marked_inside_the_real_chat_template(tokenizer: Any) -> None:
    example = tokenize_example(tokenizer, TrainingExample(QUESTION, ANSWER, "fact", "m1"), 256)
    assert example.question_span is not None
    start, end = example.question_span
    assert tokenizer.decode(example.prompt_ids[start:end]) == QUESTION
    assert "<|im_start|>assistant" in tokenizer.decode(example.prompt_ids[end:])
    for unmarked in (
        TrainingExample(QUESTION, ANSWER, "fact", "m1", system="Memories: ..."),  # memories shown
        TrainingExample("What is 15 plus 27?", "42.", "general", "g1"),
        TrainingExample(QUESTION, ANSWER, "conversation", "c1"),
    ):
        assert tokenize_example(tokenizer, unmarked, 256).question_span is None


def test_a_question_the_template_cut_away_is_not_marked() -> None:
    assert question_span([1, 2, 3, 4], [3, 4]) == (2, 4)
    assert question_span([1, 2, 3, 4], [4, 5]) is None
    assert question_span([1, 2, 3, 4], []) is None


def _marked() -> TokenizedExample:
    return TokenizedExample(list(range(100, 130)), [7, 8, 9], question_span=(10, 24))


def test_only_question_tokens_are_left_out_and_never_more_than_half() -> None:
    example = _marked()
    rng = random.Random(3)
    dropped_total = 0
    for _ in range(400):
        thinned = drop_question_tokens(example, 0.15, rng)
        assert thinned.answer_ids == example.answer_ids
        assert thinned.prompt_ids[:10] == example.prompt_ids[:10]
        assert thinned.prompt_ids[-6:] == example.prompt_ids[-6:]
        kept = thinned.prompt_ids[10:-6]
        assert kept == [t for t in example.prompt_ids[10:24] if t in kept]  # in order
        assert len(kept) >= 7
        dropped_total += 14 - len(kept)
    assert 0.10 < dropped_total / (400 * 14) < 0.20


def test_no_rate_or_no_marked_question_changes_nothing() -> None:
    rng = random.Random(0)
    assert drop_question_tokens(_marked(), 0.0, rng) == _marked()
    unmarked = TokenizedExample(list(range(100, 130)), [7, 8, 9])
    assert drop_question_tokens(unmarked, 0.3, rng) == unmarked


def test_a_step_leaves_out_the_same_tokens_when_a_run_resumes_there() -> None:
    def thinned(step: int) -> list[list[int]]:
        rng = step_rng(0, step)
        return [drop_question_tokens(_marked(), 0.15, rng).prompt_ids for _ in range(8)]

    assert thinned(5) == thinned(5)
    assert thinned(5) != thinned(6)


def test_training_steps_see_thinned_questions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[int] = []
    real_batch_loss = adapters.trainer.batch_loss

    def recording(model: Any, batch: list[TokenizedExample], pad_id: int) -> Any:
        seen.extend(len(example.prompt_ids) for example in batch)
        return real_batch_loss(model, batch, pad_id)

    monkeypatch.setattr(adapters.trainer, "batch_loss", recording)
    prefix = [5, 6, 7, 8, 9, 10, 11, 12, 13, 14]
    examples = [
        TokenizedExample([*prefix, 20, 21, 22, 23, 24, 25], [30 + i % 7, 31], (10, 16))
        for i in range(12)
    ]
    train_lora(tiny_lora_llama(), examples, 0, config(word_dropout=0.3), tmp_path / "on")
    assert min(seen) < 16 and max(seen) == 16
    seen.clear()
    train_lora(tiny_lora_llama(), examples, 0, config(word_dropout=0.0), tmp_path / "off")
    assert set(seen) == {16}
