"""VoiceAssistant: a spoken request goes to the chat with memory; the answer is spoken sentence
by sentence, each sentence sent as soon as the model has finished it."""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from typing import Protocol

from hub.chat.turns import ChatTurns, TurnOptions
from hub.engine.runner import QueueFullError
from hub.engine.types import ChatMessage, Sampling
from hub.voice.engines import PerceptionEngines

logger = logging.getLogger(__name__)

# A sentence ends at . ! ? followed by a space or a line break ("3.5" and "e.g." mid-word stay).
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
# Words before a comma worth speaking on their own while the sentence goes on.
LONG_CLAUSE_WORDS = 8
BUSY_REPLY = "I am busy with another request. Please ask again in a moment."
FAILED_REPLY = "Sorry, something went wrong while answering."


class ReplySink(Protocol):
    """Where a spoken reply goes (a device link, a Wyoming satellite)."""

    async def sentence(self, index: int, text: str, pcm: bytes) -> None:
        """Play one sentence (PCM16 mono 16 kHz) after the ones before it."""

    async def finished(self, text: str) -> None:
        """The reply is complete; ``text`` is all of it."""


def complete_sentences(buffer: str) -> tuple[list[str], str]:
    """Sentences finished in ``buffer`` and the unfinished rest. A long sentence is cut after
    a comma, so the first words are spoken sooner."""
    parts = _SENTENCE_END.split(buffer)
    done = [part.strip() for part in parts[:-1] if part.strip()]
    rest = parts[-1]
    comma = rest.rfind(", ")
    if comma > 0 and len(rest[:comma].split()) >= LONG_CLAUSE_WORDS:
        done.append(rest[: comma + 1].strip())
        rest = rest[comma + 2 :]
    return done, rest


@dataclass(frozen=True)
class SpokenReply:
    """One answered request: what was asked, what was said, which memories it drew on."""

    request: str
    text: str
    citations: tuple[str, ...]
    sentences: int


class VoiceAssistant:
    """Answers spoken requests through the same chat turn as every other way of chatting."""

    def __init__(self, chat: ChatTurns, engines: PerceptionEngines, max_tokens: int) -> None:
        self.chat = chat
        self.engines = engines
        self.max_tokens = max_tokens
        self.answered = 0
        self.recent: list[SpokenReply] = []  # the latest few, newest last

    async def answer(self, request: str, sink: ReplySink) -> SpokenReply:
        """Answer ``request`` aloud into ``sink``."""
        said: list[str] = []
        cited: list[str] = []
        index = 0

        async def say(sentence: str) -> None:
            nonlocal index
            pcm = await asyncio.to_thread(self.engines.speak, sentence)
            if pcm:
                await sink.sentence(index, sentence, pcm)
                index += 1
                said.append(sentence)

        try:
            options = TurnOptions(
                Sampling(temperature=0.3), self.max_tokens, trim_oldest=True, priority="voice"
            )
            turn = await self.chat.start(None, [ChatMessage("user", request)], options)
            cited = [str(citation["id"]) for citation in turn.citations]
            buffer = ""
            async for piece in turn.generation:
                buffer += piece
                sentences, buffer = complete_sentences(buffer)
                for sentence in sentences:
                    await say(sentence)
            if buffer.strip():
                await say(buffer.strip())
        except QueueFullError:
            await say(BUSY_REPLY)
        except Exception:
            logger.exception("voice request failed: %r", request)
            await say(FAILED_REPLY)
        text = " ".join(said)
        reply = SpokenReply(request, text, tuple(cited), len(said))
        self.answered += 1
        self.recent = [*self.recent[-9:], reply]
        await sink.finished(text)
        logger.info("answered voice request %r with %r", request, text)
        return reply
