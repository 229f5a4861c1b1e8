"""/v1/personalization: nightly LoRA runs, adapters, promote and roll back, the dataset, and
what the person lets the hub learn from (conversation opt-out, answer ratings and corrections)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends

from hub.api.auth import require_owner
from hub.api.deps import PersonalizationDep, WebDep
from hub.api.personalization_schemas import (
    ActiveAdapterOut,
    AdapterList,
    AdapterOut,
    ConversationLearningOut,
    DatasetPreviewOut,
    FeedbackBody,
    LearningBody,
    MessageFeedbackOut,
    PersonalizationStatusOut,
    RunBody,
)
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


@router.get("")
async def read_personalization(service: PersonalizationDep) -> PersonalizationStatusOut:
    """The run going on (progress, ETA, losses), the last outcome and the schedule."""
    status = await asyncio.to_thread(service.status)
    return PersonalizationStatusOut.model_validate(status)


@router.post("/runs", status_code=202)
async def create_run(
    service: PersonalizationDep, body: RunBody | None = None
) -> PersonalizationStatusOut:
    """Start a run now (in a child process); 409 while one is going."""
    status = await service.start_run(force=(body or RunBody()).force)
    return PersonalizationStatusOut.model_validate(status)


# exclude_unset: an adapter's stored parts are sent with the fields its meta.json holds.
@router.get("/adapters", response_model_exclude_unset=True)
async def list_adapters(service: PersonalizationDep) -> AdapterList:
    """Every adapter, newest first, with its metrics, dataset summary and losses."""
    listings = await asyncio.to_thread(service.versions)
    return AdapterList(
        object="list", data=[AdapterOut.from_domain(listing) for listing in listings]
    )


@router.post("/adapters/{version_id}/promote")
async def promote_adapter(version_id: str, service: PersonalizationDep) -> ActiveAdapterOut:
    """Serve this adapter from the next request on."""
    version = await service.promote(version_id)
    return ActiveAdapterOut(active=version.id)


@router.post("/rollback")
async def rollback_adapter(service: PersonalizationDep) -> ActiveAdapterOut:
    """Go back one adapter version for the model now served."""
    previous = await service.rollback()
    return ActiveAdapterOut(active=previous.id if previous else None)


@router.get("/dataset")
async def read_dataset(service: PersonalizationDep, web: WebDep) -> DatasetPreviewOut:
    """What a run would learn from now: the summary and the first examples of each split."""
    dataset = await asyncio.to_thread(
        build_current_dataset, service.settings, web.conversations.database
    )
    return DatasetPreviewOut.from_domain(dataset, DATASET_PREVIEW)


@router.get("/conversations/{conversation_id}")
async def read_conversation_learning(conversation_id: int, web: WebDep) -> ConversationLearningOut:
    """Whether the hub may learn from this conversation."""
    database = web.conversations.database
    learn = await asyncio.to_thread(conversation_learning, database, conversation_id)
    return ConversationLearningOut(conversation_id=conversation_id, learn=learn)


@router.put("/conversations/{conversation_id}")
async def update_conversation_learning(
    conversation_id: int, body: LearningBody, web: WebDep
) -> ConversationLearningOut:
    """Let the hub learn from this conversation, or not ("don't learn from this")."""
    database = web.conversations.database
    learn = await asyncio.to_thread(
        set_conversation_learning, database, conversation_id, body.learn
    )
    return ConversationLearningOut(conversation_id=conversation_id, learn=learn)


@router.put("/messages/{message_id}")
async def update_message_feedback(
    message_id: int, body: FeedbackBody, web: WebDep
) -> MessageFeedbackOut:
    """Mark an answer good or bad, or give the answer it should have been."""
    database = web.conversations.database
    feedback = await asyncio.to_thread(
        set_message_feedback, database, message_id, body.rating, body.edited_content
    )
    return MessageFeedbackOut.model_validate(feedback)
