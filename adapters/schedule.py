"""What a run trains on, step by step, and at what learning rate, within its time budget.

The dataset lists examples most important first (every memory's first question, then every
memory's second, ...). A run first trains a few steps on the leading examples to measure its
speed on this machine, then keeps as many leading examples as its epochs fit in the time left, and
no more than they fit in the step budget (a fast machine plans no further than a run can go
before it drifts): a month of data is trained on its most important part rather than cut off
mid-epoch. The
learning rate warms up, then decays along a cosine to a tenth by the planned end (or by the
deadline, whichever comes first), so a run stopped by its budget still ends annealed.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from adapters.config import TrainConfig

CALIBRATION_STEPS = 4
# Every this many steps after the plan the speed is measured again (since the plan), and the
# plan made again at the faster of that and the calibration's speed: other work on the machine
# during calibration or the first minutes must not cut a night's training to a third (a plan of
# 48 steps once ended at 5.7 of 12 minutes); the deadline still ends a plan that was too hopeful.
REPLAN_AFTER_STEPS = 12
# A new plan is taken only when it keeps this share of examples more or fewer: each new plan
# shuffles the epochs anew.
REPLAN_MIN_CHANGE = 0.05
# Share of the time left that the plan fills; the rest absorbs a machine that slows down and
# leaves room for evaluating and exporting the adapter.
PLAN_FILL = 0.8
# Each epoch's shuffled examples are cut into runs of this many batches, each run sorted by
# length before it is cut into batches (the batches then shuffled again): a batch is padded to
# its longest example, and random batches of short cue questions beside long notes computed
# about 40% more tokens than they held (ngaire's run); sorted runs of 16 batches, about 6%.
BATCHES_PER_RUN = 16
WARMUP_FRACTION = 0.06
FINAL_LR_FRACTION = 0.1


@dataclass(frozen=True)
class Plan:
    """How many leading examples the epochs go over (all of them unless the budget says less)."""

    kept: int
    total: int


def _batches_of_like_length(
    order: list[int], lengths: list[int], size: int, rng: random.Random
) -> list[list[int]]:
    """Cut ``order`` into batches of ``size`` examples of about the same length, in random order."""
    run = size * BATCHES_PER_RUN
    batches: list[list[int]] = []
    for start in range(0, len(order), run):
        part = sorted(order[start : start + run], key=lambda index: lengths[index])
        batches += [part[i : i + size] for i in range(0, len(part), size)]
    rng.shuffle(batches)
    return batches


def _epoch_batches(
    indices: list[int], lengths: list[int], config: TrainConfig, rng: random.Random
) -> list[list[int]]:
    steps: list[list[int]] = []
    for _ in range(config.epochs):
        order = list(indices)
        rng.shuffle(order)
        steps += _batches_of_like_length(order, lengths, config.batch_size, rng)
    return steps


def calibration_batches(count: int, config: TrainConfig) -> list[list[int]]:
    """The first steps: the leading (most important) examples, in order."""
    size = config.batch_size
    return [
        list(range(start, min(start + size, count)))
        for start in range(0, min(count, CALIBRATION_STEPS * size), size)
    ]


def batch_schedule(
    lengths: list[int], config: TrainConfig, plan: Plan | None = None
) -> list[list[int]]:
    """Example indices for every step: the calibration steps, then ``config.epochs`` shuffled
    passes over the plan's leading examples (all by default, at most those the step budget
    fits), each batch of examples of about the same ``lengths``, capped at ``max_steps``."""
    count = len(lengths)
    kept = count if plan is None else min(plan.kept, count)
    steps = calibration_batches(count, config)
    kept = min(kept, examples_within_step_budget(count, config))
    steps += _epoch_batches(list(range(kept)), lengths, config, random.Random(config.seed))
    return steps[: config.max_steps]


def examples_within_step_budget(count: int, config: TrainConfig) -> int:
    """How many of ``count`` leading examples the epochs go over within ``config.step_budget``
    steps after calibration (all of them without a budget)."""
    if config.step_budget <= 0:
        return count
    room = max(config.step_budget - len(calibration_batches(count, config)), 1)
    return min(count, max(room * config.batch_size // max(config.epochs, 1), 1))


def fit_examples(lengths: list[int], epochs: int, affordable_tokens: float) -> int:
    """How many leading examples fit ``epochs`` passes in ``affordable_tokens`` (at least one)."""
    used = 0.0
    for index, length in enumerate(lengths):
        used += length * epochs
        if used > affordable_tokens:
            return max(index, 1)
    return len(lengths)


def plan_to_fit(
    lengths: list[int],
    config: TrainConfig,
    seconds_per_token: float,
    seconds_left: float,
    tokens_done: int = 0,
) -> Plan:
    """Keep the leading examples whose epochs fit in the time left at the measured speed, on
    top of the ``tokens_done`` already trained on under an earlier plan."""
    affordable = tokens_done + PLAN_FILL * seconds_left / max(seconds_per_token, 1e-9)
    return Plan(fit_examples(lengths, config.epochs, affordable), len(lengths))


def learning_rate(config: TrainConfig, step: int, total_steps: int, time_fraction: float) -> float:
    """Warm-up, then cosine decay to FINAL_LR_FRACTION of the peak by the end of the steps or
    of the time budget, whichever is nearer."""
    warmup = max(1, round(WARMUP_FRACTION * total_steps))
    if step < warmup:
        return config.learning_rate * (step + 1) / warmup
    progress = min(1.0, max((step - warmup) / max(1, total_steps - warmup), time_fraction))
    cosine = 0.5 * (1 + math.cos(math.pi * progress))
    return config.learning_rate * (FINAL_LR_FRACTION + (1 - FINAL_LR_FRACTION) * cosine)
