"""Extract facts from what the person said, with the local model held to a JSON grammar.

Jobs wait in SQLite (memory.jobs); a worker runs them only while the model is idle, so chat is
never delayed by more than one short extraction. Output is validated, then merged with similar
facts (memory.facts). A failed attempt is retried; after the last one the job stays 'failed'
with its error, and the failure is logged.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from dataclasses import dataclass
from functools import partial

from hub.engine.chat_model import ChatModel
from hub.engine.runner import ModelRunner
from hub.engine.types import ChatMessage, Prompt, SamplingParams
from hub.recall.service import MemoryService
from memory.errors import UnknownMemoryError
from memory.facts import FactOutcome, remember_fact
from memory.hybrid import STOPWORDS

logger = logging.getLogger(__name__)

MAX_FACTS = 3
MAX_FACT_CHARS = 160
IDLE_SECONDS = 2.0
RETRY_PAUSE_SECONDS = 5.0

# At most MAX_FACTS strings of at most MAX_FACT_CHARS plain characters: the grammar makes any
# completed answer valid JSON of exactly this shape, whatever the model.
FACTS_GRAMMAR = r"""
root   ::= "{" ws "\"facts\"" ws ":" ws "[" ws ( fact ( ws "," ws fact ){0,2} )? ws "]" ws "}"
fact   ::= "\"" char{3,160} "\""
char   ::= [^"\\\x00-\x1F] | "\\" ["\\/nt]
ws     ::= [ \n]{0,2}
"""

INSTRUCTIONS = (
    "You extract lasting facts about the user from one message they wrote. Reply only with "
    'JSON: {"facts": ["..."]}. Each fact is one short sentence about the user, such as '
    '"The user lives in Lisbon." Leave out questions, greetings and passing remarks. If the '
    'message holds no fact about the user, reply {"facts": []}.'
)
WORD = re.compile(r"[a-z0-9]+")


class ExtractionError(RuntimeError):
    """The model's answer could not be used (cut off, or not the promised shape)."""


@dataclass(frozen=True)
class Extraction:
    """The facts accepted from one message, and those rejected with the reason."""

    accepted: list[str]
    rejected: list[tuple[str, str]]


def _content_words(text: str) -> set[str]:
    return {w for w in WORD.findall(text.lower()) if w not in STOPWORDS and w != "user"}


def _stem(word: str) -> str:
    return word[:5]


def parse_facts(answer: str, message: str) -> Extraction:
    """Check the model's JSON and keep the facts that are grounded in the message."""
    try:
        data = json.loads(answer)
    except ValueError as exc:
        raise ExtractionError(f"the answer is not complete JSON ({exc}): {answer[:200]!r}") from exc
    facts = data.get("facts") if isinstance(data, dict) else None
    if not isinstance(facts, list) or not all(isinstance(fact, str) for fact in facts):
        raise ExtractionError(f'the answer is not {{"facts": [strings]}}: {answer[:200]!r}')
    source_stems = {_stem(word) for word in _content_words(message)}
    accepted: list[str] = []
    rejected: list[tuple[str, str]] = []
    for raw in facts:
        fact = " ".join(raw.split()).strip()
        words = _content_words(fact)
        if len(fact) < 8 or not words:
            rejected.append((raw, "too short"))
        elif len(fact.split()) > 8 and len(set(fact.lower().split())) < 0.6 * len(fact.split()):
            rejected.append((raw, "repeats itself"))
        elif not {_stem(word) for word in words} & source_stems:
            rejected.append((raw, "shares no words with the message (made up?)"))
        elif any(fact.lower() == kept.lower() for kept in accepted):
            rejected.append((raw, "duplicate"))
        else:
            accepted.append(fact)
    return Extraction(accepted, rejected)


# Two worked examples: without them the 135M model answers {"facts": []} to everything.
EXAMPLES = [
    ChatMessage("user", "I have two cats and I live in Berlin."),
    ChatMessage("assistant", '{"facts": ["The user has two cats.", "The user lives in Berlin."]}'),
    ChatMessage("user", "What time is it?"),
    ChatMessage("assistant", '{"facts": []}'),
]


def prepare_extraction(message: str, model: ChatModel) -> tuple[Prompt, SamplingParams]:
    """The extraction prompt, greedy, held to the facts grammar."""
    prompt = model.render_chat(
        [ChatMessage("system", INSTRUCTIONS), *EXAMPLES, ChatMessage("user", message[:2000])]
    )
    return prompt, SamplingParams(max_tokens=200, temperature=0.0, grammar=FACTS_GRAMMAR)


async def extract_facts(runner: ModelRunner, message: str) -> Extraction:
    """Ask the active model for facts in ``message`` and validate its answer."""
    generation = await runner.start(None, partial(prepare_extraction, message), "background")
    parts = [piece async for piece in generation]
    await generation.wait_finished()
    if generation.stats.finish_reason == "length":
        raise ExtractionError("the answer ran out of tokens before the JSON closed")
    return parse_facts("".join(parts).strip(), message)


class FactExtractionWorker:
    """Runs queued extraction jobs one by one, whenever the model has been idle a moment."""

    def __init__(self, memory: MemoryService, runner: ModelRunner) -> None:
        self.memory = memory
        self.runner = runner

    async def run_one(self) -> bool:
        """Run the oldest pending job; False when there was none."""
        job = await asyncio.to_thread(self.memory.jobs.next_pending)
        if job is None:
            return False
        try:
            item = await asyncio.to_thread(self.memory.store.get, job.item_id)
        except UnknownMemoryError:
            await asyncio.to_thread(self.memory.jobs.finish, job.id)  # forgotten meanwhile
            return True
        try:
            extraction = await extract_facts(self.runner, item.text)
            outcomes: list[FactOutcome] = []
            for fact in extraction.accepted:
                outcomes.append(
                    await asyncio.to_thread(
                        remember_fact,
                        self.memory.store,
                        fact,
                        "conversation",
                        (item.id,),
                        item.happened_at,
                        {"extracted_by": self.runner.active},
                    )
                )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await asyncio.to_thread(self.memory.jobs.fail, job.id, str(exc))
            await asyncio.sleep(RETRY_PAUSE_SECONDS)
            return True
        await asyncio.to_thread(self.memory.jobs.finish, job.id)
        logger.info(
            "facts from %s: %s; rejected: %s",
            item.id,
            [f"{o.action} {o.item.id}" for o in outcomes] or "none",
            extraction.rejected or "none",
        )
        return True

    async def run(self) -> None:
        """Work through the queue for as long as the hub runs."""
        self.memory.job_queued.listen()
        while True:
            try:
                await self.runner.activity.wait_idle(IDLE_SECONDS)
                if not await self.run_one():
                    await self.memory.job_queued.wait(timeout=10)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("fact extraction worker hit an error; continuing")
                await asyncio.sleep(RETRY_PAUSE_SECONDS)
