"""/v1/conversations: the web UI's stored conversations, and answering in them."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub.api.auth import require_owner
from hub.api.conversation_schemas import (
    ConversationChunk,
    ConversationDeleted,
    ConversationList,
    ConversationObject,
    ConversationWithMessages,
)
from hub.api.conversation_stream import stream_conversation_turn
from hub.api.deps import ChatDep, WebDep
from hub.api.sse import EventStream, event_stream_doc
from hub.chat.conversation import start_conversation_turn

router = APIRouter(
    prefix="/v1/conversations",
    tags=["conversations"],
    dependencies=[Depends(require_owner)],
)

MAX_MESSAGE_CHARS = 32_000
MAX_TITLE_CHARS = 200
MAX_ID = 2**62

ConversationId = Annotated[int, Path(ge=1, le=MAX_ID, description="A conversation's id.")]
MessageId = Annotated[int, Path(ge=1, le=MAX_ID, description="A message's id.")]

STREAMED_TURN = event_stream_doc(
    ConversationChunk,
    "The answer as server-sent events (OpenAI chunks): the first adds conversation_id (and "
    "user_message, the stored message), the last is sent once the answer is stored and adds "
    "message_id, stopped, timings, usage, citations and the conversation.",
)


def _not_blank(value: str, what: str) -> str:
    if not value.strip():
        raise ValueError(f"{what} is empty; write something")
    return value


class ConversationCreate(BaseModel):
    """POST /v1/conversations."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, max_length=MAX_TITLE_CHARS)


class ConversationRename(BaseModel):
    """PATCH /v1/conversations/{id}."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(max_length=MAX_TITLE_CHARS)

    @field_validator("title")
    @classmethod
    def _title(cls, value: str) -> str:
        return _not_blank(value, "the title").strip()


class MessageCreate(BaseModel):
    """POST /v1/conversations/{id}/messages and PUT .../messages/{message_id}."""

    model_config = ConfigDict(extra="forbid")

    content: str = Field(max_length=MAX_MESSAGE_CHARS)

    @field_validator("content")
    @classmethod
    def _content(cls, value: str) -> str:
        return _not_blank(value, "the message")


@router.get("")
async def list_conversations(
    web: WebDep,
    q: Annotated[str | None, Query(max_length=200, description="Words in titles or text.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> ConversationList:
    """Conversations, most recently active first; ``q`` searches titles and messages."""
    query = q.strip() if q else None
    rows = await asyncio.to_thread(web.conversations.list_conversations, query or None, limit)
    return ConversationList(
        object="list", data=[ConversationObject.from_domain(row) for row in rows]
    )


@router.post("", status_code=201)
async def create_conversation(
    web: WebDep, body: ConversationCreate | None = None
) -> ConversationObject:
    """Start an empty conversation."""
    title = body.title.strip() if body and body.title and body.title.strip() else None
    summary = await asyncio.to_thread(web.conversations.create_conversation, title)
    return ConversationObject.from_domain(summary)


@router.get("/{conversation_id}")
async def read_conversation(
    conversation_id: ConversationId, web: WebDep
) -> ConversationWithMessages:
    """A conversation with all its messages, oldest first."""
    conversation = await asyncio.to_thread(web.conversations.get_conversation, conversation_id)
    return ConversationWithMessages.from_conversation(conversation)


@router.patch("/{conversation_id}")
async def update_conversation(
    conversation_id: ConversationId, body: ConversationRename, web: WebDep
) -> ConversationObject:
    """Rename a conversation."""
    summary = await asyncio.to_thread(
        web.conversations.rename_conversation, conversation_id, body.title
    )
    return ConversationObject.from_domain(summary)


@router.delete("/{conversation_id}")
async def delete_conversation(conversation_id: ConversationId, web: WebDep) -> ConversationDeleted:
    """Delete a conversation and its messages."""
    await asyncio.to_thread(web.conversations.delete_conversation, conversation_id)
    return ConversationDeleted(id=conversation_id, object="conversation", deleted=True)


@router.post(
    "/{conversation_id}/messages",
    response_model=None,
    response_class=Response,
    responses=STREAMED_TURN,
)
async def create_message(
    conversation_id: ConversationId, body: MessageCreate, web: WebDep, chat: ChatDep
) -> EventStream:
    """Send a message and stream the answer (SSE, OpenAI chunks); both are stored."""
    store = web.conversations
    user_message = await asyncio.to_thread(store.add_user_message, conversation_id, body.content)
    conversation = await asyncio.to_thread(store.get_conversation, conversation_id)
    turn = await start_conversation_turn(chat, web.preferences, conversation.messages)
    return stream_conversation_turn(web, conversation_id, turn, user_message=user_message)


@router.post(
    "/{conversation_id}/regenerate",
    response_model=None,
    response_class=Response,
    responses=STREAMED_TURN,
)
async def regenerate_message(
    conversation_id: ConversationId, web: WebDep, chat: ChatDep
) -> EventStream:
    """Answer the last message again; the new answer replaces the old one when it is stored."""
    history, replaces = await asyncio.to_thread(
        web.conversations.regeneration_history, conversation_id
    )
    turn = await start_conversation_turn(chat, web.preferences, history)
    return stream_conversation_turn(web, conversation_id, turn, replaces=replaces)


@router.put(
    "/{conversation_id}/messages/{message_id}",
    response_model=None,
    response_class=Response,
    responses=STREAMED_TURN,
)
async def update_message(
    conversation_id: ConversationId,
    message_id: MessageId,
    body: MessageCreate,
    web: WebDep,
    chat: ChatDep,
) -> EventStream:
    """Edit the last message you sent, drop what followed, and stream a new answer."""
    history = await asyncio.to_thread(
        web.conversations.edit_last_user_message,
        conversation_id,
        message_id,
        body.content,
    )
    turn = await start_conversation_turn(chat, web.preferences, history)
    return stream_conversation_turn(web, conversation_id, turn, user_message=history[-1])
