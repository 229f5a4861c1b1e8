"""Pulls a running hub makes for the Settings page: one at a time, in a thread, with progress
that can be asked for while it runs."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hub.errors import HubError
from hub.models.pull import ModelHubAccess
from hub.models.pull_spec import parse_pull_source

logger = logging.getLogger(__name__)

JOBS_KEPT = 10  # finished pulls still listed


class PullRunningError(HubError):
    """A pull is already running; the hub makes one at a time."""

    http_status = 409
    error_code = "pull_in_progress"


class UnknownPullError(HubError):
    """No pull has this id (finished ones are listed only for a while)."""

    http_status = 404
    error_code = "unknown_pull"


@dataclass
class PullJob:
    """One pull and how far it has come."""

    id: str
    source: str
    started_at: float
    state: str = "running"  # running, done, failed
    stage: str = "resolving"
    file: str = ""
    done_bytes: int = 0
    total_bytes: int = 0
    model: str | None = None  # the catalog name, once added
    error: str | None = None
    error_code: str | None = None
    finished_at: float | None = None

    def follow_line(self, line: bytes) -> None:
        """Take one line of the child's `--progress-json` output."""
        try:
            report: dict[str, Any] = json.loads(line)
        except ValueError:
            return  # not one of its reports (a library's stray print)
        if "error" in report:
            self.state, self.error = "failed", str(report["error"])
            self.error_code = str(report.get("code") or "pull_failed")
        elif "model" in report:
            self.state, self.model, self.stage = "done", str(report["model"]), "done"
            self.done_bytes = self.total_bytes = int(report.get("total_bytes") or 0)
        else:
            self.stage, self.file = str(report.get("stage")), str(report.get("file"))
            if report.get("total_bytes"):
                self.done_bytes = int(report["done_bytes"])
                self.total_bytes = int(report["total_bytes"])


class ModelPulls:
    """Starts pulls in the background, one at a time, and remembers the last few.

    Each pull runs `hub models pull --progress-json` as a child process: the hub's own process
    has huggingface_hub switched offline (the embedder must never download), and hashing
    gigabytes there would compete with chat for the interpreter. The child gets the person's
    huggingface_hub settings as they were when the hub started."""

    def __init__(self, data_dir: Path, access: ModelHubAccess) -> None:
        self.data_dir = data_dir
        self.access = access
        self._jobs: dict[str, PullJob] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._children: set[asyncio.subprocess.Process] = set()

    def _child_environment(self) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in {"HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_ENDPOINT"}
        }
        if self.access.endpoint:
            env["HF_ENDPOINT"] = self.access.endpoint
        if self.access.offline:
            env["HF_HUB_OFFLINE"] = "1"
        return env

    def start(self, source: str, name: str | None) -> PullJob:
        """Begin pulling ``source`` (bad input is refused here, before anything runs)."""
        parsed = parse_pull_source(source)
        if any(job.state == "running" for job in self._jobs.values()):
            raise PullRunningError("a model is being pulled already; wait for it to finish")
        job = PullJob(secrets.token_hex(8), str(parsed), time.time())
        self._jobs[job.id] = job
        while len(self._jobs) > JOBS_KEPT:
            oldest = next(j for j in self._jobs.values() if j.state != "running")
            del self._jobs[oldest.id]
        command = [sys.executable, "-m", "hub", "models", "pull", str(parsed), "--progress-json"]
        command += ["--data-dir", str(self.data_dir)] + (["--name", name] if name else [])
        task = asyncio.get_running_loop().create_task(self._run(job, command), name="pull")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job

    async def _run(self, job: PullJob, command: list[str]) -> None:
        try:
            child = await asyncio.create_subprocess_exec(
                *command,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=self._child_environment(),
            )
        except OSError as exc:
            job.state, job.error, job.error_code = "failed", str(exc), "pull_failed"
            job.finished_at = time.time()
            return
        self._children.add(child)
        assert child.stdout is not None and child.stderr is not None
        try:
            async for line in child.stdout:
                job.follow_line(line)
            stderr = (await child.stderr.read()).decode(errors="replace").strip()
            code = await child.wait()
        finally:
            self._children.discard(child)
        if job.state == "running":  # it ended without a last word: it crashed or was stopped
            job.state, job.error_code = "failed", "pull_failed"
            job.error = f"the pull stopped (exit code {code}): {stderr[-500:] or 'no output'}"
        if job.state == "failed":
            logger.warning("pull of %s failed: %s", job.source, job.error)
        job.finished_at = time.time()

    def get(self, job_id: str) -> PullJob:
        """The pull with this id, or UnknownPullError."""
        job = self._jobs.get(job_id)
        if job is None:
            raise UnknownPullError(f"no pull {job_id}; list them with GET /v1/models/pulls")
        return job

    def jobs(self) -> list[PullJob]:
        """Recent pulls, newest first."""
        return sorted(self._jobs.values(), key=lambda job: job.started_at, reverse=True)

    async def close(self) -> None:
        """Stop a running pull (its .partial file stays for next time) and wait for it."""
        for child in list(self._children):
            with contextlib.suppress(ProcessLookupError):
                child.terminate()
        await asyncio.gather(*self._tasks, return_exceptions=True)
