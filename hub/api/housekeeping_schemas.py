"""Request and answer bodies of /v1/memory/housekeeping: the policy per kind, runs, sizes."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from hub.api.response_base import ResponseModel
from hub.housekeeping.policy import EffectivePolicy
from hub.housekeeping.service import HousekeepingStatus
from memory.housekeeping_types import Action, KindSize, Run

HousekeepingKind = Literal["transcript", "image_text"]


class PolicyIn(BaseModel):
    """One kind's policy."""

    model_config = ConfigDict(extra="forbid")

    kind: HousekeepingKind = Field(description="transcript or image_text.")
    action: Action = Field(description="keep (raw, forever), summarize or delete.")
    after_days: StrictInt = Field(
        default=30, ge=1, le=3650, description="Items older than this many days are compacted."
    )


class HousekeepingIn(BaseModel):
    """PUT /v1/memory/housekeeping: the policies to save (kinds left out keep theirs) and
    the grace period."""

    model_config = ConfigDict(extra="forbid")

    policies: list[PolicyIn] = Field(default_factory=list, max_length=8)
    grace_days: StrictInt | None = Field(
        default=None,
        ge=0,
        le=3650,
        description="Days replaced raw items stay recoverable (out of search) before deletion.",
    )


class PolicyOut(ResponseModel):
    """One kind's policy in effect."""

    kind: str
    action: Action
    after_days: int
    origin: Literal["settings", "saved"] = Field(
        description="saved: chosen on the Memory page or by PUT; settings: hub.toml or HUB_."
    )

    @classmethod
    def from_domain(cls, effective: EffectivePolicy) -> PolicyOut:
        """The answer for one effective policy."""
        policy = effective.policy
        return cls(
            kind=policy.kind,
            action=policy.action,
            after_days=policy.after_days,
            origin=effective.origin,
        )


class RunOut(ResponseModel):
    """What one housekeeping run did."""

    id: str
    started_at: str
    finished_at: str | None = Field(description="None while the run is going.")
    trigger: str = Field(description="schedule, api or cli.")
    days: int = Field(description="Days (per kind, source and device) compacted.")
    items: int = Field(description="Raw items taken out of search.")
    summaries: int = Field(description="Summary memories written.")
    purged: int = Field(description="Raw items deleted for good (their grace period ended).")
    error: str | None
    undoable_days: int = Field(description="Days undo can still bring back.")

    @classmethod
    def from_domain(cls, run: Run) -> RunOut:
        """The answer for one run."""
        return cls(
            id=run.id,
            started_at=run.started_at,
            finished_at=run.finished_at,
            trigger=run.trigger,
            days=run.batches,
            items=run.items,
            summaries=run.summaries,
            purged=run.purged,
            error=run.error,
            undoable_days=run.undoable,
        )


class KindSizeOut(ResponseModel):
    """How much one kind of memory takes."""

    kind: str
    items: int = Field(description="Memories of this kind in search.")
    bytes: int = Field(description="Their text, metadata, chunks and vectors in memory.db.")
    held_items: int = Field(description="Raw items held out of search for undo.")
    held_bytes: int

    @classmethod
    def from_domain(cls, size: KindSize) -> KindSizeOut:
        """The answer for one kind's size."""
        return cls(
            kind=size.kind,
            items=size.items,
            bytes=size.bytes,
            held_items=size.held_items,
            held_bytes=size.held_bytes,
        )


class HousekeepingOut(ResponseModel):
    """GET and PUT /v1/memory/housekeeping."""

    policies: list[PolicyOut]
    grace_days: int
    grace_origin: Literal["settings", "saved"]
    daily_at: str = Field(description="Local HH:MM of the daily run.")
    running: str | None = Field(description="The id of the run going now.")
    runs: list[RunOut] = Field(description="The latest runs, newest first.")
    sizes: list[KindSizeOut]

    @classmethod
    def from_domain(cls, status: HousekeepingStatus) -> HousekeepingOut:
        """The answer for the service's status."""
        return cls(
            policies=[PolicyOut.from_domain(policy) for policy in status.policies],
            grace_days=status.grace_days,
            grace_origin="saved" if status.grace_origin == "saved" else "settings",
            daily_at=status.daily_at,
            running=status.running,
            runs=[RunOut.from_domain(run) for run in status.runs],
            sizes=[KindSizeOut.from_domain(size) for size in status.sizes],
        )


class RunStartedOut(ResponseModel):
    """POST /v1/memory/housekeeping/runs: the run going now."""

    id: str
    object: Literal["housekeeping.run"] = "housekeeping.run"


class RunUndoneOut(ResponseModel):
    """POST /v1/memory/housekeeping/runs/{run_id}/undo."""

    id: str
    days: int = Field(description="Days brought back (their raw items in search again).")
