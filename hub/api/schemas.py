"""Request bodies of the OpenAI-compatible endpoints, validated at the edge."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub.api.tool_schemas import ToolCallIn, ToolChoiceIn, ToolIn

MAX_TOKENS_CEILING = 1_000_000


class TextPart(BaseModel):
    """A text part of a multi-part message."""

    type: Literal["text"]
    text: str


class ChatMessageIn(BaseModel):
    """One message as OpenAI clients send it."""

    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[TextPart] | None = None
    tool_calls: list[ToolCallIn] | None = Field(
        default=None, description="An assistant message's calls, sent back on the next turn."
    )
    tool_call_id: str | None = Field(
        default=None, description="A tool message's answer to this call."
    )

    def text(self) -> str:
        """The message's text, parts joined."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content)


class StreamOptions(BaseModel):
    """OpenAI's stream options."""

    include_usage: bool = False


class SamplingFields(BaseModel):
    """Sampling fields shared by chat and text completions."""

    model_config = ConfigDict(extra="ignore")

    model: str = Field(min_length=1, max_length=200)
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(default=None, ge=1, le=MAX_TOKENS_CEILING)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    top_k: int | None = Field(default=None, ge=0, le=1000)
    min_p: float | None = Field(default=None, ge=0.0, le=1.0)
    repeat_penalty: float | None = Field(default=None, ge=0.5, le=2.0)
    frequency_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    presence_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    seed: int | None = None
    stop: str | list[str] | None = None
    n: int = Field(default=1, ge=1, le=1)

    @field_validator("stop")
    @classmethod
    def _check_stop(cls, value: str | list[str] | None) -> str | list[str] | None:
        if isinstance(value, list) and len(value) > 4:
            raise ValueError("at most 4 stop sequences")
        return value

    def stop_sequences(self) -> tuple[str, ...]:
        """Stop strings as a tuple."""
        if self.stop is None:
            return ()
        return (self.stop,) if isinstance(self.stop, str) else tuple(self.stop)


class ChatCompletionRequest(SamplingFields):
    """POST /v1/chat/completions."""

    messages: list[ChatMessageIn] = Field(min_length=1, max_length=10_000)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=MAX_TOKENS_CEILING)
    context_overflow: Literal["error", "trim_oldest"] = "error"
    tools: list[ToolIn] | None = Field(default=None, max_length=64)
    tool_choice: ToolChoiceIn | None = Field(
        default=None,
        description='"auto" (the default with tools): a call or a plain answer, as the model '
        'chooses; "required": a call; "none": no call; or a named function to call.',
    )
    parallel_tool_calls: bool | None = Field(
        default=None, description="Accepted; the hub makes at most one call per answer."
    )


class CompletionRequest(SamplingFields):
    """POST /v1/completions."""

    prompt: str | list[str]
    echo: bool = False

    @field_validator("prompt")
    @classmethod
    def _one_prompt(cls, value: str | list[str]) -> str | list[str]:
        if isinstance(value, list) and len(value) != 1:
            raise ValueError("send exactly one prompt; batches are not supported")
        return value

    def prompt_text(self) -> str:
        """The single prompt."""
        return self.prompt if isinstance(self.prompt, str) else self.prompt[0]


class ActiveModelRequest(BaseModel):
    """PUT /v1/models/active."""

    model: str = Field(min_length=1, max_length=200)
