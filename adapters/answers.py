"""Answer the held-out personal questions greedily and judge each answer by its key terms."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import torch

from adapters.chat_format import prompt_text
from adapters.examples import TrainingExample
from adapters.judge import answer_key

# Long enough for a sentence that holds the fact; the hub answers such questions as briefly.
ANSWER_TOKENS = 48
# Measured with the 135M model on one busy core, 24 questions of 48 tokens each: 50 s in batches
# of 4, 30 s in batches of 8, 25 s in batches of 16 (a decoding step of 16 rows costs little more
# than one of 1: the small model is bound by memory, not arithmetic).
ANSWER_BATCH = 16
# Tokens that end a turn in the chat templates of the supported models, besides the eos token.
END_OF_TURN_TOKENS = ("<|im_end|>", "<end_of_turn>", "<|eot_id|>")
# Where a model without a chat template starts the next turn (adapters/chat_format.py).
PLAIN_TURN_END = "\nUser:"
EXAMPLES_SHOWN = 5


@dataclass(frozen=True)
class JudgedAnswer:
    """One held-out question, what a right answer holds, what the model said and the verdict."""

    question: str
    expected: str  # the example's ``expect``, or its whole reference answer without one
    answer: str
    correct: bool

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return asdict(self)


def stop_token_ids(tokenizer: Any) -> list[int]:
    """The eos token and the end-of-turn tokens this tokenizer knows."""
    ids = [int(tokenizer.eos_token_id)] if tokenizer.eos_token_id is not None else []
    vocabulary = tokenizer.get_vocab()
    ids.extend(int(vocabulary[t]) for t in END_OF_TURN_TOKENS if t in vocabulary)
    return sorted(set(ids))


@torch.no_grad()
def greedy_answers(
    model: Any,
    tokenizer: Any,
    questions: list[str],
    on_batch: Callable[[int], None] = lambda done: None,
    max_new_tokens: int = ANSWER_TOKENS,
    batch_size: int = ANSWER_BATCH,
) -> list[str]:
    """The model's greedy answer to each question, asked the way it is trained and served;
    ``on_batch`` hears how many are answered after each batch."""
    from transformers import GenerationConfig

    prompts = [list(tokenizer(prompt_text(tokenizer, q))["input_ids"]) for q in questions]
    pad_id = int(tokenizer.pad_token_id)
    settings = GenerationConfig(  # type: ignore[no-untyped-call]
        max_new_tokens=max_new_tokens,
        do_sample=False,
        use_cache=True,
        eos_token_id=stop_token_ids(tokenizer),
        pad_token_id=pad_id,
    )
    # Similar lengths side by side waste less on padding.
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    answers = [""] * len(prompts)
    model.eval()
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        width = max(len(prompts[i]) for i in rows)
        ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for row, index in enumerate(rows):
            # Padded on the left, so every row's answer starts at the same position.
            tokens = prompts[index]
            ids[row, width - len(tokens) :] = torch.tensor(tokens)
            mask[row, width - len(tokens) :] = 1
        out = model.generate(input_ids=ids, attention_mask=mask, generation_config=settings)
        for row, index in enumerate(rows):
            text = tokenizer.decode(out[row, width:], skip_special_tokens=True)
            answers[index] = text.split(PLAIN_TURN_END)[0].strip()
        on_batch(start + len(rows))
    return answers


def answer_and_judge(
    model: Any,
    tokenizer: Any,
    held_out: list[TrainingExample],
    on_progress: Callable[[int, int], None] = lambda done, total: None,
) -> list[JudgedAnswer]:
    """Ask the model every held-out question that has key terms and judge its answers (one
    without key terms cannot be judged and is left out); ``on_progress`` hears (answered,
    total) as it goes."""
    keyed = [
        (example, key)
        for example in held_out
        if (key := answer_key(example.prompt, example.answer, example.expect)) is not None
    ]
    answers = greedy_answers(
        model, tokenizer, [e.prompt for e, _ in keyed], lambda done: on_progress(done, len(keyed))
    )
    return [
        JudgedAnswer(example.prompt, example.expect or example.answer, answer, key.accepts(answer))
        for (example, key), answer in zip(keyed, answers, strict=True)
    ]


def changed_answers(
    before: list[JudgedAnswer], after: list[JudgedAnswer], limit: int = EXAMPLES_SHOWN
) -> dict[str, list[dict[str, Any]]]:
    """A few questions answered now that were missed before (``now_answered``) and a few
    answered before that are missed now (``now_missed``), each with both answers."""
    now_answered: list[dict[str, Any]] = []
    now_missed: list[dict[str, Any]] = []
    for old, new in zip(before, after, strict=True):
        if old.correct == new.correct:
            continue
        shown = {
            "question": new.question,
            "expected": new.expected,
            "answer": new.answer,
            "answer_before": old.answer,
        }
        (now_answered if new.correct else now_missed).append(shown)
    return {"now_answered": now_answered[:limit], "now_missed": now_missed[:limit]}
