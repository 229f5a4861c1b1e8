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


# The drift text's rise allowed per unit of the gate's allowed rise (0.4 for its 0.5). The two
# texts drift apart from one run to the next: the gate's factor over the base model was 0.75 to
# 1.05 times the drift text's (docs/benchmarks.md); the limit keeps the gate's bound even then.
DRIFT_LIMIT_PER_GATE_MARGIN = 0.8


def drift_limit_for(general_max_regression: float) -> float:
    """The drift limit (TrainConfig.drift_limit) for a gate allowing ``general_max_regression``."""
    return DRIFT_LIMIT_PER_GATE_MARGIN * general_max_regression


@dataclass(frozen=True)
class TrainConfig:
    """How one adapter is trained."""

    rank: int = 16
    alpha: int = 32  # twice the rank, as the hub sets it
    # A fact is learned from a few dozen passes over its questions and cue words. Without the
    # anchor below, 1e-3 drifted general text past the gate's bound; held by it, 1e-3 kept the
    # drift text within 3% of the base model and the adapter alone answered 19 more of the
    # development persons' 207 held-out questions than at 5e-4 (docs/benchmarks.md).
    learning_rate: float = 1e-3
    epochs: int = 4
    # The time budget, not the step count, ends a run (adapters/schedule.py fits the epochs to
    # it); this only caps a run on a much faster machine.
    max_steps: int = 3000
    # The steps a run plans for at most, however fast the machine: its epochs go over the
    # leading examples that fit them, and its learning rate anneals by their end. A run drifts
    # past drift_limit after about 200-300 steps at this rate; planned for 600 on a fast host,
    # it was judged at a step of high learning rate halfway through its plan, and its adapter
    # alone answered 33 and 31 of 69; planned for 240, 44 and 41 (docs/benchmarks.md).
    # 0: the time budget alone plans the run.
    step_budget: int = 240
    # Eight examples share one pass over the chat template's prefix (adapters/trainer.py).
    batch_size: int = 8
    max_seq_tokens: int = 256
    # The whole job (scoring what is served, training, judging the candidate) for a day of data
    # stays under 15 minutes on 2 cores; a month of data trains on its most important part.
    time_budget_seconds: float = 720.0
    checkpoint_every_steps: int = 10
    # Every this many steps the perplexity of adapters/data/drift_text.txt is measured, and the
    # adapter kept while it has risen at most drift_limit above the base model's: a run that
    # ends further from general text than that is judged as it was at its last check within
    # the limit. Measured on the adapters of earlier runs: at 1.41 times the base or less there,
    # the gate's text stayed within 1.23 times (its bound 1.5); two runs on a faster host were
    # past the gate's bound at 1.45 and 1.60 times. The hub sets it from the gate's margin
    # (drift_limit_for).
    drift_check_every_steps: int = 20
    drift_limit: float = 0.4
    # Each step adds this times the KL divergence from the base model on general text
    # (adapters/anchor.py): held there, the drift text stayed within 5% of the base model for
    # all 240 steps, and the adapter alone answered more held-out questions (docs/benchmarks.md).
    # 0: off (the drift limit alone holds the run back).
    anchor_weight: float = 1.0
    # Each step leaves out this share of the tokens of each memory's question it trains on
    # (adapters/word_dropout.py), so the adapter learns a fact from each of the words it is
    # asked with rather than from their whole wording (docs/benchmarks.md). 0: off.
    word_dropout: float = 0.15
    seed: int = 0
    # Frozen base weights in bfloat16 while training, where the CPU computes it natively
    # (twice as fast as float32 there); the adapter itself always trains in float32.
    bf16: bool = True


@dataclass(frozen=True)
class DatasetRecipe:
    """How many training examples each kind of memory becomes, and what is mixed in."""

    questions_per_fact: int = 12  # a fact about the person, asked this many ways
    questions_per_other_fact: int = 4  # a fact about someone else ("Ana's dog is Rex")
    questions_per_note: int = 2  # a note or transcript
    context_per_fact: int = 2  # the fact asked with it among other memories in the prompt
    # Other memories beside it: none, as the hub gives the model one note by default
    # (memory_context_items).
    context_distractors: int = 0
    general_fraction: float = 0.25  # share of general questions (adapters/data) against drift
    max_held_out_facts: int = 60  # facts with a question kept aside for the gate
    # Conversation turns kept aside for the gate (a tenth of them, at most this many): the gate
    # answers each one twice, so a month of conversations must not make its judging outgrow
    # the job's time budget.
    max_held_out_turns: int = 60


@dataclass(frozen=True)
class GateMargins:
    """How much better and how much worse an adapter may be."""

    personal_min_improvement: float = 0.1  # relative drop of held-out personal loss required
    general_max_regression: float = 0.5  # relative rise of general perplexity allowed
