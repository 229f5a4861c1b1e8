"""How far training has moved the model from general English, measured while it trains.

The measure is the perplexity of a general text of its own (adapters/data/drift_text.txt), never
trained on and never the gate's (the gate judges general_text.txt, so a run that steered by the
gate's own text could pass the gate without staying general). A run that ends further from
general text than its limit hands the gate the weights of its last check within the limit: a
faster machine or a longer budget trains more steps, and more steps drift further (docs/
benchmarks.md), but the night's work is not thrown away for it.
"""

from __future__ import annotations

import math
from importlib.resources import files
from typing import Any

import torch

# The perplexity is taken over windows of this many tokens (the training sequences' length).
DRIFT_WINDOW = 256


def drift_text() -> str:
    """The general text drift is measured on (never trained on, never the gate's)."""
    return files("adapters").joinpath("data/drift_text.txt").read_text(encoding="utf-8")


class DriftWatch:
    """The drift text, tokenized once, and the base model's perplexity on it."""

    def __init__(self, windows: list[torch.Tensor]) -> None:
        """Keep the token windows the perplexity is measured over."""
        self.windows = windows
        self.baseline = math.nan

    @classmethod
    def for_tokenizer(cls, tokenizer: Any, text: str | None = None) -> DriftWatch:
        """Tokenize ``text`` (the drift text by default) into windows of DRIFT_WINDOW tokens."""
        ids = list(tokenizer(drift_text() if text is None else text)["input_ids"])
        windows = [
            torch.tensor([ids[start : start + DRIFT_WINDOW + 1]])
            for start in range(0, len(ids) - 1, DRIFT_WINDOW)
        ]
        return cls([window for window in windows if window.shape[1] >= 2])

    @torch.no_grad()
    def perplexity(self, model: Any) -> float:
        """``model``'s perplexity on the drift text, as it is now (train mode is restored)."""
        training = bool(model.training)
        model.eval()
        total, count = 0.0, 0
        for window in self.windows:
            loss = model(input_ids=window, labels=window).loss
            tokens = window.shape[1] - 1
            total += float(loss) * tokens
            count += tokens
        model.train(training)
        return math.exp(total / max(count, 1))

    def measure_baseline(self, model: Any) -> float:
        """The base model's perplexity (``model``'s adapter switched off while it is measured)."""
        disable = getattr(model, "disable_adapter", None)
        if disable is None:
            self.baseline = self.perplexity(model)
        else:
            with disable():
                self.baseline = self.perplexity(model)
        return self.baseline

    def rise(self, model: Any) -> float:
        """How much higher ``model``'s perplexity is than the base model's (0.2 = 20% higher)."""
        return self.perplexity(model) / self.baseline - 1.0
