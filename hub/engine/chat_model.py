"""The ChatModel seam: what the scheduler needs from any model that streams text."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

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
