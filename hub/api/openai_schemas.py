"""Answers of the OpenAI-compatible endpoints, named as in OpenAI's API reference, plus the hub's
own additions (``timings``, ``citations``; OpenAI clients ignore them).

A streamed answer is a series of chunks (``StreamChunk``): each is sent with only the fields it
was given, so the fields every chunk carries are required (no defaults), and the ones that
appear in some chunks only (``usage``, ``timings``, ...) default to None and are left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field

from hub.api.tool_schemas import ToolCallDelta, ToolCallOut
from hub.engine.types import GenerationStats

FinishReason = Literal["stop", "length", "tool_calls"]

FINISH_REASON = (
    '"tool_calls" when the answer is a tool call, "length" when the answer reached its token '
    'budget, "stop" otherwise (also when the client went away and the answer was cut short).'
)


@dataclass(frozen=True)
class AnswerHead:
    """What every object of one answer repeats: its id, when it began, the model answering."""

    id: str
    created: int
    model: str


class PromptTokensDetails(BaseModel):
    """Where the prompt's tokens came from."""

    cached_tokens: int = Field(
        description="Prompt tokens reused from the model's cache (an unchanged prefix of an "
        "earlier request), so not evaluated again."
    )


class Usage(BaseModel):
    """Token counts of one answer."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    prompt_tokens_details: PromptTokensDetails

    @classmethod
    def from_stats(cls, stats: GenerationStats) -> Usage:
        """The counts of a finished generation."""
        return cls(
            prompt_tokens=stats.prompt_tokens,
            completion_tokens=stats.completion_tokens,
            total_tokens=stats.prompt_tokens + stats.completion_tokens,
            prompt_tokens_details=PromptTokensDetails(cached_tokens=stats.cached_prompt_tokens),
        )


class Timings(BaseModel):
    """The hub's own speed figures for one answer (not in OpenAI's schema)."""

    time_to_first_token_ms: float | None = Field(
        description="Milliseconds until the first token, rounded to 0.01; null if none came."
    )
    decode_tokens_per_second: float | None = Field(
        description="Tokens per second after the first one, rounded to 0.01; null when the "
        "answer was too short to measure."
    )

    @classmethod
    def from_stats(cls, stats: GenerationStats) -> Timings:
        """The figures of a finished generation."""
        ttft = stats.time_to_first_token
        rate = stats.decode_tokens_per_second
        return cls(
            time_to_first_token_ms=round(ttft * 1000, 2) if ttft is not None else None,
            decode_tokens_per_second=round(rate, 2) if rate is not None else None,
        )


class Citation(BaseModel):
    """A memory the model was given for this answer, numbered as the model saw it."""

    number: int = Field(description="The memory's number in the model's prompt: [1], [2], ...")
    id: str = Field(description="The memory's id (GET /v1/memory/{id}).")
    snippet: str = Field(description="The part of the memory that matched.")
    kind: str
    happened_at: str = Field(description="When it happened, ISO 8601.")
    score: float = Field(description="The search's ranking score, rounded to 6 places.")
    similarity: float | None = Field(
        description="Cosine similarity to the question, rounded to 4 places; null when only "
        "the text search found it."
    )


def citations_of(cited: list[dict[str, Any]]) -> list[Citation]:
    """Citations as recall made them (plain data, as they are also stored) for the answer."""
    return [Citation.model_validate(item) for item in cited]


class AssistantMessage(BaseModel):
    """The answer's message."""

    role: Literal["assistant"]
    content: str | None = Field(description="The answer's text; null when it is a tool call.")
    tool_calls: list[ToolCallOut] | None = Field(
        default=None, description="The tool call the model made, when it made one."
    )


class ChatChoice(BaseModel):
    """The one answer (the hub always answers with one choice)."""

    index: int
    message: AssistantMessage
    finish_reason: FinishReason = Field(description=FINISH_REASON)
    logprobs: None = Field(description="Always null: the hub reports no log probabilities.")


class ChatCompletion(BaseModel):
    """POST /v1/chat/completions with ``stream`` false: the whole answer."""

    id: str
    object: Literal["chat.completion"]
    created: int = Field(description="Unix time in seconds.")
    model: str = Field(description="The model that answered.")
    choices: list[ChatChoice]
    usage: Usage
    timings: Timings
    citations: list[Citation] = Field(
        description="The memories the model was given (empty when memory is off or none fit)."
    )


class StreamChunk(BaseModel):
    """One piece of a streamed answer; it is sent with only the fields it was given."""

    model_config = ConfigDict(extra="forbid")

    def event(self) -> dict[str, Any]:
        """The chunk as the event's JSON data."""
        return self.model_dump(mode="json", exclude_unset=True)


class ChunkDelta(BaseModel):
    """What a chunk adds to the answer: the role (first chunk only), then text; a field it
    does not carry is left out, never null."""

    role: Literal["assistant"] | None = None
    content: str | None = None
    tool_calls: list[ToolCallDelta] | None = Field(
        default=None, description="A tool call, whole, in one chunk before the last."
    )


class ChunkChoice(BaseModel):
    """The one choice of a chunk."""

    index: int
    delta: ChunkDelta = Field(description="Empty in the chunk that carries finish_reason.")
    finish_reason: FinishReason | None = Field(
        description="null in every chunk but the last of the answer. " + FINISH_REASON
    )
    logprobs: None


class ChatCompletionChunk(StreamChunk):
    """One server-sent event of POST /v1/chat/completions with ``stream`` true."""

    id: str
    object: Literal["chat.completion.chunk"]
    created: int = Field(description="Unix time in seconds.")
    model: str
    choices: list[ChunkChoice] = Field(
        description="One choice; none in the usage chunk of POST /v1/chat/completions."
    )
    timings: Timings | None = Field(
        default=None, description="Only in the chunk that carries finish_reason."
    )
    usage: Usage | None = Field(
        default=None,
        description="Only in a last chunk of its own (with no choices), sent when "
        "stream_options.include_usage is true.",
    )
    citations: list[Citation] | None = Field(
        default=None, description="Only in the chunk that carries finish_reason."
    )

    @classmethod
    def of(
        cls,
        head: AnswerHead,
        delta: ChunkDelta,
        reason: FinishReason | None = None,
        **extra: Any,
    ) -> Self:
        """A chunk of the answer ``head`` names; ``extra`` sets the fields some chunks carry."""
        choice = ChunkChoice(index=0, delta=delta, finish_reason=reason, logprobs=None)
        return cls(
            id=head.id,
            object="chat.completion.chunk",
            created=head.created,
            model=head.model,
            choices=[choice],
            **extra,
        )


class TextChoice(BaseModel):
    """The one continuation."""

    index: int
    text: str
    finish_reason: FinishReason | None = Field(
        description="null in every streamed chunk but the last. " + FINISH_REASON
    )
    logprobs: None


class TextCompletion(BaseModel):
    """POST /v1/completions with ``stream`` false: the whole continuation."""

    id: str
    object: Literal["text_completion"]
    created: int = Field(description="Unix time in seconds.")
    model: str
    choices: list[TextChoice]
    usage: Usage
    timings: Timings


class TextCompletionChunk(StreamChunk):
    """One server-sent event of POST /v1/completions with ``stream`` true."""

    id: str
    object: Literal["text_completion"]
    created: int = Field(description="Unix time in seconds.")
    model: str
    choices: list[TextChoice]
    timings: Timings | None = Field(default=None, description="Only in the last chunk.")
    usage: Usage | None = Field(
        default=None,
        description="Only in the last chunk, when stream_options.include_usage is true.",
    )

    @classmethod
    def of(
        cls, head: AnswerHead, text: str, reason: FinishReason | None = None, **extra: Any
    ) -> Self:
        """A chunk of the answer ``head`` names; ``extra`` sets the fields the last carries."""
        choice = TextChoice(index=0, text=text, finish_reason=reason, logprobs=None)
        return cls(
            id=head.id,
            object="text_completion",
            created=head.created,
            model=head.model,
            choices=[choice],
            **extra,
        )
