"""ChatTurns: start one assistant turn: the conversation, with memory, fitted to the model.

Every way of chatting (the OpenAI endpoint, the web UI's conversations, voice) goes through
``ChatTurns.start``, so what the assistant knows and how it answers is decided in one place.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Protocol

from hub.chat.grounded import grounded_rewriter
from hub.engine.chat_model import ChatModel
from hub.engine.context_window import fit_chat
from hub.engine.runner import Generation, ModelRunner, finished_generation, rewritten_generation
from hub.engine.types import ChatMessage, GenerationStats, Prompt, Sampling, SamplingParams
from hub.models.catalog import ModelCatalog
from hub.recall.chat_memory import MemoryAccess, MemoryTurn, recall_for_turn
from hub.recall.grounding import asks_about
from hub.recall.service import MemoryService


class GenerationRecorder(Protocol):
    """Where a finished generation is counted (the hub's metrics)."""

    def record_generation(self, model: str, stats: GenerationStats) -> None:
        """Count one finished generation of ``model``."""


@dataclass(frozen=True)
class TurnOptions:
    """How to answer: sampling, the answer budget, what to do when the context overflows, and
    what the caller may do with memory."""

    sampling: Sampling = field(default_factory=Sampling)
    max_tokens: int | None = None
    trim_oldest: bool = False
    memory: MemoryAccess = field(default_factory=MemoryAccess)


@dataclass
class ChatTurn:
    """A running answer plus what it drew on (citations are filled in by memory, when present)."""

    generation: Generation
    citations: list[dict[str, Any]] = field(default_factory=list)

    def cite_only(self, index: int) -> None:
        """The answer drew on the ``index``-th memory given: cite that one (numbered 1)."""
        if 0 <= index < len(self.citations):
            self.citations[:] = [{**self.citations[index], "number": 1}]


@dataclass(frozen=True)
class ChatTurns:
    """What a chat turn needs, and nothing more: the model, memory recall, the metrics."""

    runner: ModelRunner
    catalog: ModelCatalog
    memory: MemoryService | None
    recorder: GenerationRecorder
    default_max_tokens: int

    async def start(
        self, model: str | None, messages: list[ChatMessage], options: TurnOptions
    ) -> ChatTurn:
        """Check the model, fit the conversation, and start generating (errors surface here)."""
        if model is not None:
            await asyncio.to_thread(self.catalog.get, model)
        recall = MemoryTurn()
        if self.memory is not None and (options.memory.read or options.memory.write):
            recall = await recall_for_turn(self.memory, messages, options.memory)
        if recall.reply is not None:  # a memory command: the hub answers it itself
            reply = finished_generation(model or self.runner.active, recall.reply)
            return ChatTurn(reply, recall.citations)
        memory_on = self.memory is not None

        def prepare(chat_model: ChatModel) -> tuple[Prompt, SamplingParams]:
            with_recall = recall.apply(chat_model, messages) if memory_on else messages
            return fit_chat(
                chat_model,
                messages=with_recall,
                requested_max_tokens=options.max_tokens,
                default_max_tokens=self.default_max_tokens,
                sampling=options.sampling,
                trim_oldest=options.trim_oldest,
            )

        generation = await self.runner.start(model, prepare)
        self.count_when_finished(generation)
        turn = ChatTurn(generation, recall.citations)
        notes = [hit.snippet for hit in recall.given]
        if notes and asks_about(recall.question, notes):
            rewriter = grounded_rewriter(recall.question, notes, turn.cite_only, recall.sure())
            turn.generation = rewritten_generation(generation, rewriter)
        return turn

    def count_when_finished(self, generation: Generation) -> None:
        """Count the generation in the metrics once the model is done with it."""
        generation.add_finish_callback(
            lambda: self.recorder.record_generation(generation.model_name, generation.stats)
        )
