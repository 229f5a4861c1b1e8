"""The adapter registry: versioned adapter folders and an atomically changed active pointer.

Layout under ``<data_dir>/adapters/``: ``versions/v0001/`` (adapter.gguf, lora.safetensors,
lora_config.json, meta.json), ``jobs/<id>/`` (training work), ``active.json`` (for each base
model hash, the promoted versions in order; the last is active) and ``state.json``.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from adapters.dataset import SUMMARY_FILE
from adapters.job import DATASET_DIR, GGUF_FILE, JobSpec, read_result
from memory.durable_files import replace_durably, write_atomically

ACTIVE_FILE = "active.json"
STATE_FILE = "state.json"
META_FILE = "meta.json"


class RegistryError(ValueError):
    """A registry change was refused; the message says why and what to do (``http_status`` and
    ``error_code`` say how a caller of the hub sees it)."""

    http_status = 409
    error_code = "adapter_conflict"


class UnknownAdapterVersionError(RegistryError, LookupError):
    """No adapter version has this id."""

    http_status = 404
    error_code = "adapter_not_found"
    param = "id"


@dataclass(frozen=True)
class AdapterVersion:
    """One trained adapter and everything known about it."""

    id: str
    created_at: float
    model_name: str
    base_sha256: str
    architecture: str
    passed_gate: bool
    dataset: dict[str, Any] = field(default_factory=dict)
    # "candidate" and "current" scores (adapters.evaluate.Metrics); "now_answered" and
    # "now_missed": a few held-out questions whose verdict changed (adapters.answers).
    metrics: dict[str, Any] = field(default_factory=dict)
    decision: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    losses: list[float] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return asdict(self)


def write_json_atomically(path: Path, data: dict[str, Any]) -> None:
    """Write JSON durably and atomically, so readers see old or new, whole, even after a crash."""
    write_atomically(path, json.dumps(data, indent=2) + "\n")


class AdapterRegistry:
    """Versions, the active pointer and job folders in one directory; blocking file work."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.versions_dir = root / "versions"
        self.jobs_dir = root / "jobs"

    def _ensure(self) -> None:
        for folder in (self.root, self.versions_dir, self.jobs_dir):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)

    def new_job_dir(self) -> Path:
        """A fresh folder for one training job."""
        self._ensure()
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        for suffix in range(1000):
            candidate = self.jobs_dir / f"{stamp}-{suffix:03d}"
            try:
                candidate.mkdir()
            except FileExistsError:
                continue
            return candidate
        raise RegistryError(f"cannot make a job folder in {self.jobs_dir}")

    def unfinished_job(self) -> Path | None:
        """The newest job that never wrote its result (killed, or still running)."""
        if not self.jobs_dir.exists():
            return None
        jobs = sorted(p for p in self.jobs_dir.iterdir() if p.is_dir())
        for job in reversed(jobs):
            return job if read_result(job) is None else None
        return None

    def versions(self) -> list[AdapterVersion]:
        """Every registered adapter, oldest first."""
        if not self.versions_dir.exists():
            return []
        found = []
        for folder in sorted(self.versions_dir.iterdir()):
            meta = folder / META_FILE
            if folder.is_dir() and meta.exists():
                found.append(AdapterVersion(**json.loads(meta.read_text())))
        return found

    def get(self, version_id: str) -> AdapterVersion:
        """One version, or a RegistryError naming the known ones."""
        for version in self.versions():
            if version.id == version_id:
                return version
        known = ", ".join(v.id for v in self.versions()) or "none yet"
        raise UnknownAdapterVersionError(
            f"no adapter version {version_id!r}; known versions: {known}"
        )

    def gguf_path(self, version_id: str) -> Path:
        """The GGUF LoRA file of a version."""
        return self.versions_dir / version_id / GGUF_FILE

    def lora_dir(self, version_id: str) -> Path:
        """The folder holding a version's peft weights."""
        return self.versions_dir / version_id

    def register(self, job_dir: Path) -> AdapterVersion:
        """Move a finished job's adapter into a new version folder and describe it."""
        result = read_result(job_dir)
        if result is None or result.get("status") != "done":
            raise RegistryError(f"job {job_dir.name} did not finish; nothing to register")
        spec = JobSpec.read(job_dir)
        self._ensure()
        number = 1 + max((int(v.id[1:]) for v in self.versions()), default=0)
        version_id = f"v{number:04d}"
        summary = json.loads((job_dir / DATASET_DIR / SUMMARY_FILE).read_text())
        version = AdapterVersion(
            id=version_id,
            created_at=time.time(),
            model_name=spec.model_name,
            base_sha256=spec.base_sha256,
            architecture=str(result.get("architecture", "")),
            passed_gate=bool(result["decision"]["passed"]),
            dataset=summary,
            metrics={
                "candidate": result["candidate"],
                "current": result["current"],
                # Examples of questions answered now and missed before, and the reverse.
                **result.get("answers", {}),
            },
            decision=result["decision"],
            training={
                key: result[key]
                for key in (
                    "steps",
                    "total_steps",
                    "stopped_by_budget",
                    "train_tokens",
                    "train_seconds",
                    "tokens_per_second",
                    "wall_seconds",
                )
            }
            # The step whose weights were kept (earlier than the last when the run drifted
            # too far from general text), and the drift measured along the way.
            | {
                "kept_step": result.get("kept_step", result["steps"]),
                "drift": result.get("drift", []),
            },
            losses=list(result.get("losses", [])),
        )
        staging = self.versions_dir / f".{version_id}.partial"
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(job_dir / "adapter", staging)
        (staging / META_FILE).write_text(json.dumps(version.to_json(), indent=2) + "\n")
        replace_durably(staging, self.versions_dir / version_id)
        return version

    def _pointer(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads((self.root / ACTIVE_FILE).read_text())
        except FileNotFoundError:
            return {"history": {}}
        except json.JSONDecodeError as exc:
            raise RegistryError(
                f"{self.root / ACTIVE_FILE} is damaged ({exc}); delete it to serve no adapter"
            ) from exc
        data.setdefault("history", {})
        return data

    def active(self, base_sha256: str) -> AdapterVersion | None:
        """The adapter served with the base model of this hash, if any."""
        history = self._pointer()["history"].get(base_sha256) or []
        return self.get(history[-1]) if history else None

    def active_ids(self) -> dict[str, str]:
        """For each base model hash with an adapter, the active version's id."""
        return {base: ids[-1] for base, ids in self._pointer()["history"].items() if ids}

    def promote(self, version_id: str) -> AdapterVersion:
        """Make a version active for its base model (the pointer changes atomically)."""
        version = self.get(version_id)
        if not self.gguf_path(version_id).exists():
            raise RegistryError(f"adapter {version_id} has no GGUF file; it cannot be served")
        pointer = self._pointer()
        history: list[str] = pointer["history"].setdefault(version.base_sha256, [])
        if history and history[-1] == version_id:
            return version
        if version_id in history:
            history.remove(version_id)
        history.append(version_id)
        self._ensure()
        write_json_atomically(self.root / ACTIVE_FILE, pointer)
        return version

    def rollback(self, base_sha256: str) -> AdapterVersion | None:
        """Go back one version for this base model; returns the new active one (None: none)."""
        pointer = self._pointer()
        history: list[str] = pointer["history"].get(base_sha256) or []
        if not history:
            raise RegistryError("no adapter is active for this model; there is nothing to undo")
        history.pop()
        pointer["history"][base_sha256] = history
        write_json_atomically(self.root / ACTIVE_FILE, pointer)
        return self.get(history[-1]) if history else None

    def read_state(self) -> dict[str, Any]:
        """Bookkeeping of past runs (last run time, data watermark)."""
        try:
            data: dict[str, Any] = json.loads((self.root / STATE_FILE).read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}
        return data

    def write_state(self, state: dict[str, Any]) -> None:
        """Replace the bookkeeping atomically."""
        self._ensure()
        write_json_atomically(self.root / STATE_FILE, state)
