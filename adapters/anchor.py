"""Holding the adapter to the base model on general text while it trains.

Each training step adds the KL divergence of the adapted model's next-token distribution from
the base model's (the adapter switched off) over a chunk of general text: the general
instructions mixed into training (adapters/data/general_instructions.json), never the drift
text nor the gate's. The person's facts are learned on top of a model held where it was on
everything else, so the drift limit no longer cuts a run short. On the development persons
(docs/benchmarks.md) the drift text stayed within 5% of the base model's perplexity for all 240
steps, where without the anchor the limit had kept an earlier step.
"""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any

import torch

# Tokens of general text a step holds the adapter to (a chunk costs about half a batch).
ANCHOR_TOKENS = 128


def anchor_text() -> str:
    """The general instructions with their answers, one after another."""
    raw = files("adapters").joinpath("data/general_instructions.json").read_text(encoding="utf-8")
    return "\n\n".join(f"{pair['prompt']}\n{pair['answer']}" for pair in json.loads(raw))


class AnchorText:
    """The anchor text in chunks of token ids, taken in turn step after step."""

    def __init__(self, chunks: list[torch.Tensor]) -> None:
        """Keep the chunks (each of shape 1 x tokens, at least two tokens)."""
        if not chunks:
            raise ValueError("the anchor text needs at least one chunk of two tokens")
        self.chunks = chunks

    @classmethod
    def for_tokenizer(
        cls, tokenizer: Any, text: str | None = None, tokens: int = ANCHOR_TOKENS
    ) -> AnchorText:
        """Tokenize ``text`` (the general instructions by default) into chunks of ``tokens``."""
        ids = list(tokenizer(anchor_text() if text is None else text)["input_ids"])
        chunks = [
            torch.tensor([ids[start : start + tokens]]) for start in range(0, len(ids), tokens)
        ]
        return cls([chunk for chunk in chunks if chunk.shape[1] >= 2])

    def chunk(self, step: int) -> torch.Tensor:
        """The chunk for training step ``step``."""
        return self.chunks[step % len(self.chunks)]


def kl_to_base(model: Any, tokens: torch.Tensor) -> torch.Tensor:
    """The mean over ``tokens``' positions of KL(base || adapted): how far the adapted model's
    next-token distribution has moved from the base model's (``model`` is a peft model; only
    the adapted pass carries gradients)."""
    with torch.no_grad(), model.disable_adapter():
        base = torch.log_softmax(model(input_ids=tokens).logits.float(), dim=-1)
    adapted = torch.log_softmax(model(input_ids=tokens).logits.float(), dim=-1)
    return (base.exp() * (base - adapted)).sum(dim=-1).mean()
