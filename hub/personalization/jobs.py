"""One personalization run, step by step: plan (collect, curate, decide), train in a child
process, then register, gate and promote. Used by the hub's service and by the CLI alone."""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adapters.base_model import file_sha256
from adapters.config import DatasetRecipe, GateMargins, TrainConfig, drift_limit_for
from adapters.dataset import Dataset, build_dataset
from adapters.examples import PersonInputs
from adapters.job import CHECKPOINT_DIR, DATASET_DIR, JobSpec, read_result, write_result
from adapters.registry import AdapterRegistry, AdapterVersion
from hub.personalization.collect import collect_inputs, count_new
from hub.personalization.context_prompts import training_context
from hub.settings import Settings
from memory.durable_files import write_atomically
from memory.sqlite_database import LockedDatabase

logger = logging.getLogger(__name__)

ADAPTERS_DIR_NAME = "adapters"
HASH_CACHE_FILE = "base_hashes.json"
# Under the data directory; hub/backup leaves the cache folder out.
BASE_CACHE_FOLDER = Path("cache") / "base-models"
CHILD_LOG_FILE = "child.log"


def registry_for(data_dir: Path) -> AdapterRegistry:
    """The adapter registry of a data directory."""
    return AdapterRegistry(data_dir / ADAPTERS_DIR_NAME)


def base_sha256(registry: AdapterRegistry, model_path: Path) -> str:
    """The model file's sha256, cached by path, size and modification time."""
    cache_path = registry.root / HASH_CACHE_FILE
    stat = model_path.stat()
    key = f"{model_path}:{stat.st_size}:{stat.st_mtime_ns}"
    try:
        cache: dict[str, str] = json.loads(cache_path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        cache = {}
    if key not in cache:
        cache = {k: v for k, v in cache.items() if not k.startswith(f"{model_path}:")}
        cache[key] = file_sha256(model_path)
        registry.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_atomically(cache_path, json.dumps(cache, indent=2) + "\n")
    return cache[key]


def train_config(settings: Settings) -> TrainConfig:
    """Training settings from the hub's settings."""
    return TrainConfig(
        rank=settings.personalize_rank,
        alpha=2 * settings.personalize_rank,
        learning_rate=settings.personalize_learning_rate,
        epochs=settings.personalize_epochs,
        batch_size=settings.personalize_batch_size,
        max_steps=settings.personalize_max_steps,
        step_budget=settings.personalize_step_budget,
        time_budget_seconds=settings.personalize_time_budget_minutes * 60,
        checkpoint_every_steps=settings.personalize_checkpoint_steps,
        drift_limit=drift_limit_for(settings.personalize_general_margin),
        anchor_weight=settings.personalize_anchor_weight,
        word_dropout=settings.personalize_word_dropout,
    )


def gate_margins(settings: Settings) -> GateMargins:
    """Gate margins from the hub's settings (the gate judges personal answers by counting them:
    one more right answer is needed, with no setting; see adapters/gate.py)."""
    return GateMargins(general_max_regression=settings.personalize_general_margin)


@dataclass
class RunPlan:
    """What a run will do, or why it will not run."""

    job_dir: Path | None
    dataset: Dataset | None
    collected_at: float
    new_items: int
    resumed: bool = False
    skipped: str | None = None


def dataset_recipe(settings: Settings) -> DatasetRecipe:
    """How the person's data becomes examples, from the hub's settings."""
    return DatasetRecipe(questions_per_fact=settings.personalize_questions_per_fact)


def curate(settings: Settings, inputs: PersonInputs) -> Dataset:
    """The dataset of ``inputs``: facts asked many ways, also among other memories shown the
    way the hub shows them when retrieval is on."""
    return build_dataset(
        inputs,
        scrub=settings.personalize_scrub_pii,
        recipe=dataset_recipe(settings),
        context=training_context,
    )


def build_current_dataset(settings: Settings, conversations: LockedDatabase) -> Dataset:
    """The dataset a run would train on now (for `hub personalize dataset --show`)."""
    return curate(settings, collect_inputs(conversations, settings.data_dir))


def plan_run(
    settings: Settings,
    conversations: LockedDatabase,
    model_name: str,
    model_path: Path,
    force: bool,
    train: TrainConfig | None = None,
    inputs: PersonInputs | None = None,
) -> RunPlan:
    """Collect (unless given) and curate the data and prepare a job folder (or resume a
    killed job)."""
    registry = registry_for(settings.data_dir)
    collected_at = time.time()
    if inputs is None:
        inputs = collect_inputs(conversations, settings.data_dir)
    since = float(registry.read_state().get("data_watermark", 0.0))
    new_items = count_new(inputs, since)
    if not force and new_items < settings.personalize_min_new_examples:
        return RunPlan(
            None,
            None,
            collected_at,
            new_items,
            skipped=f"only {new_items} new conversations or memories since the last run "
            f"(needs {settings.personalize_min_new_examples}; `hub personalize run --force`)",
        )
    dataset = curate(settings, inputs)
    if not dataset.train:
        return RunPlan(None, dataset, collected_at, new_items, skipped="there is nothing to learn")
    sha = base_sha256(registry, model_path)
    active = registry.active(sha)
    spec = JobSpec(
        base_model_path=str(model_path),
        base_sha256=sha,
        model_name=model_name,
        threads=settings.personalize_threads,
        active_adapter_dir=str(registry.lora_dir(active.id)) if active else None,
        base_cache_dir=str(base_cache_dir(settings)),
        train=train or train_config(settings),
        margins=gate_margins(settings),
    )
    unfinished = registry.unfinished_job()
    if unfinished is not None:
        try:
            same_spec = JobSpec.read(unfinished) == spec
            same_data = Dataset.read(unfinished / DATASET_DIR).summary.sha256 == (
                dataset.summary.sha256
            )
        except (OSError, ValueError, KeyError, TypeError):
            same_spec = same_data = False
        if same_spec and same_data:
            return RunPlan(unfinished, dataset, collected_at, new_items, resumed=True)
        write_result(unfinished, {"status": "abandoned", "error": "superseded by a newer run"})
    job_dir = registry.new_job_dir()
    dataset.write(job_dir / DATASET_DIR)
    spec.write(job_dir)
    return RunPlan(job_dir, dataset, collected_at, new_items)


def base_cache_dir(settings: Settings) -> Path:
    """Where the training child keeps its de-quantized copy of the base model."""
    return settings.personalize_base_cache_dir or settings.data_dir / BASE_CACHE_FOLDER


def cue_cache_dir(settings: Settings) -> Path:
    """Where runs keep the cue vocabulary's vectors, beside the base model copies (by default
    cache/cue-words in the data directory, left out of backups as the rest of cache/)."""
    return base_cache_dir(settings).parent / "cue-words"


def child_command(job_dir: Path) -> list[str]:
    """The training child's command line."""
    return [sys.executable, "-m", "adapters.train", str(job_dir)]


def child_environment(threads: int) -> dict[str, str]:
    """The child's environment: offline, and torch's thread pools sized to the setting."""
    return {
        **os.environ,
        "OMP_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
        # Idle threads sleep instead of spinning: with another process on one of 2 cores,
        # spinning threads made training 10 times slower (14 against 82 tokens/s, measured).
        "OMP_WAIT_POLICY": "PASSIVE",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TQDM_DISABLE": "1",
        "PYTHONUNBUFFERED": "1",
    }


@dataclass
class RunOutcome:
    """How a run ended."""

    status: str  # "promoted", "rejected", "failed", "killed", "skipped"
    message: str
    version: AdapterVersion | None = None
    details: dict[str, Any] = field(default_factory=dict)


def finish_run(settings: Settings, plan: RunPlan, exit_code: int | None) -> RunOutcome:
    """Register the trained adapter, promote it if it passed the gate, and record the run."""
    assert plan.job_dir is not None
    registry = registry_for(settings.data_dir)
    result = read_result(plan.job_dir)
    if result is None:
        # Killed mid-run: leave the job and its checkpoint for the next run to resume.
        outcome = RunOutcome(
            "killed",
            f"training stopped before it finished (exit code {exit_code}); the next "
            "run resumes from the last checkpoint",
        )
    elif result.get("status") != "done":
        outcome = RunOutcome("failed", str(result.get("error", "training failed")))
    else:
        version = registry.register(plan.job_dir)
        if version.passed_gate:
            registry.promote(version.id)
            reasons = version.decision.get("reasons") or [""]
            outcome = RunOutcome(
                "promoted",
                f"adapter {version.id} passed the gate and is active"
                + (f": it {reasons[0]}" if reasons[0].startswith("answers") else ""),
            )
        else:
            reasons = "; ".join(version.decision.get("reasons", []))
            outcome = RunOutcome("rejected", f"adapter {version.id} was rejected: {reasons}")
        outcome.version = version
        shutil.rmtree(plan.job_dir / CHECKPOINT_DIR, ignore_errors=True)
        shutil.rmtree(plan.job_dir / "adapter", ignore_errors=True)
    state = registry.read_state()
    state["last_run"] = {
        "finished_at": time.time(),
        "status": outcome.status,
        "message": outcome.message,
        "version": outcome.version.id if outcome.version else None,
        "job": plan.job_dir.name,
    }
    if outcome.status in ("promoted", "rejected"):
        state["data_watermark"] = plan.collected_at
    registry.write_state(state)
    return outcome
