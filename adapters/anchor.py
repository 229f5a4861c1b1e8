"""Holding the adapter to the base model on general text while it trains.

Each training step adds the KL divergence of the adapted model's next-token distribution from
the base model's (the adapter switched off) over a chunk of general text: the general
instructions mixed into training (adapters/data/general_instructions.json), never the drift
text nor the gate's. The person's facts are learned on top of a model held where it was on
everything else, so the drift limit no longer cuts a run short. On the development persons
(docs/benchmarks.md) the drift text stayed within 5% of the base model's perplexity for all 240
steps, where without the anchor the limit had kept an earlier step.

The base model's side of it never changes, so each chunk's is computed once, the first time the
chunk comes round, and kept as its most likely next tokens (the rest of its probability as one
more outcome): a step then makes one pass over the chunk, the adapted one, not two.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

import torch

# Tokens of general text a step holds the adapter to. At 128, both sides computed each step, the
# anchor took 0.87 s of a 2.2-second step (2 threads); at 64 with the base's side kept, 0.43 s
# of 1.9, and the drift text stayed within 4% of the base model (docs/benchmarks.md).
ANCHOR_TOKENS = 64
# The base model's most likely next tokens kept for each position of a chunk; the rest of its
# probability is one more outcome.
ANCHOR_TOP_TOKENS = 64


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


@dataclass(frozen=True)
class BaseTargets:
    """The base model's most likely next tokens at each position of a chunk, and their
    log-probabilities (positions x tokens kept)."""

    ids: torch.Tensor
    log_probs: torch.Tensor


class AnchorTargets:
    """The base model's side of the anchor for each chunk, computed the first time it is used."""

    def __init__(self, anchor: AnchorText, top_tokens: int = ANCHOR_TOP_TOKENS) -> None:
        """Nothing computed yet: the first step to use a chunk computes its targets."""
        self.anchor = anchor
        self.top_tokens = top_tokens
        self._targets: dict[int, BaseTargets] = {}

    def prepare(self, model: Any) -> None:
        """Compute every chunk's targets now (``model`` as it will train), so that the first
        steps, which measure the training speed to plan the run, run at the speed of the rest."""
        for index, tokens in enumerate(self.anchor.chunks):
            if index not in self._targets:
                self._targets[index] = base_targets(model, tokens, self.top_tokens)

    def divergence(self, model: Any, step: int) -> torch.Tensor:
        """KL(base || adapted) on training step ``step``'s chunk (see ``kl_to_targets``)."""
        index = step % len(self.anchor.chunks)
        tokens = self.anchor.chunks[index]
        if index not in self._targets:
            self._targets[index] = base_targets(model, tokens, self.top_tokens)
        return kl_to_targets(model, tokens, self._targets[index])


def base_targets(model: Any, tokens: torch.Tensor, top_tokens: int) -> BaseTargets:
    """The base model's (``model``'s adapter switched off) ``top_tokens`` most likely next
    tokens at each position of ``tokens``."""
    with torch.no_grad(), model.disable_adapter():
        log_probs = torch.log_softmax(model(input_ids=tokens).logits.float(), dim=-1)[0]
    top = log_probs.topk(min(top_tokens, log_probs.shape[-1]), dim=-1)
    return BaseTargets(top.indices, top.values)


def kl_to_targets(model: Any, tokens: torch.Tensor, targets: BaseTargets) -> torch.Tensor:
    """The mean over ``tokens``' positions of KL(base || adapted) between the two next-token
    distributions, each as the base's kept tokens plus everything else as one outcome (equal to
    ``kl_to_base`` when every token is kept; the adapted pass carries gradients)."""
    adapted = torch.log_softmax(model(input_ids=tokens).logits.float(), dim=-1)[0]
    adapted_kept = adapted.gather(-1, targets.ids)
    base_kept = targets.log_probs.exp()
    base_rest = (1 - base_kept.sum(dim=-1)).clamp_min(1e-12)
    adapted_rest = (1 - adapted_kept.exp().sum(dim=-1)).clamp_min(1e-12)
    kept = (base_kept * (targets.log_probs - adapted_kept)).sum(dim=-1)
    rest = base_rest * (base_rest.log() - adapted_rest.log())
    return (kept + rest).mean()


def kl_to_base(model: Any, tokens: torch.Tensor) -> torch.Tensor:
    """The mean over ``tokens``' positions of KL(base || adapted): how far the adapted model's
    next-token distribution has moved from the base model's (``model`` is a peft model; only
    the adapted pass carries gradients)."""
    with torch.no_grad(), model.disable_adapter():
        base = torch.log_softmax(model(input_ids=tokens).logits.float(), dim=-1)
    adapted = torch.log_softmax(model(input_ids=tokens).logits.float(), dim=-1)
    return (base.exp() * (base - adapted)).sum(dim=-1).mean()
