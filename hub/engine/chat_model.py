"""The ChatModel seam: what the scheduler needs from any model that streams text."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol, runtime_checkable

from hub.engine.types import ChatMessage, GenerationStats, Prompt, SamplingParams


class ChatModel(Protocol):
    """A loaded model. Calls come from one worker thread at a time, never concurrently."""

    name: str
    context_length: int

    def render_chat(self, messages: list[ChatMessage]) -> Prompt:
        """Turn a conversation into prompt tokens and stop strings."""
        ...

    def render_text(self, text: str) -> Prompt:
        """Turn raw completion text into prompt tokens."""
        ...

    def generate(
        self,
        prompt: Prompt,
        params: SamplingParams,
        stats: GenerationStats,
        cancelled: Callable[[], bool],
    ) -> Iterator[str]:
        """Yield text pieces until done, the budget runs out, or ``cancelled()`` turns true."""
        ...

    def close(self) -> None:
        """Free the model's memory."""
        ...


@runtime_checkable
class AdapterSwappable(Protocol):
    """A model that can serve with a LoRA adapter, swapped between requests."""

    def set_adapter(self, path: Path | None) -> None:
        """Serve with the LoRA adapter at ``path`` from the next request on; None: none."""
        ...


@runtime_checkable
class FallsBack(Protocol):
    """A model that may be unreachable (a remote engine); a local model answers meanwhile."""

    fallback: str

    def reachable(self) -> bool:
        """False while it is known to be down (it is then not tried)."""
        ...

    def connect(self, prompt: Prompt, params: SamplingParams) -> bool:
        """Start the request; False when it cannot answer it (then the fallback does)."""
        ...
