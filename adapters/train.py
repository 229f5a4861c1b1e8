"""The training child process: `python -m adapters.train JOB_DIR`.

Reads job.json and the dataset in JOB_DIR, scores what is served now (its answers to the held-out
personal questions, judged, and its losses), trains a LoRA adapter with a deadline (resuming from
a checkpoint), scores it the same way, applies the gate and writes the adapter (peft weights and a
GGUF LoRA) and result.json. Progress goes to progress.jsonl line by line.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

from adapters.anchor import AnchorText
from adapters.answers import changed_answers
from adapters.base_cache import load_base_cached
from adapters.chat_format import tokenize_example
from adapters.config import TrainConfig
from adapters.dataset import Dataset
from adapters.drift import DriftWatch
from adapters.evaluate import Evaluation, evaluate
from adapters.export_gguf import LoraShape, write_gguf_lora
from adapters.gate import decide
from adapters.job import (
    CHECKPOINT_DIR,
    DATASET_DIR,
    GGUF_FILE,
    LORA_CONFIG_FILE,
    LORA_WEIGHTS_FILE,
    JobSpec,
    append_progress,
    write_result,
)
from adapters.trainer import StepReport, add_lora, load_lora_state, train_lora

logger = logging.getLogger(__name__)

CHILD_NICENESS = 10


def save_lora(folder: Path, state: dict[str, Any], config: TrainConfig) -> None:
    """Write the adapter's peft weights and the settings needed to load them again."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in state.items()}, str(folder / LORA_WEIGHTS_FILE))
    (folder / LORA_CONFIG_FILE).write_text(
        json.dumps({"rank": config.rank, "alpha": config.alpha}) + "\n"
    )


def load_saved_lora(base_model: Any, folder: Path) -> Any:
    """Wrap ``base_model`` with the adapter saved in ``folder``."""
    from safetensors.torch import load_file

    settings = json.loads((folder / LORA_CONFIG_FILE).read_text())
    model = add_lora(base_model, TrainConfig(rank=settings["rank"], alpha=settings["alpha"]))
    load_lora_state(model, load_file(str(folder / LORA_WEIGHTS_FILE)))
    return model


def scored(
    job_dir: Path, what: str, model: Any, tokenizer: Any, dataset: Dataset, max_seq_tokens: int
) -> Evaluation:
    """``evaluate`` with its progress told in progress.jsonl; ``what`` is "current" or
    "candidate"."""
    append_progress(job_dir, "evaluating", what=what)

    def answering(done: int, total: int) -> None:
        append_progress(job_dir, "answering", what=what, answered=done, questions=total)

    return evaluate(model, tokenizer, dataset.held_out, max_seq_tokens, answering)


def run_job(job_dir: Path) -> dict[str, Any]:
    """Run the whole job; returns (and writes) its result."""
    started = time.monotonic()
    spec = JobSpec.read(job_dir)
    config = spec.train
    deadline = started + config.time_budget_seconds
    dataset = Dataset.read(job_dir / DATASET_DIR)
    append_progress(job_dir, "loading", model=spec.model_name)
    cache_dir = Path(spec.base_cache_dir) if spec.base_cache_dir else None
    base = load_base_cached(Path(spec.base_model_path), spec.base_sha256, spec.threads, cache_dir)

    if spec.active_adapter_dir:
        current_model = load_saved_lora(base.model, Path(spec.active_adapter_dir))
        current = scored(
            job_dir, "current", current_model, base.tokenizer, dataset, config.max_seq_tokens
        )
        base.model = current_model.unload()
    else:
        current = scored(
            job_dir, "current", base.model, base.tokenizer, dataset, config.max_seq_tokens
        )

    tokenized = [tokenize_example(base.tokenizer, e, config.max_seq_tokens) for e in dataset.train]
    model = add_lora(base.model, config)

    def report(step: StepReport) -> None:
        append_progress(
            job_dir,
            "step",
            step=step.step,
            total_steps=step.total_steps,
            loss=round(step.loss, 5),
            tokens=step.tokens,
            tokens_per_second=round(step.tokens_per_second, 2),
            elapsed_seconds=round(step.elapsed_seconds, 2),
            eta_seconds=round(step.eta_seconds, 1),
        )

    append_progress(job_dir, "training", examples=len(tokenized))
    outcome = train_lora(
        model,
        tokenized,
        int(base.tokenizer.pad_token_id),
        config,
        job_dir / CHECKPOINT_DIR,
        report,
        deadline,
        lambda step: append_progress(job_dir, "checkpoint", step=step),
        DriftWatch.for_tokenizer(base.tokenizer),
        AnchorText.for_tokenizer(base.tokenizer) if config.anchor_weight > 0 else None,
    )
    load_lora_state(model, outcome.best_state)
    candidate = scored(job_dir, "candidate", model, base.tokenizer, dataset, config.max_seq_tokens)
    decision = decide(candidate.metrics, current.metrics, spec.margins)

    append_progress(job_dir, "exporting")
    save_lora(job_dir / "adapter", outcome.best_state, config)
    shape = LoraShape(base.architecture, base.num_heads, base.num_kv_heads, config.alpha)
    numpy_state = {k: v.float().numpy() for k, v in outcome.best_state.items()}
    write_gguf_lora(job_dir / "adapter" / GGUF_FILE, numpy_state, shape, spec.base_sha256)
    result = {
        "status": "done",
        "candidate": candidate.metrics.to_json(),
        "current": current.metrics.to_json(),
        "answers": changed_answers(current.answers, candidate.answers),
        "decision": decision.to_json(),
        "steps": outcome.steps,
        "total_steps": outcome.total_steps,
        "stopped_by_budget": outcome.stopped_by_budget,
        "best_loss": None if math.isinf(outcome.best_loss) else outcome.best_loss,
        "losses": [round(x, 5) for x in outcome.losses],
        "train_tokens": outcome.tokens,
        "drift": outcome.drift,
        "kept_step": outcome.kept_step,
        "train_seconds": round(outcome.train_seconds, 2),
        "tokens_per_second": round(outcome.tokens / max(outcome.train_seconds, 1e-9), 2),
        "wall_seconds": round(time.monotonic() - started, 2),
        "architecture": base.architecture,
    }
    write_result(job_dir, result)
    append_progress(job_dir, "done", passed=decision.passed)
    return result


def main(argv: list[str] | None = None) -> int:
    """Entry point of the child process."""
    parser = argparse.ArgumentParser(description="Train one personalization adapter.")
    parser.add_argument("job_dir", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # Training yields the CPU to the hub: a chat that arrives mid-run is served first.
    with contextlib.suppress(OSError):
        os.nice(CHILD_NICENESS)
    try:
        run_job(args.job_dir)
    except Exception as exc:
        logger.exception("personalization job failed")
        append_progress(args.job_dir, "error", message=str(exc))
        write_result(args.job_dir, {"status": "failed", "error": str(exc)})
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
