"""The LoRA training loop: peft on the dequantized base, with checkpoints, a deadline and resume."""

from __future__ import annotations

import inspect
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from adapters.anchor import AnchorTargets, AnchorText
from adapters.chat_format import TokenizedExample
from adapters.config import TrainConfig
from adapters.drift import DriftWatch
from adapters.export_gguf import LORA_TARGET_MODULES
from adapters.schedule import (
    REPLAN_AFTER_STEPS,
    REPLAN_MIN_CHANGE,
    Plan,
    batch_schedule,
    calibration_batches,
    examples_within_step_budget,
    learning_rate,
    plan_to_fit,
)
from adapters.word_dropout import drop_question_tokens, step_rng
from memory.durable_files import replace_durably

logger = logging.getLogger(__name__)

CHECKPOINT_FILE = "checkpoint.pt"
# A shared prefix shorter than this is not worth a separate forward pass.
MIN_SHARED_PREFIX = 8


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
    """What training left: the adapter weights the gate is to judge (``best_state``: those at
    the end, or at the last drift check within the limit when the end drifted past it) and how
    it went."""

    best_state: dict[str, torch.Tensor]
    best_loss: float
    steps: int
    total_steps: int
    stopped_by_budget: bool
    losses: list[float] = field(default_factory=list)
    tokens: int = 0
    train_seconds: float = 0.0
    # Each drift check's (step, relative rise of the drift text's perplexity over the base's).
    drift: list[tuple[int, float]] = field(default_factory=list)
    # The step whose weights are kept: the last one within the drift limit (0 is the fresh
    # adapter), or the last step when the run ended within it.
    kept_step: int = 0


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


def shared_prefix(batch: list[TokenizedExample]) -> int:
    """How many leading prompt tokens every example of ``batch`` has in common (each keeps at
    least one prompt token of its own)."""
    if len(batch) < 2:
        return 0
    first = batch[0].prompt_ids
    length = min(len(e.prompt_ids) for e in batch) - 1
    for index in range(max(length, 0)):
        if any(e.prompt_ids[index] != first[index] for e in batch[1:]):
            return index
    return max(length, 0)


def batch_loss(model: Any, batch: list[TokenizedExample], pad_id: int) -> torch.Tensor:
    """Mean answer-token loss of ``batch``, the same as ``model(**collate(batch)).loss`` but
    cheaper for llama models: the chat prefix every example shares (a default system prompt
    is half of a short example) runs once for the whole batch, and the vocabulary projection
    runs only where an answer token is predicted."""
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    if getattr(inner.config, "model_type", "") != "llama":
        return model(**collate(batch, pad_id)).loss  # type: ignore[no-any-return]
    shared = shared_prefix(batch)
    if shared < MIN_SHARED_PREFIX:
        shared = 0
    rows = [TokenizedExample(e.prompt_ids[shared:], e.answer_ids) for e in batch]
    tensors = collate(rows, pad_id)
    ids, mask, labels = tensors["input_ids"], tensors["attention_mask"], tensors["labels"]
    extra: dict[str, Any] = {}
    if shared:
        # transformers renamed past_key_values to cache; take whichever this version has.
        cache_arg = (
            "cache"
            if "cache" in inspect.signature(inner.model.forward).parameters
            else ("past_key_values")
        )
        prefix = inner.model(input_ids=torch.tensor([batch[0].prompt_ids[:shared]]), use_cache=True)
        cache = getattr(prefix, cache_arg)
        for layer in cache.layers:
            layer.keys = layer.keys.expand(len(batch), -1, -1, -1)
            layer.values = layer.values.expand(len(batch), -1, -1, -1)
        positions = torch.arange(shared, shared + ids.shape[1])
        mask = torch.cat([torch.ones((len(batch), shared), dtype=mask.dtype), mask], dim=1)
        extra = {
            cache_arg: cache,
            "use_cache": True,
            "position_ids": positions.expand(len(batch), -1),
            "cache_position": positions,
        }
    hidden = inner.model(input_ids=ids, attention_mask=mask, **extra).last_hidden_state
    targets = labels[:, 1:]
    predicted = targets != -100
    logits = inner.lm_head(hidden[:, :-1][predicted])
    return torch.nn.functional.cross_entropy(logits.float(), targets[predicted])


def save_checkpoint(
    folder: Path,
    model: Any,
    optimizer: torch.optim.Optimizer,
    outcome: TrainOutcome,
    plan: Plan | None = None,
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
            "kept_step": outcome.kept_step,
            "drift": outcome.drift,
            "best_loss": outcome.best_loss,
            "losses": outcome.losses,
            "tokens": outcome.tokens,
            "train_seconds": outcome.train_seconds,
            "plan_kept": -1 if plan is None else plan.kept,
        },
        partial,
    )
    replace_durably(partial, folder / CHECKPOINT_FILE)


def native_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (else it is emulated, slower than float32)."""
    check = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    return bool(check()) if check is not None else False


def _frozen_to(model: Any, dtype: torch.dtype) -> None:
    """Cast the frozen base weights to ``dtype``; the adapter's own weights stay float32."""
    for parameter in model.parameters():
        if not parameter.requires_grad and parameter.is_floating_point():
            parameter.data = parameter.data.to(dtype)


@dataclass(frozen=True)
class _SpeedCheck:
    """When to measure the training speed again, and what the plan was made from."""

    at_step: int = -1  # never
    tokens: int = 0  # trained when the first plan was made
    seconds: float = 0.0
    first_speed: float = math.inf  # seconds per token during calibration

    def speed_since(self, outcome: TrainOutcome) -> float:
        """Seconds per token since the first plan was made."""
        return (outcome.train_seconds - self.seconds) / max(outcome.tokens - self.tokens, 1)

    def next(self) -> _SpeedCheck:
        """The same check, REPLAN_AFTER_STEPS steps later."""
        return replace(self, at_step=self.at_step + REPLAN_AFTER_STEPS)


def _check_drift(model: Any, drift: DriftWatch, config: TrainConfig, outcome: TrainOutcome) -> bool:
    """Measure the drift now; keep the weights when it is within the limit. Returns whether it
    is."""
    rise = drift.rise(model)
    outcome.drift.append((outcome.steps, round(rise, 4)))
    within = rise <= config.drift_limit
    if within:
        outcome.best_state = lora_state(model)
        outcome.kept_step = outcome.steps
    logger.info(
        "step %d: the general text's perplexity is %+.0f%% from the base model's%s",
        outcome.steps,
        100 * rise,
        "" if within else f", past the limit of {100 * config.drift_limit:+.0f}%",
    )
    return within


def _ended_within_limit(
    model: Any, drift: DriftWatch, config: TrainConfig, outcome: TrainOutcome
) -> bool:
    """Whether the run ends within the drift limit (measured now unless this step just was)."""
    if outcome.drift and outcome.drift[-1][0] == outcome.steps:
        return outcome.drift[-1][1] <= config.drift_limit
    return _check_drift(model, drift, config, outcome)


def _time_fraction(trained: float, deadline: float | None) -> float:
    """How much of the time budget training has used (0 without a deadline)."""
    if deadline is None:
        return 0.0
    left = max(deadline - time.monotonic(), 0.0)
    return trained / max(trained + left, 1e-9)


def train_lora(
    model: Any,
    examples: list[TokenizedExample],
    pad_id: int,
    config: TrainConfig,
    checkpoint_dir: Path,
    on_step: Callable[[StepReport], None] = lambda report: None,
    deadline: float | None = None,
    on_checkpoint: Callable[[int], None] = lambda step: None,
    drift: DriftWatch | None = None,
    anchor: AnchorText | None = None,
) -> TrainOutcome:
    """Train on ``examples`` (most important first), resuming from a checkpoint in
    ``checkpoint_dir`` when there is one. After a few calibration steps the epochs are fitted
    to the time left before the deadline (monotonic time): a big dataset keeps its leading
    examples. Returns the weights as they are at the end (the learning rate has decayed by then)
    for the gate to judge; with a ``drift`` watch, a run that ends further from general text
    than ``config.drift_limit`` returns those of its last check within the limit instead. With
    an ``anchor``, each step is also held to the base model on its general text
    (adapters/anchor.py, weighted by ``config.anchor_weight``)."""
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(parameters, lr=config.learning_rate, weight_decay=0.0)
    plan: Plan | None = None
    outcome = TrainOutcome(lora_state(model), math.inf, 0, 0, False)
    saved = checkpoint_dir / CHECKPOINT_FILE
    if saved.exists():
        state = torch.load(saved, weights_only=True)
        load_lora_state(model, state["lora"])
        optimizer.load_state_dict(state["optimizer"])
        outcome.steps = int(state["step"])
        outcome.losses = [float(x) for x in state["losses"]]
        outcome.tokens = int(state["tokens"])
        outcome.train_seconds = float(state["train_seconds"])
        outcome.best_state = dict(state.get("best") or outcome.best_state)
        outcome.kept_step = int(state.get("kept_step", 0))
        outcome.drift = [(int(s), float(r)) for s, r in state.get("drift", [])]
        if int(state.get("plan_kept", -1)) > 0:
            plan = Plan(int(state["plan_kept"]), len(examples))
        logger.info("resuming training at step %d", outcome.steps)
    lengths = [e.length for e in examples]
    schedule = batch_schedule(lengths, config, plan)
    calibration = len(calibration_batches(len(examples), config))
    budgeted = examples_within_step_budget(len(examples), config)
    if budgeted < len(examples):
        logger.info(
            "the step budget (%d steps) fits %d of %d examples",
            config.step_budget,
            budgeted,
            len(examples),
        )
    half = config.bf16 and native_bf16()
    if half:
        _frozen_to(model, torch.bfloat16)
    if drift is not None:
        drift.measure_baseline(model)
    targets = AnchorTargets(anchor) if anchor is not None and config.anchor_weight > 0 else None
    if targets is not None:
        targets.prepare(model)
    every = config.drift_check_every_steps
    model.train()
    smoothed = outcome.losses[-1] if outcome.losses else math.nan
    started = time.monotonic() - outcome.train_seconds
    step = outcome.steps
    speed_check = _SpeedCheck()  # a resumed run keeps its plan
    while step < len(schedule):
        if deadline is not None and time.monotonic() >= deadline:
            outcome.stopped_by_budget = True
            break
        if plan is None and step >= calibration and step < len(schedule):
            seconds_left = math.inf if deadline is None else deadline - time.monotonic()
            per_token = outcome.train_seconds / max(outcome.tokens, 1)
            plan = plan_to_fit(lengths, config, per_token, seconds_left)
            schedule = batch_schedule(lengths, config, plan)
            speed_check = _SpeedCheck(
                step + REPLAN_AFTER_STEPS, outcome.tokens, outcome.train_seconds, per_token
            )
            if plan.kept < plan.total:
                logger.info("the time budget fits %d of %d examples", plan.kept, plan.total)
            continue
        if step == speed_check.at_step and deadline is not None:
            per_token = min(speed_check.first_speed, speed_check.speed_since(outcome))
            kept_before = plan.kept if plan is not None else len(examples)
            replanned = plan_to_fit(
                lengths,
                config,
                per_token,
                deadline - time.monotonic(),
                outcome.tokens - speed_check.tokens,
            )
            speed_check = speed_check.next()
            if abs(replanned.kept - kept_before) > REPLAN_MIN_CHANGE * kept_before:
                plan = replanned
                schedule = batch_schedule(lengths, config, plan)
                logger.info(
                    "measured again: the time budget fits %d of %d examples (planned %d)",
                    plan.kept,
                    plan.total,
                    kept_before,
                )
            continue
        rate = learning_rate(
            config, step, len(schedule), _time_fraction(outcome.train_seconds, deadline)
        )
        for group in optimizer.param_groups:
            group["lr"] = rate
        rng = step_rng(config.seed, step)
        rows = [drop_question_tokens(examples[i], config.word_dropout, rng) for i in schedule[step]]
        loss = batch_loss(model, rows, pad_id)
        if targets is not None:
            loss = loss + config.anchor_weight * targets.divergence(model, step)
        loss.backward()  # type: ignore[no-untyped-call]
        torch.nn.utils.clip_grad_norm_(parameters, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        value = float(loss.detach())
        smoothed = value if math.isnan(smoothed) else 0.7 * smoothed + 0.3 * value
        step += 1
        outcome.steps = step
        outcome.losses.append(value)
        outcome.tokens += sum(row.length for row in rows)
        outcome.train_seconds = time.monotonic() - started
        per_step = outcome.train_seconds / max(outcome.steps, 1)
        on_step(
            StepReport(
                step=outcome.steps,
                total_steps=len(schedule),
                loss=value,
                tokens=outcome.tokens,
                elapsed_seconds=outcome.train_seconds,
                tokens_per_second=outcome.tokens / max(outcome.train_seconds, 1e-9),
                eta_seconds=per_step * (len(schedule) - outcome.steps),
            )
        )
        if drift is not None and every > 0 and outcome.steps % every == 0:
            _check_drift(model, drift, config, outcome)
        if outcome.steps % config.checkpoint_every_steps == 0 or outcome.steps == len(schedule):
            save_checkpoint(checkpoint_dir, model, optimizer, outcome, plan)
            on_checkpoint(outcome.steps)
    if drift is not None and not _ended_within_limit(model, drift, config, outcome):
        logger.info("drifted past the limit: the weights of step %d are judged", outcome.kept_step)
    else:
        outcome.best_state = lora_state(model)
        outcome.kept_step = outcome.steps
    if half:
        # Back to float32 for evaluation: the base weights come back rounded to bfloat16's 8
        # bits, far finer than the 4-bit quantization the hub serves them with.
        _frozen_to(model, torch.float32)
    outcome.total_steps = len(schedule)
    outcome.best_loss = smoothed
    model.eval()
    return outcome
