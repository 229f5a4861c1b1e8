"""Start one assistant turn: the conversation, fitted to the model, handed to the runner.

Every way of chatting (the OpenAI endpoint, the web UI's conversations, voice) goes through
``start_chat_turn``, so what the assistant knows and how it answers is decided in one place.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from hub.api.services import HubServices
from hub.api.streaming import record_when_finished
from hub.engine.chat_model import ChatModel
from hub.engine.context_window import fit_chat
from hub.engine.runner import Generation, finished_generation
from hub.engine.types import ChatMessage, Prompt, SamplingParams
from hub.recall.chat_memory import MemoryTurn, recall_for_turn


@dataclass(frozen=True)
class TurnOptions:
    """How to answer: sampling, the answer budget, and what to do when the context overflows."""

    params: SamplingParams
    max_tokens: int | None = None
    trim_oldest: bool = False


@dataclass
class ChatTurn:
    """A running answer plus what it drew on (citations are filled in by memory, when present)."""

    generation: Generation
    citations: list[dict[str, Any]] = field(default_factory=list)


async def start_chat_turn(
    services: HubServices, model: str | None, messages: list[ChatMessage], options: TurnOptions
) -> ChatTurn:
    """Check the model, fit the conversation, and start generating (errors surface here)."""
    if model is not None:
        await asyncio.to_thread(services.catalog.get, model)
    recall = MemoryTurn()
    if services.memory is not None:
        recall = await recall_for_turn(services.memory, messages)
    if recall.reply is not None:  # a memory command: the hub answers it itself
        reply = finished_generation(model or services.runner.active, recall.reply)
        return ChatTurn(reply, recall.citations)

    def prepare(chat_model: ChatModel) -> tuple[Prompt, SamplingParams]:
        with_recall = messages if services.memory is None else recall.apply(chat_model, messages)
        return fit_chat(
            chat_model,
            messages=with_recall,
            requested_max_tokens=options.max_tokens,
            default_max_tokens=services.settings.default_max_tokens,
            params=options.params,
            trim_oldest=options.trim_oldest,
        )

    generation = await services.runner.start(model, prepare)
    record_when_finished(services, generation)
    return ChatTurn(generation, recall.citations)
