"""A training job's files: its spec, its progress as JSON lines, and its result."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from adapters.config import GateMargins, TrainConfig, training_threads
from memory.durable_files import write_atomically

SPEC_FILE = "job.json"
PROGRESS_FILE = "progress.jsonl"
RESULT_FILE = "result.json"
DATASET_DIR = "dataset"
CHECKPOINT_DIR = "checkpoint"
LORA_WEIGHTS_FILE = "lora.safetensors"
LORA_CONFIG_FILE = "lora_config.json"
GGUF_FILE = "adapter.gguf"


@dataclass(frozen=True)
class JobSpec:
    """Everything the training child needs, written by the parent before it starts."""

    base_model_path: str
    base_sha256: str
    model_name: str
    threads: int = field(default_factory=training_threads)
    active_adapter_dir: str | None = None
    base_cache_dir: str | None = None  # where a de-quantized copy is kept (adapters/base_cache)
    train: TrainConfig = field(default_factory=TrainConfig)
    margins: GateMargins = field(default_factory=GateMargins)

    def write(self, job_dir: Path) -> None:
        """Write job.json into ``job_dir``."""
        job_dir.mkdir(parents=True, exist_ok=True)
        (job_dir / SPEC_FILE).write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def read(cls, job_dir: Path) -> JobSpec:
        """Read job.json from ``job_dir``."""
        data = json.loads((job_dir / SPEC_FILE).read_text())
        data["train"] = TrainConfig(**data["train"])
        data["margins"] = GateMargins(**data["margins"])
        return cls(**data)


def append_progress(job_dir: Path, event: str, **fields: Any) -> None:
    """Add one progress line; each line is flushed at once so readers see it live."""
    line = json.dumps({"event": event, "time": time.time(), **fields})
    with (job_dir / PROGRESS_FILE).open("a", encoding="utf-8") as out:
        out.write(line + "\n")
        out.flush()


def read_progress(job_dir: Path) -> list[dict[str, Any]]:
    """Every complete progress line so far (a line being written is skipped)."""
    try:
        text = (job_dir / PROGRESS_FILE).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    events = []
    for line in text.splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return events


def write_result(job_dir: Path, result: dict[str, Any]) -> None:
    """Write result.json atomically: its presence means the job finished."""
    write_atomically(job_dir / RESULT_FILE, json.dumps(result, indent=2) + "\n")


def read_result(job_dir: Path) -> dict[str, Any] | None:
    """The job's result, or None while it has not finished."""
    try:
        data: dict[str, Any] = json.loads((job_dir / RESULT_FILE).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return data
