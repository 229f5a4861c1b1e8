"""Sampling settings from a request's fields, the same for the OpenAI and the Ollama shapes."""

from __future__ import annotations

from typing import Protocol

from hub.engine.types import Sampling


class SamplingRequest(Protocol):
    """The sampling fields a request carries (None: the hub's default)."""

    temperature: float | None
    top_p: float | None
    top_k: int | None
    min_p: float | None
    repeat_penalty: float | None
    frequency_penalty: float | None
    presence_penalty: float | None
    seed: int | None

    def stop_sequences(self) -> tuple[str, ...]:
        """The stop strings asked for."""
        ...


def sampling_from(fields: SamplingRequest, grammar: str | None = None) -> Sampling:
    """Sampling settings from a request; unset fields keep the hub's defaults."""
    defaults = Sampling()
    return Sampling(
        temperature=defaults.temperature if fields.temperature is None else fields.temperature,
        top_p=fields.top_p or defaults.top_p,
        top_k=defaults.top_k if fields.top_k is None else fields.top_k,
        min_p=defaults.min_p if fields.min_p is None else fields.min_p,
        repeat_penalty=fields.repeat_penalty or defaults.repeat_penalty,
        frequency_penalty=fields.frequency_penalty or 0.0,
        presence_penalty=fields.presence_penalty or 0.0,
        seed=fields.seed,
        stop=fields.stop_sequences(),
        grammar=grammar,
    )
