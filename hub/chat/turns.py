"""ChatTurns: start one assistant turn: the conversation, with memory, fitted to the model.

Every way of chatting (the OpenAI endpoint, the web UI's conversations, voice) goes through
``ChatTurns.start``, so what the assistant knows and how it answers is decided in one place.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from adapters.cue_words import everyday_words
from hub.chat.grounded import grounded_rewriter
from hub.chat.trimmed import trimmed_answer
from hub.engine.chat_model import ChatModel
from hub.engine.context_window import fit_chat
from hub.engine.runner import Generation, ModelRunner, finished_generation, rewritten_generation
from hub.engine.slot_gate import Priority
from hub.engine.tool_choice import choice_messages, choice_params, chosen, needs_choice
from hub.engine.tool_grammar import tool_grammar
from hub.engine.tool_prompt import with_tools
from hub.engine.tools import ToolRequest
from hub.engine.types import ChatMessage, GenerationStats, Prompt, Sampling, SamplingParams
from hub.models.catalog import ModelCatalog
from hub.recall.chat_memory import MemoryAccess, MemoryTurn, recall_for_turn
from hub.recall.context import PROMPT_ECHOES
from hub.recall.grounding import asks_about
from hub.recall.service import MemoryService


class GenerationRecorder(Protocol):
    """Where a finished generation is counted (the hub's metrics)."""

    def record_generation(self, model: str, stats: GenerationStats) -> None:
        """Count one finished generation of ``model``."""


@dataclass(frozen=True)
class TurnOptions:
    """How to answer: sampling, the answer budget, what to do when the context overflows, and
    what the caller may do with memory, the tools the model may call (read the answer with
    ``hub.engine.tool_reader``)."""

    sampling: Sampling = field(default_factory=Sampling)
    max_tokens: int | None = None
    trim_oldest: bool = False
    memory: MemoryAccess = field(default_factory=MemoryAccess)
    tools: ToolRequest | None = None
    priority: Priority = "chat"  # voice before chat before background when slots are shared


@dataclass
class ChatTurn:
    """A running answer plus what it drew on (citations are filled in by memory, when present)."""

    generation: Generation
    citations: list[dict[str, Any]] = field(default_factory=list)
    # The tools the answer was made with (for ``auto``, as the model chose): read it with them.
    tools: ToolRequest | None = None

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
    # Common words: an answer from a note with no name or number left must name an uncommon one.
    everyday: frozenset[str] = field(default_factory=everyday_words)

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
        tools = options.tools
        sampling = options.sampling
        grammar = tool_grammar(tools) if tools is not None else None  # a bad schema: 400 now
        if tools is not None and needs_choice(tools):
            tools = await self._choose_tool(model, messages, tools)
            grammar = tool_grammar(tools)
        if grammar is not None:
            sampling = replace(sampling, grammar=grammar)

        def prepare(chat_model: ChatModel) -> tuple[Prompt, SamplingParams]:
            with_recall = recall.apply(chat_model, messages) if memory_on else messages
            prompt, params = fit_chat(
                chat_model,
                messages=with_tools(with_recall, tools),
                requested_max_tokens=options.max_tokens,
                default_max_tokens=self.default_max_tokens,
                sampling=sampling,
                trim_oldest=options.trim_oldest,
            )
            if recall.given:  # the answer ends where the model starts to repeat the prompt
                prompt = replace(prompt, stop=prompt.stop + PROMPT_ECHOES)
            return prompt, params

        generation = await self.runner.start(model, prepare, options.priority)
        self.count_when_finished(generation)
        turn = ChatTurn(generation, recall.citations, tools)
        # A call must reach the caller as the model wrote it: only plain answers are rewritten.
        if grammar is not None:
            return turn
        turn.generation = rewritten_generation(generation, trimmed_answer)
        notes = [hit.snippet for hit in recall.given]
        if notes:  # grounding: an answer given notes says what they say
            asked = asks_about(recall.question, notes)
            rewriter = grounded_rewriter(
                recall.question, notes, turn.cite_only, self.everyday, recall.sure(), asked
            )
            turn.generation = rewritten_generation(turn.generation, rewriter)
        return turn

    async def _choose_tool(
        self, model: str | None, messages: list[ChatMessage], tools: ToolRequest
    ) -> ToolRequest:
        """Let the model choose the tool (or none) first (``hub.engine.tool_choice``)."""
        if not messages or messages[-1].role != "user":
            return chosen(tools, None)

        def prepare(chat_model: ChatModel) -> tuple[Prompt, SamplingParams]:
            return chat_model.render_chat(choice_messages(messages, tools)), choice_params(tools)

        generation = await self.runner.start(model, prepare)
        answer = "".join([piece async for piece in generation])
        await generation.wait_finished()
        return chosen(tools, answer)

    def count_when_finished(self, generation: Generation) -> None:
        """Count the generation in the metrics once the model is done with it."""
        generation.add_finish_callback(
            lambda: self.recorder.record_generation(generation.model_name, generation.stats)
        )
