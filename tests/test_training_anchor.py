"""The anchor: each step holds the adapter to the base model on general text (KL divergence),
so a run moves the model's distribution on that text far less than one without it, and a
weight of 0 changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import adapters.anchor
from adapters.anchor import (
    AnchorTargets,
    AnchorText,
    anchor_text,
    base_targets,
    kl_to_base,
    kl_to_targets,
)
from adapters.drift import drift_text
from adapters.evaluate import general_text
from adapters.trainer import load_lora_state, train_lora
from tests.test_training_drift import config, examples
from tests.tiny_llama import tiny_lora_llama

# General text of the tiny model's own: tokens the examples never answer with.
ANCHOR = AnchorText([torch.tensor([[40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51]])])


def _divergence(state: dict[str, torch.Tensor]) -> float:
    model = tiny_lora_llama()
    load_lora_state(model, state)
    with torch.no_grad():
        return float(kl_to_base(model, ANCHOR.chunk(0)))


def test_the_divergence_is_zero_for_a_fresh_adapter_and_grows_as_it_moves() -> None:
    model = tiny_lora_llama()  # LoRA's B starts at zero: the adapted model is the base model
    assert float(kl_to_base(model, ANCHOR.chunk(0))) == pytest.approx(0.0, abs=1e-7)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "lora_B" in name:
                parameter.add_(0.5)
    moved = kl_to_base(model, ANCHOR.chunk(0))
    assert float(moved) > 1e-3
    moved.backward()  # type: ignore[no-untyped-call]
    trained = [p for n, p in model.named_parameters() if "lora_" in n]
    frozen = [p for n, p in model.named_parameters() if "lora_" not in n]
    assert all(p.grad is not None for p in trained)
    assert all(p.grad is None for p in frozen)


def _moved(model: torch.nn.Module) -> torch.nn.Module:
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "lora_B" in name:
                parameter.add_(0.5)
    return model


def test_the_kept_base_side_gives_the_same_divergence_with_every_token_kept() -> None:
    model, tokens = tiny_lora_llama(), ANCHOR.chunk(0)
    targets = base_targets(model, tokens, top_tokens=64)  # the tiny model's whole vocabulary
    assert float(kl_to_targets(model, tokens, targets)) == pytest.approx(0.0, abs=1e-6)
    _moved(model)
    full = float(kl_to_base(model, tokens))
    assert float(kl_to_targets(model, tokens, targets)) == pytest.approx(full, rel=1e-4)


def test_with_a_few_tokens_kept_it_still_grows_as_the_adapter_moves_and_carries_gradients() -> None:
    model, tokens = tiny_lora_llama(), ANCHOR.chunk(0)
    targets = base_targets(model, tokens, top_tokens=8)
    assert float(kl_to_targets(model, tokens, targets)) == pytest.approx(0.0, abs=1e-6)
    moved = kl_to_targets(_moved(model), tokens, targets)
    # Everything outside the kept tokens as one outcome: never more than the whole divergence.
    assert 1e-4 < float(moved) <= float(kl_to_base(model, tokens)) + 1e-6
    moved.backward()  # type: ignore[no-untyped-call]
    assert all(p.grad is not None for n, p in model.named_parameters() if "lora_" in n)


def test_the_base_side_of_each_chunk_is_computed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    compute = adapters.anchor.base_targets

    def counted(model: torch.nn.Module, tokens: torch.Tensor, top: int) -> object:
        calls.append(int(tokens[0, 0]))
        return compute(model, tokens, top)

    monkeypatch.setattr(adapters.anchor, "base_targets", counted)
    two = AnchorText([torch.tensor([[1, 2, 3, 4]]), torch.tensor([[5, 6, 7, 8]])])
    targets, model = AnchorTargets(two), tiny_lora_llama()
    for step in range(6):
        targets.divergence(model, step)
    assert calls == [1, 5]
    prepared = AnchorTargets(two)
    prepared.prepare(model)  # before training: its first steps run as fast as the rest
    assert calls == [1, 5, 1, 5]
    for step in range(4):
        prepared.divergence(model, step)
    assert calls == [1, 5, 1, 5]


def test_an_anchored_run_moves_general_text_far_less(tmp_path: Path) -> None:
    free = train_lora(tiny_lora_llama(), examples(), 0, config(), tmp_path / "free")
    held = train_lora(
        tiny_lora_llama(),
        examples(),
        0,
        config(anchor_weight=5.0),
        tmp_path / "held",
        anchor=ANCHOR,
    )
    assert held.steps == free.steps == 20
    assert _divergence(held.best_state) < 0.5 * _divergence(free.best_state)
    assert held.losses[-1] < held.losses[0]  # it still learns its examples


def test_a_weight_of_zero_trains_exactly_as_without_an_anchor(tmp_path: Path) -> None:
    plain = train_lora(tiny_lora_llama(), examples(), 0, config(), tmp_path / "plain")
    zero = train_lora(
        tiny_lora_llama(),
        examples(),
        0,
        config(anchor_weight=0.0),
        tmp_path / "zero",
        anchor=ANCHOR,
    )
    assert zero.losses == plain.losses
    assert all(torch.equal(zero.best_state[k], v) for k, v in plain.best_state.items())


def test_the_anchor_text_is_neither_the_drift_text_nor_the_gates() -> None:
    text = anchor_text()
    assert len(text.split()) > 1000
    for other in (drift_text(), general_text()):
        sentences = {s.strip() for s in other.split(".") if len(s.strip()) > 20}
        assert not any(sentence in text for sentence in sentences)
