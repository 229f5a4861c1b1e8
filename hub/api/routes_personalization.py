"""/v1/personalization: nightly LoRA runs, adapters, promote and roll back, the dataset, and
what the person lets the hub learn from (conversation opt-out, answer ratings and corrections)."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from hub.api.auth import require_owner
from hub.api.deps import PersonalizationDep, WebDep
from hub.personalization.feedback import (
    conversation_learning,
    set_conversation_learning,
    set_message_feedback,
)
from hub.personalization.jobs import build_current_dataset

router = APIRouter(
    prefix="/v1/personalization", tags=["personalization"], dependencies=[Depends(require_owner)]
)
DATASET_PREVIEW = 50


class RunBody(BaseModel):
    """POST /v1/personalization/runs."""

    model_config = ConfigDict(extra="forbid")

    force: bool = Field(default=True, description="Run even with little new data.")


class LearningBody(BaseModel):
    """PUT /v1/personalization/conversations/{id}."""

    model_config = ConfigDict(extra="forbid")

    learn: bool


class FeedbackBody(BaseModel):
    """PUT /v1/personalization/messages/{id}."""

    model_config = ConfigDict(extra="forbid")

    rating: Literal["good", "bad"] | None = None
    edited_content: str | None = Field(default=None, min_length=1, max_length=20_000)


@router.get("")
async def read_personalization(service: PersonalizationDep) -> dict[str, Any]:
    """The run going on (progress, ETA, losses), the last outcome and the schedule."""
    return await asyncio.to_thread(service.status)


@router.post("/runs", status_code=202)
async def create_run(service: PersonalizationDep, body: RunBody | None = None) -> dict[str, Any]:
    """Start a run now (in a child process); 409 while one is going."""
    return await service.start_run(force=(body or RunBody()).force)


@router.get("/adapters")
async def list_adapters(service: PersonalizationDep) -> dict[str, Any]:
    """Every adapter, newest first, with its metrics, dataset summary and losses."""
    return {"object": "list", "data": await asyncio.to_thread(service.versions)}


@router.post("/adapters/{version_id}/promote")
async def promote_adapter(version_id: str, service: PersonalizationDep) -> dict[str, Any]:
    """Serve this adapter from the next request on."""
    version = await service.promote(version_id)
    return {"active": version.id}


@router.post("/rollback")
async def rollback_adapter(service: PersonalizationDep) -> dict[str, Any]:
    """Go back one adapter version for the model now served."""
    previous = await service.rollback()
    return {"active": previous.id if previous else None}


@router.get("/dataset")
async def read_dataset(service: PersonalizationDep, web: WebDep) -> dict[str, Any]:
    """What a run would learn from now: the summary and the first examples of each split."""
    dataset = await asyncio.to_thread(
        build_current_dataset, service.settings, web.conversations.database
    )
    return {
        "summary": dataset.summary.to_json(),
        "train": [e.to_json() for e in dataset.train[:DATASET_PREVIEW]],
        "held_out": [e.to_json() for e in dataset.held_out[:DATASET_PREVIEW]],
    }


@router.get("/conversations/{conversation_id}")
async def read_conversation_learning(conversation_id: int, web: WebDep) -> dict[str, Any]:
    """Whether the hub may learn from this conversation."""
    database = web.conversations.database
    learn = await asyncio.to_thread(conversation_learning, database, conversation_id)
    return {"conversation_id": conversation_id, "learn": learn}


@router.put("/conversations/{conversation_id}")
async def update_conversation_learning(
    conversation_id: int, body: LearningBody, web: WebDep
) -> dict[str, Any]:
    """Let the hub learn from this conversation, or not ("don't learn from this")."""
    database = web.conversations.database
    learn = await asyncio.to_thread(
        set_conversation_learning, database, conversation_id, body.learn
    )
    return {"conversation_id": conversation_id, "learn": learn}


@router.put("/messages/{message_id}")
async def update_message_feedback(
    message_id: int, body: FeedbackBody, web: WebDep
) -> dict[str, Any]:
    """Mark an answer good or bad, or give the answer it should have been."""
    database = web.conversations.database
    feedback = await asyncio.to_thread(
        set_message_feedback, database, message_id, body.rating, body.edited_content
    )
    return {
        "message_id": feedback.message_id,
        "rating": feedback.rating,
        "edited_content": feedback.edited_content,
    }
