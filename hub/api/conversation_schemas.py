"""Answers of /v1/conversations: the web UI's stored conversations and the answers streamed in
them (OpenAI chunks with the conversation's own fields added)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from hub.api.openai_schemas import ChatCompletionChunk, Citation, Usage, citations_of
from hub.conversations.store import Conversation, ConversationSummary, StoredMessage

UNIX_TIME = "Unix time in seconds, with a fraction."


class ConversationObject(BaseModel):
    """A conversation, without its messages."""

    id: int
    object: Literal["conversation"]
    title: str
    created_at: float = Field(description=UNIX_TIME)
    updated_at: float = Field(description="When a message was last added. " + UNIX_TIME)
    learn: bool = Field(
        description="False when the person said not to learn from this conversation "
        "(nightly personalization leaves it out)."
    )

    @classmethod
    def from_domain(cls, summary: ConversationSummary) -> ConversationObject:
        """The API's view of a stored conversation."""
        return cls(
            id=summary.id,
            object="conversation",
            title=summary.title,
            created_at=summary.created_at,
            updated_at=summary.updated_at,
            learn=summary.learn,
        )


class MessageObject(BaseModel):
    """A stored message."""

    id: int
    role: Literal["user", "assistant"]
    content: str
    created_at: float = Field(description=UNIX_TIME)
    model: str | None = Field(description="The model that answered; null for the person's.")
    stopped: bool = Field(description="True when the answer was stopped before it finished.")
    finish_reason: str | None = Field(
        description='How the model stopped ("stop", "length", "cancelled"); null for the '
        "person's messages."
    )
    tokens_per_second: float | None = Field(
        description="Decoding speed of the answer; null when too short to measure."
    )
    citations: list[Citation] = Field(description="The memories the answer was given.")
    rating: Literal["good", "bad"] | None = Field(
        description="The person's verdict on an answer, if they gave one."
    )
    edited_content: str | None = Field(
        description="The answer as the person corrected it (content keeps the original)."
    )

    @classmethod
    def from_domain(cls, message: StoredMessage) -> MessageObject:
        """The API's view of a stored message."""
        return cls(
            id=message.id,
            role=message.role,
            content=message.content,
            created_at=message.created_at,
            model=message.model,
            stopped=message.stopped,
            finish_reason=message.finish_reason,
            tokens_per_second=message.tokens_per_second,
            citations=citations_of(message.citations),
            rating=message.rating,
            edited_content=message.edited_content,
        )


class ConversationWithMessages(ConversationObject):
    """A conversation with all its messages, oldest first."""

    messages: list[MessageObject]

    @classmethod
    def from_conversation(cls, conversation: Conversation) -> ConversationWithMessages:
        """The API's view of a stored conversation and its messages."""
        summary = ConversationObject.from_domain(conversation.summary)
        messages = [MessageObject.from_domain(message) for message in conversation.messages]
        return cls(**dict(summary), messages=messages)


class ConversationList(BaseModel):
    """Conversations, most recently active first."""

    object: Literal["list"]
    data: list[ConversationObject]


class ConversationDeleted(BaseModel):
    """What DELETE /v1/conversations/{id} answers."""

    id: int
    object: Literal["conversation"]
    deleted: Literal[True]


class ConversationChunk(ChatCompletionChunk):
    """One server-sent event of an answer in a conversation: an OpenAI chunk, the first and
    last with the conversation's own fields."""

    usage: Usage | None = Field(
        default=None, description="Only in the chunk that carries finish_reason."
    )
    conversation_id: int | None = Field(default=None, description="Only in the first chunk.")
    user_message: MessageObject | None = Field(
        default=None,
        description="Only in the first chunk, when the request stored the person's message.",
    )
    message_id: int | None = Field(
        default=None,
        description="Only in the last chunk: the stored answer's id; null when the "
        "conversation was deleted while it answered.",
    )
    stopped: bool | None = Field(
        default=None, description="Only in the last chunk: whether the answer was stopped."
    )
    conversation: ConversationObject | None = Field(
        default=None,
        description="Only in the last chunk: the conversation as it is now (null when it was "
        "deleted while it answered).",
    )
