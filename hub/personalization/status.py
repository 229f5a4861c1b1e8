"""What the hub tells about personalization: the run going on, the last outcome and run, the
schedule, and every adapter with whether it is served."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from adapters.registry import AdapterVersion
from hub.personalization.jobs import RunOutcome

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunProgress:
    """A training run going on, from the progress lines its child writes."""

    job: str
    started_at: float
    resumed: bool
    phase: str  # the newest progress event: loading, evaluating, answering, training, step, ...
    step: int
    total_steps: int | None
    eta_seconds: float | None
    tokens_per_second: float | None
    losses: tuple[float, ...]
    pid: int | None
    answered: int | None = None  # while answering the held-out questions: how many so far
    questions: int | None = None  # ... of how many

    @classmethod
    def of(
        cls,
        job: str,
        started_at: float,
        resumed: bool,
        pid: int | None,
        events: list[dict[str, Any]],
    ) -> RunProgress:
        """The progress told by ``events`` (``adapters.job.read_progress``)."""
        steps = [event for event in events if event.get("event") == "step"]
        last = steps[-1] if steps else {}
        newest = events[-1] if events else {}
        answering = newest if newest.get("event") == "answering" else {}
        return cls(
            job=job,
            started_at=started_at,
            resumed=resumed,
            phase=events[-1]["event"] if events else "starting",
            step=last.get("step", 0),
            total_steps=last.get("total_steps"),
            eta_seconds=last.get("eta_seconds"),
            tokens_per_second=last.get("tokens_per_second"),
            losses=tuple(event["loss"] for event in steps),
            pid=pid,
            answered=answering.get("answered"),
            questions=answering.get("questions"),
        )


@dataclass(frozen=True)
class LastRun:
    """The last finished run, as the registry's state.json records it."""

    finished_at: float
    status: str
    message: str
    version: str | None
    job: str

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> LastRun | None:
        """The ``last_run`` of the registry's state, or None when there is none (or it is not
        in the form the hub writes: it is only shown, so it is logged, not an error)."""
        raw = state.get("last_run")
        if raw is None:
            return None
        try:
            return cls(
                float(raw["finished_at"]),
                str(raw["status"]),
                str(raw["message"]),
                None if raw["version"] is None else str(raw["version"]),
                str(raw["job"]),
            )
        except (KeyError, TypeError, ValueError):
            logger.warning("the last run in the adapter registry's state.json is damaged: %r", raw)
            return None


@dataclass(frozen=True)
class Schedule:
    """When the nightly run happens."""

    enabled: bool
    time: str  # "HH:MM", local time
    min_new_examples: int  # a nightly run is skipped with fewer new items than this


@dataclass(frozen=True)
class PersonalizationStatus:
    """The run going on (if any), how the last one ended, the model served and the schedule."""

    running: RunProgress | None
    last_outcome: RunOutcome | None  # of a run this hub started (or skipped) since it started
    last_run: LastRun | None
    model: str
    schedule: Schedule


@dataclass(frozen=True)
class AdapterListing:
    """One adapter version, and whether it is the one served with its base model."""

    version: AdapterVersion
    active: bool
