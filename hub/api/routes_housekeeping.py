"""/v1/memory/housekeeping: the policy per kind for old memories, runs, undo, sizes."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends

from hub.api.auth import require_owner
from hub.api.deps import HousekeepingDep
from hub.api.housekeeping_schemas import (
    HousekeepingIn,
    HousekeepingOut,
    RunStartedOut,
    RunUndoneOut,
)
from memory.housekeeping_types import Policy

router = APIRouter(prefix="/v1", tags=["memory"], dependencies=[Depends(require_owner)])


@router.get("/memory/housekeeping")
async def read_housekeeping(housekeeping: HousekeepingDep) -> HousekeepingOut:
    """The policy per kind, the grace period, the latest runs and the sizes per kind."""
    return HousekeepingOut.from_domain(await asyncio.to_thread(housekeeping.status))


@router.put("/memory/housekeeping")
async def update_housekeeping(
    body: HousekeepingIn, housekeeping: HousekeepingDep
) -> HousekeepingOut:
    """Save policies (they win over hub.toml from now on) and the grace period."""
    policies = [Policy(p.kind, p.action, p.after_days) for p in body.policies]
    status = await asyncio.to_thread(housekeeping.save, policies, body.grace_days)
    return HousekeepingOut.from_domain(status)


@router.post("/memory/housekeeping/runs", status_code=202)
async def create_housekeeping_run(housekeeping: HousekeepingDep) -> RunStartedOut:
    """Start a run now (409 while one is going); GET shows it, finished or not."""
    return RunStartedOut(id=await housekeeping.start_run("api"))


@router.post("/memory/housekeeping/runs/{run_id}/undo")
async def undo_housekeeping_run(run_id: str, housekeeping: HousekeepingDep) -> RunUndoneOut:
    """Bring back the raw items a run replaced (until its grace period ended)."""
    days = await asyncio.to_thread(housekeeping.undo, run_id)
    return RunUndoneOut(id=run_id, days=days)
