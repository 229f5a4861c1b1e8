"""GET /v1/models and PUT /v1/models/active: what the hub can serve, and switching at run time."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends

from hub.api.auth import require_owner
from hub.api.deps import HubDep
from hub.api.schemas import ActiveModelRequest
from hub.models.catalog import ModelListing

router = APIRouter(prefix="/v1/models", tags=["models"], dependencies=[Depends(require_owner)])


def model_object(listing: ModelListing, active: str, loaded: list[str]) -> dict[str, Any]:
    """One model in OpenAI's list shape, plus what the hub knows about its file."""
    info = listing.info
    return {
        "id": listing.entry.name,
        "object": "model",
        "created": 0,
        "owned_by": "local",
        "source": listing.entry.source,
        "description": listing.entry.description,
        "active": listing.entry.name == active,
        "loaded": listing.entry.name in loaded,
        "path": str(listing.path) if listing.path else None,
        "architecture": info.architecture if info else None,
        "size_bytes": info.file_size if info else None,
        "quantization": info.quantization if info else None,
        "context_length": info.context_length if info else None,
        "chat_template": info.has_chat_template if info else None,
        "error": listing.error,
    }


@router.get("")
async def read_models(hub: HubDep) -> dict[str, Any]:
    """Every model the hub can serve."""
    listings = await asyncio.to_thread(hub.catalog.listing)
    active, loaded = hub.runner.active, hub.runner.loaded_models()
    return {"object": "list", "data": [model_object(row, active, loaded) for row in listings]}


@router.get("/active")
async def read_active_model(hub: HubDep) -> dict[str, Any]:
    """The model answering requests that do not name another."""
    return {"model": hub.runner.active}


@router.put("/active")
async def update_active_model(body: ActiveModelRequest, hub: HubDep) -> dict[str, Any]:
    """Switch the active model without a restart; the choice survives restarts."""
    await asyncio.to_thread(hub.catalog.get, body.model)
    await hub.runner.use(body.model)
    await asyncio.to_thread(hub.catalog.set_active, body.model)
    return {"model": hub.runner.active}
