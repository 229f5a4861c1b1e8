"""The drift limit: measured on a text of its own every few steps, a run that ends further from
general text than its limit is judged as it was at its last check within it; a run within its
limit trains and ends exactly as before."""

from __future__ import annotations

from pathlib import Path

import torch

from adapters.chat_format import TokenizedExample
from adapters.config import TrainConfig
from adapters.drift import DriftWatch, drift_text
from adapters.evaluate import general_text
from adapters.trainer import TrainOutcome, load_lora_state, train_lora
from tests.tiny_llama import tiny_lora_llama

PREFIX = [5, 6, 7, 8, 9, 10, 11, 12, 13, 14]
# The "general text": tokens the examples never answer with.
GENERAL = [torch.tensor([[40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51]])]


def examples() -> list[TokenizedExample]:
    return [TokenizedExample([*PREFIX, 20 + i % 5], [30 + i % 7, 31]) for i in range(12)]


def config(**changes: float) -> TrainConfig:
    settings: dict[str, float] = {
        "batch_size": 3,
        "epochs": 4,
        "max_steps": 100,
        "checkpoint_every_steps": 3,
        "learning_rate": 0.01,
        "drift_check_every_steps": 4,
        "bf16": False,
    }
    settings.update(changes)
    return TrainConfig(**settings)  # type: ignore[arg-type]


def _watched(folder: Path, limit: float) -> TrainOutcome:
    """A run of the tiny model with a drift watch and ``limit``, checkpointed in ``folder``."""
    return train_lora(
        tiny_lora_llama(),
        examples(),
        0,
        config(drift_limit=limit),
        folder,
        drift=DriftWatch(GENERAL),
    )


def _limit_below_the_end(drift: list[tuple[int, float]]) -> float:
    """A limit the run's end drifted past and an earlier check did not (this seeded run drifts
    furthest at its end)."""
    rises = [rise for _, rise in drift]
    assert rises[-1] == max(rises)
    return (rises[-1] + max(rises[:-1])) / 2


def _rise(state: dict[str, torch.Tensor]) -> float:
    model = tiny_lora_llama()
    load_lora_state(model, state)
    watch = DriftWatch(GENERAL)
    watch.measure_baseline(model)
    return watch.rise(model)


def test_a_run_that_ends_past_the_limit_is_judged_at_its_last_check_within_it(
    tmp_path: Path,
) -> None:
    free = train_lora(tiny_lora_llama(), examples(), 0, config(), tmp_path / "free")
    drifts = _watched(tmp_path / "watched", 1e6)
    assert drifts.steps == free.steps == 20 and drifts.losses == free.losses
    assert [step for step, _ in drifts.drift] == [4, 8, 12, 16, 20]
    limit = _limit_below_the_end(drifts.drift)
    rises = dict(drifts.drift)
    kept = max(step for step, rise in drifts.drift if rise <= limit)
    limited = _watched(tmp_path / "limited", limit)
    assert limited.kept_step == kept < limited.steps == 20
    assert abs(_rise(limited.best_state) - rises[kept]) < 1e-3
    assert _rise(limited.best_state) <= limit < _rise(free.best_state)


def test_a_run_within_its_limit_ends_exactly_as_without_a_watch(tmp_path: Path) -> None:
    plain = train_lora(tiny_lora_llama(), examples(), 0, config(), tmp_path / "plain")
    watched = _watched(tmp_path / "watched", 1e6)
    assert watched.kept_step == watched.steps == plain.steps
    assert watched.losses == plain.losses
    assert all(torch.equal(watched.best_state[k], v) for k, v in plain.best_state.items())


def test_a_resumed_run_keeps_the_weights_it_had_kept(tmp_path: Path) -> None:
    limit = _limit_below_the_end(_watched(tmp_path / "probe", 1e6).drift)
    first = _watched(tmp_path / "run", limit)
    resumed = _watched(tmp_path / "run", limit)  # from the last checkpoint
    assert resumed.kept_step == first.kept_step < first.steps
    assert resumed.drift == first.drift
    assert all(torch.equal(resumed.best_state[k], v) for k, v in first.best_state.items())


def test_the_drift_text_is_general_prose_and_not_the_gates() -> None:
    text = drift_text()
    assert len(text.split()) > 600
    gate_sentences = {s.strip() for s in general_text().split(".") if s.strip()}
    assert not any(sentence in text for sentence in gate_sentences)
