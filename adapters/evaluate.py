"""Evaluation: held-out personal questions (answered and judged, and their loss), general
perplexity, a few general questions."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from importlib.resources import files
from typing import Any

import torch

from adapters.answers import JudgedAnswer, answer_and_judge
from adapters.chat_format import TokenizedExample, tokenize_pair
from adapters.examples import TrainingExample
from adapters.trainer import collate

PERPLEXITY_WINDOW = 256


@dataclass(frozen=True)
class Metrics:
    """How a model (base, or base with an adapter) scores: held-out personal questions answered
    right (higher is better), and losses and perplexity (lower is better)."""

    personal_loss: float  # mean answer-token loss on held-out personal questions
    general_perplexity: float  # on adapters/data/general_text.txt
    general_questions_loss: float  # mean answer-token loss on adapters/data/general_questions.json
    answered: int = 0  # held-out personal questions answered right
    questions: int = 0  # held-out personal questions judged (those with key terms)

    def to_json(self) -> dict[str, float]:
        """A JSON-ready form."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Metrics:
        """Read ``to_json``'s form (a record from before answers were judged has no counts)."""
        return cls(
            float(data["personal_loss"]),
            float(data["general_perplexity"]),
            float(data["general_questions_loss"]),
            int(data.get("answered", 0)),
            int(data.get("questions", 0)),
        )


@dataclass(frozen=True)
class Evaluation:
    """A model's scores and its judged answer to each held-out personal question."""

    metrics: Metrics
    answers: list[JudgedAnswer]


def general_text() -> str:
    """The fixed general text kept in the repository."""
    return files("adapters").joinpath("data/general_text.txt").read_text(encoding="utf-8")


def general_questions() -> list[TrainingExample]:
    """The few fixed general questions kept in the repository."""
    raw = files("adapters").joinpath("data/general_questions.json").read_text(encoding="utf-8")
    return [
        TrainingExample(item["prompt"], item["answer"], "general", f"general-{index}")
        for index, item in enumerate(json.loads(raw))
    ]


@torch.no_grad()
def answer_loss(model: Any, examples: list[TokenizedExample], pad_id: int) -> float:
    """Mean over ``examples`` of each one's mean answer-token loss (nan when there are none):
    every question counts the same, however long its answer."""
    per_example: list[float] = []
    for start in range(0, len(examples), 8):
        batch = collate(examples[start : start + 8], pad_id)
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        labels = batch["labels"][:, 1:]
        losses = torch.nn.functional.cross_entropy(
            logits[:, :-1].reshape(-1, logits.shape[-1]).float(),
            labels.reshape(-1),
            ignore_index=-100,
            reduction="none",
        ).reshape(labels.shape)
        counted = (labels != -100).sum(dim=1)
        for row in range(labels.shape[0]):
            if int(counted[row]):
                per_example.append(float(losses[row].sum()) / int(counted[row]))
    return sum(per_example) / len(per_example) if per_example else math.nan


@torch.no_grad()
def perplexity(model: Any, tokenizer: Any, text: str) -> float:
    """Perplexity of ``text`` in windows of PERPLEXITY_WINDOW tokens."""
    ids = list(tokenizer(text, add_special_tokens=True)["input_ids"])
    total, count = 0.0, 0
    for start in range(0, len(ids) - 1, PERPLEXITY_WINDOW):
        window = torch.tensor([ids[start : start + PERPLEXITY_WINDOW + 1]])
        if window.shape[1] < 2:
            break
        out = model(input_ids=window, labels=window)
        tokens = window.shape[1] - 1
        total += float(out.loss) * tokens
        count += tokens
    return math.exp(total / max(count, 1))


def evaluate(
    model: Any,
    tokenizer: Any,
    held_out: list[TrainingExample],
    max_seq_tokens: int,
    on_answering: Callable[[int, int], None] = lambda done, total: None,
) -> Evaluation:
    """Score ``model`` as it is now (with whatever adapter is enabled); ``on_answering`` hears
    (answered, total) while it answers the held-out questions."""
    model.eval()
    pad_id = int(tokenizer.pad_token_id)

    def tokenized(examples: list[TrainingExample]) -> list[TokenizedExample]:
        return [tokenize_pair(tokenizer, e.prompt, e.answer, max_seq_tokens) for e in examples]

    answers = answer_and_judge(model, tokenizer, held_out, on_answering)
    metrics = Metrics(
        personal_loss=answer_loss(model, tokenized(held_out), pad_id),
        general_perplexity=perplexity(model, tokenizer, general_text()),
        general_questions_loss=answer_loss(model, tokenized(general_questions()), pad_id),
        answered=sum(1 for a in answers if a.correct),
        questions=len(answers),
    )
    return Evaluation(metrics, answers)
