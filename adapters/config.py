"""How an adapter is trained and judged, with the one set of defaults for both.

Torch-free on purpose: the hub's settings take their personalize_* defaults from here, so a
nightly run and a job written without settings can never disagree again.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


def training_threads() -> int:
    """Default torch threads for training: every CPU (training runs when the hub is idle)."""
    return os.cpu_count() or 2


@dataclass(frozen=True)
class TrainConfig:
    """How one adapter is trained."""

    rank: int = 16
    alpha: int = 32  # twice the rank, as the hub sets it
    learning_rate: float = 3e-4
    epochs: int = 3
    max_steps: int = 300
    batch_size: int = 4
    max_seq_tokens: int = 256
    time_budget_seconds: float = 1800.0
    checkpoint_every_steps: int = 10
    seed: int = 0


@dataclass(frozen=True)
class GateMargins:
    """How much better and how much worse an adapter may be."""

    personal_min_improvement: float = 0.1  # relative drop of held-out personal loss required
    general_max_regression: float = 0.5  # relative rise of general perplexity allowed
