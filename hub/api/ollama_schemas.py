"""Bodies and answers of the Ollama-compatible API (/api/*), in the shapes Ollama's clients read.

Durations are nanoseconds and times ISO 8601, as Ollama sends them. Fields Ollama's clients may
send that this hub has no use for (``keep_alive``, most ``options``) are accepted and ignored,
so Home Assistant and Open WebUI work unchanged.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub.api.openai_schemas import Citation, StreamChunk
from hub.api.response_base import ResponseModel
from hub.api.schemas import MAX_TOKENS_CEILING
from hub.api.tool_schemas import ToolCallIn, ToolIn
from hub.engine.tools import ToolCall

MAX_STOP_SEQUENCES = 16
MAX_EMBED_INPUTS = 2048

KeepAlive = str | float | None


class OllamaOptions(BaseModel):
    """The ``options`` of a request: the sampling ones are used; the rest (num_gpu, mirostat,
    ...) are accepted and have no effect here."""

    model_config = ConfigDict(extra="allow")

    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    top_k: int | None = Field(default=None, ge=0, le=1000)
    min_p: float | None = Field(default=None, ge=0.0, le=1.0)
    repeat_penalty: float | None = Field(default=None, ge=0.5, le=2.0)
    frequency_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    presence_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    seed: int | None = None
    stop: str | list[str] | None = None
    # -1: as long as the context allows; -2: fill the context (both: the hub's own budget).
    num_predict: int | None = Field(default=None, ge=-2, le=MAX_TOKENS_CEILING)
    # The hub's context is set when the model loads (HUB_CONTEXT_LENGTH): accepted, not applied.
    num_ctx: int | None = Field(default=None, ge=1)

    @field_validator("stop")
    @classmethod
    def _check_stop(cls, value: str | list[str] | None) -> str | list[str] | None:
        if isinstance(value, list) and len(value) > MAX_STOP_SEQUENCES:
            raise ValueError(f"at most {MAX_STOP_SEQUENCES} stop sequences")
        return value

    def stop_sequences(self) -> tuple[str, ...]:
        """Stop strings as a tuple."""
        if self.stop is None:
            return ()
        return (self.stop,) if isinstance(self.stop, str) else tuple(self.stop)

    def max_tokens(self) -> int | None:
        """The answer budget asked for; None leaves it to the hub."""
        return self.num_predict if self.num_predict is not None and self.num_predict > 0 else None


class OllamaMessageIn(BaseModel):
    """One message as Ollama's clients send it (thinking is ignored): an assistant's earlier
    calls, with arguments as objects, and a tool's result, named by ``tool_name``."""

    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "user", "assistant", "tool"]
    content: str | None = None
    images: list[str] | None = None
    tool_calls: list[ToolCallIn] | None = None
    tool_name: str | None = None


class GenerationFields(BaseModel):
    """What /api/chat and /api/generate share."""

    model_config = ConfigDict(extra="ignore")

    model: str = Field(min_length=1, max_length=200)
    stream: bool = True
    options: OllamaOptions = Field(default_factory=OllamaOptions)
    format: Literal["", "json"] | dict[str, Any] | None = None
    keep_alive: KeepAlive = None


class OllamaChatIn(GenerationFields):
    """POST /api/chat."""

    messages: list[OllamaMessageIn] = Field(default_factory=list, max_length=10_000)
    tools: list[ToolIn] | None = Field(
        default=None,
        description="Functions the model may call (the model decides, as in Ollama); a call "
        "always names one of them with arguments valid for its schema.",
    )


class OllamaGenerateIn(GenerationFields):
    """POST /api/generate."""

    prompt: str = ""
    system: str | None = None
    raw: bool = False
    suffix: str | None = None
    images: list[str] | None = None


class ModelNameIn(BaseModel):
    """A body naming a model (``name`` is what older clients send)."""

    model_config = ConfigDict(extra="ignore")

    model: str | None = Field(default=None, min_length=1, max_length=200)
    name: str | None = Field(default=None, min_length=1, max_length=200)
    stream: bool = True

    def model_name(self) -> str:
        """The model asked about."""
        return self.model or self.name or ""


class OllamaEmbedIn(BaseModel):
    """POST /api/embed."""

    model_config = ConfigDict(extra="ignore")

    model: str = Field(min_length=1, max_length=200)
    input: str | list[str] = Field(max_length=MAX_EMBED_INPUTS)
    truncate: bool = True
    dimensions: int | None = Field(default=None, ge=1)
    keep_alive: KeepAlive = None


class OllamaEmbeddingsIn(BaseModel):
    """POST /api/embeddings (the older, single-text form)."""

    model_config = ConfigDict(extra="ignore")

    model: str = Field(min_length=1, max_length=200)
    prompt: str
    keep_alive: KeepAlive = None


class DoneFields(StreamChunk):
    """What the last line of an answer adds: why it ended, and what it cost."""

    done: bool
    done_reason: str | None = None
    total_duration: int | None = Field(default=None, description="Nanoseconds, in all.")
    load_duration: int | None = Field(default=None, description="Nanoseconds loading the model.")
    prompt_eval_count: int | None = Field(default=None, description="Prompt tokens.")
    prompt_eval_duration: int | None = Field(default=None, description="Nanoseconds reading it.")
    eval_count: int | None = Field(default=None, description="Answer tokens.")
    eval_duration: int | None = Field(default=None, description="Nanoseconds writing them.")
    citations: list[Citation] | None = Field(
        default=None, description="The memories the answer drew on (the hub's own field)."
    )


class OllamaFunctionCallOut(BaseModel):
    """The function a call names, with its arguments as an object (Ollama's shape)."""

    name: str
    arguments: dict[str, Any]


class OllamaToolCallOut(BaseModel):
    """One call the model made."""

    function: OllamaFunctionCallOut

    @classmethod
    def of(cls, call: ToolCall) -> OllamaToolCallOut:
        """Ollama's shape of ``call``."""
        return cls(function=OllamaFunctionCallOut(name=call.name, arguments=call.arguments))


class OllamaMessageOut(BaseModel):
    """The answer's message (its text in pieces while streaming; its calls, if any, whole)."""

    role: Literal["assistant"]
    content: str
    tool_calls: list[OllamaToolCallOut] | None = None


class OllamaChatChunk(DoneFields):
    """One line of /api/chat: a piece of the answer, or (``done``) the last line."""

    model: str
    created_at: str
    message: OllamaMessageOut


class OllamaGenerateChunk(DoneFields):
    """One line of /api/generate: a piece of the answer, or (``done``) the last line."""

    model: str
    created_at: str
    response: str


class ModelDetails(BaseModel):
    """What a model is, as Ollama describes it."""

    parent_model: str
    format: Literal["gguf"]
    family: str
    families: list[str]
    parameter_size: str
    quantization_level: str


class OllamaModelOut(ResponseModel):
    """One model of /api/tags."""

    name: str = Field(description="name:tag, such as smollm2-135m-instruct:latest.")
    model: str
    modified_at: str
    size: int
    digest: str = Field(description="Names this version of the file (not a manifest's hash).")
    details: ModelDetails


class OllamaTagsOut(ResponseModel):
    """GET /api/tags: the models the hub can serve."""

    models: list[OllamaModelOut]


class OllamaRunningModelOut(OllamaModelOut):
    """One model of /api/ps: loaded now."""

    expires_at: str
    size_vram: int
    context_length: int


class OllamaPsOut(ResponseModel):
    """GET /api/ps: the models in memory now."""

    models: list[OllamaRunningModelOut]


class OllamaShowOut(ResponseModel):
    """POST /api/show: one model in detail."""

    modelfile: str
    parameters: str
    template: str
    license: str
    details: ModelDetails
    model_info: dict[str, Any]
    capabilities: list[str]
    modified_at: str


class OllamaVersionOut(ResponseModel):
    """GET /api/version."""

    version: str


class OllamaStatusOut(StreamChunk):
    """A line of /api/pull (and its whole answer when not streamed)."""

    status: str


class OllamaEmbedOut(ResponseModel):
    """POST /api/embed."""

    model: str
    embeddings: list[list[float]]
    total_duration: int
    load_duration: int
    prompt_eval_count: int


class OllamaEmbeddingOut(ResponseModel):
    """POST /api/embeddings."""

    embedding: list[float]
