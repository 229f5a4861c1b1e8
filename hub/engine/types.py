"""Plain data passed between the API, the scheduler and a model."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ChatMessage:
    """One turn of a conversation."""

    role: str
    content: str


@dataclass(frozen=True)
class Sampling:
    """How to pick tokens, as a request asks; temperature 0 means greedy. The answer's length
    budget is not part of it: the context window decides that (see ``context_window``)."""

    temperature: float = 0.7
    top_p: float = 0.95
    top_k: int = 40
    min_p: float = 0.05
    repeat_penalty: float = 1.0
    frequency_penalty: float = 0.0
    presence_penalty: float = 0.0
    seed: int | None = None
    stop: tuple[str, ...] = ()
    grammar: str | None = None  # GBNF text; the answer must match it (llama.cpp grammars)

    def with_max_tokens(self, max_tokens: int) -> SamplingParams:
        """These settings with the answer's budget: what a model generates with."""
        return SamplingParams(**vars(self), max_tokens=max_tokens)


@dataclass(frozen=True, kw_only=True)
class SamplingParams(Sampling):
    """Sampling plus the most tokens the answer may have: what a model runs with."""

    max_tokens: int


@dataclass(frozen=True)
class Prompt:
    """Tokens to feed the model, plus text that ends the answer when it appears."""

    tokens: list[int]
    stop: tuple[str, ...] = ()
    # For a remote engine, which applies its own template: what was rendered, as it was.
    messages: tuple[ChatMessage, ...] | None = None
    text: str | None = None


@dataclass
class GenerationStats:
    """What one generation cost; filled in by the model as it runs."""

    prompt_tokens: int = 0
    cached_prompt_tokens: int = 0
    completion_tokens: int = 0
    time_to_first_token: float | None = None
    decode_seconds: float = 0.0
    finish_reason: str = "stop"
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def decode_tokens_per_second(self) -> float | None:
        """Tokens per second after the first one, or None when too few to measure."""
        if self.completion_tokens < 2 or self.decode_seconds <= 0:
            return None
        return (self.completion_tokens - 1) / self.decode_seconds
