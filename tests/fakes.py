"""A fake ChatModel: one token per word, answers exactly what it is told, can be held mid-answer."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

from hub.engine.types import ChatMessage, GenerationStats, Prompt, SamplingParams


class FakeChatModel:
    """Counts words as tokens and streams a fixed reply word by word."""

    def __init__(
        self,
        name: str = "fake",
        context_length: int = 64,
        reply: str = "a b c d",
        seconds_per_token: float = 0.0,
    ) -> None:
        self.name = name
        self.context_length = context_length
        self.reply = reply.split()
        self.seconds_per_token = seconds_per_token
        self.gate = threading.Event()
        self.gate.set()
        self.started = threading.Event()
        self.closed = False

    def render_chat(self, messages: list[ChatMessage]) -> Prompt:
        words = [w for m in messages for w in (m.role + " " + m.content).split()]
        return Prompt(list(range(len(words))))

    def render_text(self, text: str) -> Prompt:
        return Prompt(list(range(len(text.split()))))

    def generate(
        self,
        prompt: Prompt,
        params: SamplingParams,
        stats: GenerationStats,
        cancelled: Callable[[], bool],
    ) -> Iterator[str]:
        stats.prompt_tokens = len(prompt.tokens)
        self.started.set()
        for index, word in enumerate(self.reply[: params.max_tokens]):
            self.gate.wait(10)
            time.sleep(self.seconds_per_token)
            if cancelled():
                stats.finish_reason = "cancelled"
                return
            stats.completion_tokens += 1
            yield word if index == 0 else " " + word
        stats.finish_reason = "stop"

    def close(self) -> None:
        self.closed = True
