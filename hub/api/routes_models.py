"""GET /v1/models and PUT /v1/models/active: what the hub can serve, and switching at run time;
/v1/models/pulls: fetching a model from a Hugging Face repository (the owner only)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends

from hub.api.auth import require_owner
from hub.api.catalog_schemas import (
    ActiveModel,
    ModelList,
    ModelObject,
    PullList,
    PullObject,
    PullRequest,
)
from hub.api.deps import HubDep
from hub.api.schemas import ActiveModelRequest
from hub.api.scopes import ModelsCaller, require_scope

router = APIRouter(prefix="/v1/models", tags=["models"])
# Reading which models there are is a client's right too; choosing the active one the owner's.
MAY_READ = [Depends(require_scope("models:read", "chat"))]


@router.get("")
async def read_models(hub: HubDep, caller: ModelsCaller) -> ModelList:
    """Every model the hub can serve (file paths for the owner only)."""
    listings = await asyncio.to_thread(hub.catalog.listing)
    active, loaded = hub.runner.active, hub.runner.loaded_models()
    data = [
        ModelObject.from_listing(row, active, loaded, show_files=caller.is_owner)
        for row in listings
    ]
    return ModelList(object="list", data=data)


OWNER = [Depends(require_owner)]


@router.post("/pulls", dependencies=OWNER, status_code=202)
async def create_pull(body: PullRequest, hub: HubDep) -> PullObject:
    """Start fetching a GGUF model (one pull at a time); follow it with GET pulls/{id}. The
    model is added to the catalog when it is verified; it is not made active."""
    return PullObject.from_job(hub.pulls.start(body.source, body.name))


@router.get("/pulls", dependencies=OWNER)
async def read_pulls(hub: HubDep) -> PullList:
    """Recent pulls, newest first."""
    return PullList(data=[PullObject.from_job(job) for job in hub.pulls.jobs()])


@router.get("/pulls/{pull_id}", dependencies=OWNER)
async def read_pull(pull_id: str, hub: HubDep) -> PullObject:
    """How far a pull has come, or why it failed."""
    return PullObject.from_job(hub.pulls.get(pull_id))


@router.get("/active", dependencies=MAY_READ)
async def read_active_model(hub: HubDep) -> ActiveModel:
    """The model answering requests that do not name another; if the chosen one failed to
    load, the status says so and why."""
    return ActiveModel.from_runner(hub.runner.active, hub.runner.status)


@router.put("/active", dependencies=[Depends(require_owner)])
async def update_active_model(body: ActiveModelRequest, hub: HubDep) -> ActiveModel:
    """Switch the active model without a restart; the choice survives restarts."""
    await asyncio.to_thread(hub.catalog.get, body.model)
    await hub.runner.use(body.model)
    await asyncio.to_thread(hub.catalog.set_active, body.model)
    return ActiveModel.from_runner(hub.runner.active, hub.runner.status)
