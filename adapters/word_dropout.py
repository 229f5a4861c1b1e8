"""Word dropout: each training step leaves a few tokens out of the person's question, so the
adapter learns a fact from each word of the ways it is asked, not from their whole wording."""

from __future__ import annotations

import random

from adapters.chat_format import TokenizedExample


def step_rng(seed: int, step: int) -> random.Random:
    """The dropout's random numbers for one step: the same again when a run resumes there."""
    return random.Random(seed * 1_000_003 + step)


def drop_question_tokens(
    example: TokenizedExample, rate: float, rng: random.Random
) -> TokenizedExample:
    """``example`` with each token of its question left out at ``rate``; unchanged when it has
    no question marked, or when that would leave out more than half of the question."""
    if example.question_span is None or rate <= 0:
        return example
    start, end = example.question_span
    dropped = {index for index in range(start, end) if rng.random() < rate}
    if not dropped or 2 * len(dropped) > end - start:
        return example
    kept = [token for index, token in enumerate(example.prompt_ids) if index not in dropped]
    return TokenizedExample(kept, example.answer_ids)
