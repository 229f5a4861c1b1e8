"""The training loop's exact parts on a tiny random llama: the shared-prefix loss equals the plain
one, the schedule calibrates then keeps what the budget fits, the learning rate anneals."""

from __future__ import annotations

import itertools
import math
import random
from collections import Counter
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch

from adapters import trainer
from adapters.chat_format import TokenizedExample
from adapters.config import TrainConfig
from adapters.schedule import (
    CALIBRATION_STEPS,
    FINAL_LR_FRACTION,
    REPLAN_AFTER_STEPS,
    Plan,
    batch_schedule,
    examples_within_step_budget,
    fit_examples,
    learning_rate,
)
from adapters.trainer import batch_loss, collate, shared_prefix, train_lora
from tests.tiny_llama import tiny_lora_llama

PREFIX = [5, 6, 7, 8, 9, 10, 11, 12, 13, 14]


def tiny_model() -> torch.nn.Module:
    model = tiny_lora_llama()
    for name, parameter in model.named_parameters():
        if "lora_B" in name:  # fresh LoRA is zero: make it matter for the comparison
            torch.nn.init.normal_(parameter, std=0.2)
    return model


def batch() -> list[TokenizedExample]:
    return [
        TokenizedExample([*PREFIX, 20, 21], [30, 31, 32]),
        TokenizedExample([*PREFIX, 22], [33, 34]),
        TokenizedExample([*PREFIX, 23, 24, 25, 26], [35]),
    ]


def gradients(model: torch.nn.Module, loss: torch.Tensor) -> list[torch.Tensor]:
    model.zero_grad()
    loss.backward()
    return [p.grad.clone() for p in model.parameters() if p.requires_grad and p.grad is not None]


def test_the_shared_prefix_loss_and_gradients_equal_the_plain_ones() -> None:
    model = tiny_model()
    assert shared_prefix(batch()) == len(PREFIX)
    plain = model(**collate(batch(), 0)).loss
    fast = batch_loss(model, batch(), 0)
    assert float(fast) == pytest.approx(float(plain), rel=1e-5)
    for left, right in zip(gradients(model, plain), gradients(model, fast), strict=True):
        assert torch.allclose(left, right, atol=1e-5)
    alone = [TokenizedExample([1, 2, 3], [4, 5])]  # nothing shared: the plain path
    assert shared_prefix(alone) == 0
    assert float(batch_loss(model, alone, 0)) == pytest.approx(
        float(model(**collate(alone, 0)).loss), rel=1e-5
    )


def test_the_schedule_calibrates_on_the_leading_examples_then_keeps_what_fits() -> None:
    config = TrainConfig(batch_size=2, epochs=2, max_steps=1000)
    full = batch_schedule([10] * 20, config)
    assert full[:CALIBRATION_STEPS] == [[0, 1], [2, 3], [4, 5], [6, 7]]
    assert len(full) == CALIBRATION_STEPS + 2 * 10
    kept = batch_schedule([10] * 20, config, Plan(kept=6, total=20))
    assert {i for step in kept[CALIBRATION_STEPS:] for i in step} == set(range(6))
    assert fit_examples([10] * 20, epochs=2, affordable_tokens=120) == 6
    assert fit_examples([10] * 20, epochs=2, affordable_tokens=1e9) == 20
    assert fit_examples([10] * 20, epochs=2, affordable_tokens=1) == 1
    assert len(batch_schedule([10] * 20, TrainConfig(batch_size=2, epochs=2, max_steps=5))) == 5


def test_a_step_budget_keeps_the_leading_examples_its_epochs_fit() -> None:
    config = TrainConfig(batch_size=2, epochs=2, max_steps=1000, step_budget=CALIBRATION_STEPS + 6)
    schedule = batch_schedule([10] * 20, config)
    assert len(schedule) == CALIBRATION_STEPS + 6
    assert Counter(i for step in schedule[CALIBRATION_STEPS:] for i in step) == Counter(
        {index: 2 for index in range(6)}
    )
    assert examples_within_step_budget(20, config) == 6
    assert examples_within_step_budget(3, config) == 3
    assert examples_within_step_budget(20, replace(config, step_budget=0)) == 20
    # A time plan keeping fewer than the budget fits is kept as it is.
    timed = batch_schedule([10] * 20, config, Plan(kept=2, total=20))
    assert {i for step in timed[CALIBRATION_STEPS:] for i in step} == {0, 1}


def test_batches_hold_examples_of_about_the_same_length_and_every_example_each_epoch() -> None:
    config = TrainConfig(batch_size=8, epochs=4, max_steps=10_000, step_budget=0)
    lengths = [random.Random(index).choice([20, 25, 30, 60, 90, 120]) for index in range(600)]
    epochs = batch_schedule(lengths, config)[CALIBRATION_STEPS:]
    computed = sum(len(step) * max(lengths[i] for i in step) for step in epochs)
    held = sum(lengths[i] for step in epochs for i in step)
    assert computed < 1.1 * held  # random batches of these lengths pad to about twice
    assert Counter(i for step in epochs for i in step) == Counter(
        {index: config.epochs for index in range(600)}
    )
    first_epoch = [i for step in epochs[:75] for i in step]
    assert first_epoch != sorted(first_epoch, key=lambda i: lengths[i])  # still shuffled


def test_the_learning_rate_warms_up_then_anneals_by_the_end_of_steps_or_time() -> None:
    config = TrainConfig(learning_rate=1e-3)
    rates = [learning_rate(config, step, 100, 0.0) for step in range(100)]
    assert rates[0] < rates[5] == pytest.approx(1e-3)
    assert rates[-1] == pytest.approx(1e-3 * FINAL_LR_FRACTION, rel=0.01)
    assert all(a >= b for a, b in itertools.pairwise(rates[5:]))
    halfway_in_time = learning_rate(config, 20, 100, 1.0)
    assert halfway_in_time == pytest.approx(1e-3 * FINAL_LR_FRACTION)


def test_a_run_trains_resumes_and_ends_annealed(tmp_path: Path) -> None:
    examples = [TokenizedExample([*PREFIX, 20 + i % 5], [30 + i % 7, 31]) for i in range(12)]
    config = TrainConfig(batch_size=3, epochs=2, max_steps=100, checkpoint_every_steps=2)
    first = train_lora(tiny_model(), examples, 0, config, tmp_path, deadline=None)
    assert first.steps == first.total_steps == CALIBRATION_STEPS + 2 * 4
    assert not first.stopped_by_budget and not math.isnan(first.best_loss)
    resumed = train_lora(tiny_model(), examples, 0, config, tmp_path)  # from the last checkpoint
    assert resumed.steps == first.steps and resumed.losses == first.losses


def _run_on_a_clock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, costs: list[float]) -> int:
    """Steps planned by a run whose steps take ``costs`` seconds each on a fake clock (the last
    cost repeats), with a 200-second budget; the model and the loss are real."""
    clock = [0.0]
    step_costs = itertools.chain(costs, itertools.repeat(costs[-1]))
    real_loss = trainer.batch_loss

    def timed_loss(*args: Any) -> torch.Tensor:
        clock[0] += next(step_costs)
        return real_loss(*args)

    monkeypatch.setattr(trainer, "batch_loss", timed_loss)
    monkeypatch.setattr(trainer, "time", SimpleNamespace(monotonic=lambda: clock[0]))
    examples = [TokenizedExample([*PREFIX, 20 + i % 5], [30 + i % 7]) for i in range(200)]
    config = TrainConfig(batch_size=2, epochs=1, max_steps=1000, checkpoint_every_steps=1000)
    outcome = train_lora(tiny_model(), examples, 0, config, tmp_path, deadline=200.0)
    assert outcome.steps == outcome.total_steps and not outcome.stopped_by_budget
    return outcome.total_steps


def test_a_calibration_slowed_by_other_work_is_measured_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow_then_fast = [10.0] * CALIBRATION_STEPS + [1.0]
    # Alone, the slow calibration would plan 13 steps; measured again, every example fits.
    assert _run_on_a_clock(tmp_path / "a", monkeypatch, slow_then_fast) == CALIBRATION_STEPS + 100
    # A machine slow throughout is planned at its own speed: its steps fill the 200 seconds.
    slow = _run_on_a_clock(tmp_path / "b", monkeypatch, [10.0])
    assert CALIBRATION_STEPS + REPLAN_AFTER_STEPS <= slow <= 200.0 / 10.0


def test_a_machine_that_speeds_up_later_is_measured_again_along_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Slow through calibration and the first look after the plan, then ten times faster: one
    # second look planned 38 steps and ended with half the budget unused; looking again every
    # REPLAN_AFTER_STEPS steps, the plan grows with the speed.
    slow_for_a_while = [10.0] * CALIBRATION_STEPS + [4.0] * 20 + [1.0]
    steps = _run_on_a_clock(tmp_path, monkeypatch, slow_for_a_while)
    seconds = sum(itertools.islice(itertools.chain(slow_for_a_while, itertools.repeat(1.0)), steps))
    assert steps > 60 and 0.7 * 200 <= seconds <= 200
