"""The LoRA training loop: peft on the dequantized base, with checkpoints, a deadline and resume."""

from __future__ import annotations

import logging
import math
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from adapters.chat_format import TokenizedExample
from adapters.config import TrainConfig
from adapters.export_gguf import LORA_TARGET_MODULES

logger = logging.getLogger(__name__)

CHECKPOINT_FILE = "checkpoint.pt"


@dataclass
class StepReport:
    """Progress after one optimizer step."""

    step: int
    total_steps: int
    loss: float
    tokens: int
    elapsed_seconds: float
    tokens_per_second: float
    eta_seconds: float


@dataclass
class TrainOutcome:
    """What training left: the best adapter weights and how it went."""

    best_state: dict[str, torch.Tensor]
    best_loss: float
    steps: int
    total_steps: int
    stopped_by_budget: bool
    losses: list[float] = field(default_factory=list)
    tokens: int = 0
    train_seconds: float = 0.0


def add_lora(base_model: Any, config: TrainConfig) -> Any:
    """Wrap the base model with fresh, seeded LoRA layers on every projection."""
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(config.seed)
    lora = LoraConfig(
        r=config.rank,
        lora_alpha=config.alpha,
        lora_dropout=0.0,
        target_modules=list(LORA_TARGET_MODULES),
        bias="none",
        task_type="CAUSAL_LM",
    )
    return get_peft_model(base_model, lora)


def lora_state(model: Any) -> dict[str, torch.Tensor]:
    """A detached copy of the adapter's weights (peft names, adapter name left out)."""
    from peft import get_peft_model_state_dict

    state: dict[str, torch.Tensor] = get_peft_model_state_dict(model)
    return {name: value.detach().clone() for name, value in state.items()}


def load_lora_state(model: Any, state: dict[str, torch.Tensor]) -> None:
    """Put adapter weights (as ``lora_state`` returned them) back into the model."""
    from peft import set_peft_model_state_dict

    set_peft_model_state_dict(model, state)


def collate(batch: list[TokenizedExample], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-padded input ids, attention mask and labels (-100 on prompt and padding)."""
    width = max(example.length for example in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    labels = torch.full((len(batch), width), -100, dtype=torch.long)
    for row, example in enumerate(batch):
        tokens = example.prompt_ids + example.answer_ids
        ids[row, : len(tokens)] = torch.tensor(tokens)
        mask[row, : len(tokens)] = 1
        start = len(example.prompt_ids)
        labels[row, start : len(tokens)] = torch.tensor(example.answer_ids)
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def batch_schedule(count: int, config: TrainConfig) -> list[list[int]]:
    """Example indices for every step: shuffled per epoch with the seed, capped at max_steps."""
    rng = random.Random(config.seed)
    steps: list[list[int]] = []
    for _ in range(config.epochs):
        order = list(range(count))
        rng.shuffle(order)
        steps.extend(
            order[start : start + config.batch_size] for start in range(0, count, config.batch_size)
        )
    return steps[: config.max_steps]


def save_checkpoint(
    folder: Path, model: Any, optimizer: torch.optim.Optimizer, outcome: TrainOutcome
) -> None:
    """Write the training state atomically, so a kill never leaves half a checkpoint."""
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / (CHECKPOINT_FILE + ".partial")
    torch.save(
        {
            "step": outcome.steps,
            "lora": lora_state(model),
            "optimizer": optimizer.state_dict(),
            "best": outcome.best_state,
            "best_loss": outcome.best_loss,
            "losses": outcome.losses,
            "tokens": outcome.tokens,
            "train_seconds": outcome.train_seconds,
        },
        partial,
    )
    os.replace(partial, folder / CHECKPOINT_FILE)


def train_lora(
    model: Any,
    examples: list[TokenizedExample],
    pad_id: int,
    config: TrainConfig,
    checkpoint_dir: Path,
    on_step: Callable[[StepReport], None] = lambda report: None,
    deadline: float | None = None,
    on_checkpoint: Callable[[int], None] = lambda step: None,
) -> TrainOutcome:
    """Train until the schedule ends or the deadline (monotonic time) passes, resuming from a
    checkpoint in ``checkpoint_dir`` when there is one; returns the best weights seen."""
    schedule = batch_schedule(len(examples), config)
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(parameters, lr=config.learning_rate, weight_decay=0.0)
    outcome = TrainOutcome(lora_state(model), math.inf, 0, len(schedule), False)
    saved = checkpoint_dir / CHECKPOINT_FILE
    if saved.exists():
        state = torch.load(saved, weights_only=True)
        load_lora_state(model, state["lora"])
        optimizer.load_state_dict(state["optimizer"])
        outcome.best_state = state["best"]
        outcome.best_loss = float(state["best_loss"])
        outcome.steps = int(state["step"])
        outcome.losses = [float(x) for x in state["losses"]]
        outcome.tokens = int(state["tokens"])
        outcome.train_seconds = float(state["train_seconds"])
        logger.info("resuming training at step %d of %d", outcome.steps, len(schedule))
    model.train()
    smoothed = outcome.losses[-1] if outcome.losses else math.nan
    started = time.monotonic() - outcome.train_seconds
    for step in range(outcome.steps, len(schedule)):
        if deadline is not None and time.monotonic() >= deadline:
            outcome.stopped_by_budget = True
            break
        batch = collate([examples[i] for i in schedule[step]], pad_id)
        loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        value = float(loss.detach())
        smoothed = value if math.isnan(smoothed) else 0.7 * smoothed + 0.3 * value
        outcome.steps = step + 1
        outcome.losses.append(value)
        outcome.tokens += int(batch["attention_mask"].sum())
        outcome.train_seconds = time.monotonic() - started
        rate = outcome.tokens / max(outcome.train_seconds, 1e-9)
        per_step = outcome.train_seconds / max(outcome.steps, 1)
        on_step(
            StepReport(
                step=outcome.steps,
                total_steps=len(schedule),
                loss=value,
                tokens=outcome.tokens,
                elapsed_seconds=outcome.train_seconds,
                tokens_per_second=rate,
                eta_seconds=per_step * (len(schedule) - outcome.steps),
            )
        )
        at_checkpoint = outcome.steps % config.checkpoint_every_steps == 0
        if at_checkpoint or outcome.steps == len(schedule):
            if smoothed <= outcome.best_loss:
                outcome.best_loss = smoothed
                outcome.best_state = lora_state(model)
            save_checkpoint(checkpoint_dir, model, optimizer, outcome)
            on_checkpoint(outcome.steps)
    if math.isinf(outcome.best_loss) or (
        not outcome.stopped_by_budget and smoothed <= outcome.best_loss
    ):
        outcome.best_state = lora_state(model)
        outcome.best_loss = smoothed
    model.eval()
    return outcome
