"""PersonalizationService: runs training children, keeps the registry, swaps adapters live."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from adapters.examples import PersonInputs
from adapters.job import read_progress
from adapters.registry import AdapterRegistry, AdapterVersion
from hub.engine.cpu_placement import pin_process
from hub.engine.runner import ModelRunner
from hub.errors import HubError
from hub.personalization.collect import collect_inputs, count_new
from hub.personalization.cues import with_cue_words
from hub.personalization.jobs import (
    CHILD_LOG_FILE,
    RunOutcome,
    RunPlan,
    child_command,
    child_environment,
    cue_cache_dir,
    finish_run,
    plan_run,
)
from hub.personalization.questions import with_model_questions
from hub.personalization.served import ServedAdapters
from hub.personalization.status import (
    AdapterListing,
    LastRun,
    PersonalizationStatus,
    RunProgress,
    Schedule,
)
from hub.settings import Settings
from memory.embedder import Embedder
from memory.sqlite_database import LockedDatabase

logger = logging.getLogger(__name__)


class RunInProgressError(HubError, RuntimeError):
    """A personalization run is already going."""

    http_status = 409
    error_code = "run_in_progress"


class AdapterMismatchError(HubError, ValueError):
    """An adapter made for another base model was asked to serve this one."""

    http_status = 409
    error_code = "adapter_conflict"


@dataclass
class RunState:
    """The run going on now, as the UI and CLI show it."""

    plan: RunPlan
    started_at: float
    process: asyncio.subprocess.Process | None = None
    task: asyncio.Task[RunOutcome] | None = field(default=None, repr=False)


class PersonalizationService:
    """Everything about adapters in a running hub."""

    def __init__(
        self,
        settings: Settings,
        served: ServedAdapters,
        runner: ModelRunner,
        conversations: LockedDatabase,
        training_cpus: frozenset[int] | None = None,
        embedder: Embedder | None = None,
    ) -> None:
        self.settings = settings
        self.embedder = embedder  # the memory's, for cue words; None with memory off
        self.training_cpus = training_cpus
        self.served = served
        self.catalog = served.catalog
        self.registry: AdapterRegistry = served.registry
        self.runner = runner
        self.conversations = conversations
        self.current: RunState | None = None
        self.last_outcome: RunOutcome | None = None

    def base_sha256_of(self, model_name: str) -> str:
        """The hash of a catalog model's file (cached); blocking."""
        return self.served.base_sha256_of(model_name)

    async def start_run(self, force: bool) -> PersonalizationStatus:
        """Plan and start a run in the background; returns the status (or why it skipped)."""
        if self.current is not None:
            raise RunInProgressError(
                "a personalization run is already going; watch it with GET /v1/personalization"
            )
        model_name = self.runner.active
        path = await asyncio.to_thread(self.catalog.training_path, model_name)
        inputs = await self.gather_inputs(force)
        plan = await asyncio.to_thread(
            plan_run, self.settings, self.conversations, model_name, path, force, None, inputs
        )
        if plan.skipped:
            self.last_outcome = RunOutcome("skipped", plan.skipped)
            return self.status()
        state = RunState(plan, time.time())
        self.current = state
        state.task = asyncio.create_task(self._run(state))
        return self.status()

    async def gather_inputs(self, force: bool) -> PersonInputs:
        """What a run would learn from now: the person's data, with model-written questions
        and cue words added when a run is due (a run that will be skipped need not keep the
        model busy)."""
        inputs = await asyncio.to_thread(collect_inputs, self.conversations, self.settings.data_dir)
        since = float(self.registry.read_state().get("data_watermark", 0.0))
        enough = force or count_new(inputs, since) >= self.settings.personalize_min_new_examples
        if not enough:
            return inputs
        if self.settings.personalize_model_questions:
            inputs = await with_model_questions(
                self.runner, inputs, self.settings.personalize_model_questions
            )
        if self.settings.personalize_cue_words and self.embedder is not None:
            inputs = await asyncio.to_thread(
                with_cue_words,
                self.embedder,
                inputs,
                self.settings.personalize_cue_words,
                cue_cache_dir(self.settings),
            )
        return inputs

    async def _run(self, state: RunState) -> RunOutcome:
        plan = state.plan
        assert plan.job_dir is not None
        exit_code: int | None = None
        try:
            with (plan.job_dir / CHILD_LOG_FILE).open("ab") as log:
                state.process = await asyncio.create_subprocess_exec(
                    *child_command(plan.job_dir),
                    stdout=log,
                    stderr=log,
                    env=child_environment(self.settings.personalize_threads),
                    start_new_session=True,
                )
                if self.training_cpus:  # the night's training may use every core, the model's too
                    pin_process(state.process.pid, self.training_cpus)
                exit_code = await state.process.wait()
            outcome = await asyncio.to_thread(finish_run, self.settings, plan, exit_code)
            if outcome.status == "promoted":
                await self._swap_or_undo()
        except asyncio.CancelledError:
            if state.process is not None and state.process.returncode is None:
                state.process.terminate()
            raise
        except Exception as exc:
            logger.exception("personalization run failed")
            outcome = RunOutcome("failed", str(exc))
        finally:
            self.current = None
        logger.info("personalization run %s: %s", outcome.status, outcome.message)
        self.last_outcome = outcome
        return outcome

    async def wait(self) -> RunOutcome | None:
        """Wait for the current run (if any) to end."""
        state = self.current
        if state is None or state.task is None:
            return self.last_outcome
        return await asyncio.shield(state.task)

    def status(self) -> PersonalizationStatus:
        """The run going on (with its progress), the last outcome and the active adapter."""
        state = self.current
        running: RunProgress | None = None
        if state is not None and state.plan.job_dir is not None:
            running = RunProgress.of(
                state.plan.job_dir.name,
                state.started_at,
                state.plan.resumed,
                state.process.pid if state.process else None,
                read_progress(state.plan.job_dir),
            )
        return PersonalizationStatus(
            running=running,
            last_outcome=self.last_outcome,
            last_run=LastRun.from_state(self.registry.read_state()),
            model=self.runner.active,
            schedule=Schedule(
                enabled=self.settings.personalize_enabled,
                time=self.settings.personalize_time,
                min_new_examples=self.settings.personalize_min_new_examples,
            ),
        )

    def versions(self) -> list[AdapterListing]:
        """Every adapter, newest first, marked active where it is."""
        active = set(self.registry.active_ids().values())
        return [
            AdapterListing(version, version.id in active)
            for version in reversed(self.registry.versions())
        ]

    async def promote(self, version_id: str) -> AdapterVersion:
        """Make a version active (it must fit the model now served) and swap it in."""
        version = await asyncio.to_thread(self.registry.get, version_id)
        sha = await asyncio.to_thread(self.base_sha256_of, self.runner.active)
        if version.base_sha256 != sha:
            raise AdapterMismatchError(
                f"adapter {version_id} was trained for {version.model_name} (another base model "
                f"file); the hub serves {self.runner.active}: switch models first"
            )
        await asyncio.to_thread(self.registry.promote, version_id)
        await self._swap_or_undo()
        return version

    async def _swap_or_undo(self) -> None:
        """Swap the newly promoted adapter in; if llama.cpp refuses it, undo the promotion so
        the registry keeps naming what is really served."""
        try:
            await self.runner.reload_adapters()
        except Exception as exc:
            sha = await asyncio.to_thread(self.base_sha256_of, self.runner.active)
            await asyncio.to_thread(self.registry.rollback, sha)
            raise AdapterMismatchError(f"the adapter could not be served: {exc}") from exc

    async def rollback(self) -> AdapterVersion | None:
        """Go back one adapter version for the served model and swap at once."""
        sha = await asyncio.to_thread(self.base_sha256_of, self.runner.active)
        previous = await asyncio.to_thread(self.registry.rollback, sha)
        await self.runner.reload_adapters()
        return previous

    async def close(self) -> None:
        """Stop a running child (its checkpoint lets the next run resume)."""
        state = self.current
        if state is not None and state.task is not None:
            state.task.cancel()
            try:
                await state.task
            except (asyncio.CancelledError, Exception):
                logger.info("personalization run stopped with the hub")
