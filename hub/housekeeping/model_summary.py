"""A day's summary written by the local model at background priority, checked against what was
said; ``None`` (and the caller's plain summary) whenever the model is busy, absent or strays."""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import tzinfo
from functools import partial

from hub.engine.chat_model import ChatModel
from hub.engine.runner import ModelRunner
from hub.engine.types import ChatMessage, Prompt, SamplingParams
from hub.housekeeping.wording import header, timed_lines
from memory.housekeeping_types import DayGroup
from memory.hybrid import STOPWORDS
from memory.types import MemoryItem

logger = logging.getLogger(__name__)

IDLE_SECONDS = 2.0
IDLE_WAIT_MAX_S = 60.0  # a busy model: the plain summary now rather than a late one
PROMPT_CHARS = 6000  # about 1,500 tokens of the day, well inside the smallest context
MAX_TOKENS = 220
MIN_SHARED_WORDS = 3
MIN_OWN_SHARE = 0.85  # of the summary's words, at least this share is the day's own
# Words a faithful summary adds to what was said.
SUMMARY_WORDS = frozenset(
    [
        "user",
        "users",
        "said",
        "says",
        "talked",
        "mentioned",
        "planned",
        "plan",
        "plans",
        "asked",
        "discussed",
        "noted",
        "wanted",
        "needed",
        "remembered",
        "reminded",
        "day",
        "morning",
        "afternoon",
        "evening",
        "night",
        "later",
        "then",
        "also",
        "first",
        "next",
    ]
)
WORD = re.compile(r"[a-z0-9]+")

INSTRUCTIONS = (
    "You summarize one day of what the user said, heard or read, for their own memory. Each "
    "line starts with the time. Write at most five plain sentences: the topics, the people, "
    "places, plans and numbers mentioned, each with the time it came up. Do not invent anything."
)


def _words(text: str) -> set[str]:
    return {word for word in WORD.findall(text.lower()) if word not in STOPWORDS}


def _stem(word: str) -> str:
    return word[:5]


def grounded(summary: str, source: str) -> bool:
    """True when the model's summary keeps to the day: it shares words with it, and nearly
    every word of it (but the few a summary adds, like "user" or "talked") is the day's own.
    The packaged 135M model otherwise turns "call the plumber" into "the plumber is a master
    of his craft" and a café meeting into "a surprise dinner" (tried on this box)."""
    words = _words(summary)
    source_stems = {_stem(word) for word in _words(source)}
    own = {word for word in words if _stem(word) in source_stems or word in SUMMARY_WORDS}
    if len(summary) < 20 or len(words & _words(source)) < MIN_SHARED_WORDS:
        return False
    return len(own) >= MIN_OWN_SHARE * len(words)


def prepare_summary(day_text: str, model: ChatModel) -> tuple[Prompt, SamplingParams]:
    """The summary prompt, greedy and short."""
    prompt = model.render_chat(
        [ChatMessage("system", INSTRUCTIONS), ChatMessage("user", day_text[:PROMPT_CHARS])]
    )
    return prompt, SamplingParams(max_tokens=MAX_TOKENS, temperature=0.0)


async def model_summary(
    runner: ModelRunner,
    group: DayGroup,
    items: list[MemoryItem],
    tz: tzinfo,
    idle_wait: float = IDLE_WAIT_MAX_S,
) -> str | None:
    """The header and the model's summary of the day, or None (busy for ``idle_wait`` seconds,
    absent, or off the day)."""
    if not await runner.activity.wait_idle(IDLE_SECONDS, idle_wait):
        return None
    day_text = "\n".join(timed_lines(items, tz, PROMPT_CHARS))
    try:
        generation = await runner.start(None, partial(prepare_summary, day_text), "background")
        parts = [piece async for piece in generation]
        await generation.wait_finished()
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        logger.info(
            "the model could not summarize %s %s (%s); a plain one instead",
            group.kind,
            group.day,
            exc,
        )
        return None
    written = " ".join("".join(parts).split())
    if not grounded(written, day_text):
        logger.info(
            "the model's summary of %s %s strayed from the day; a plain one instead",
            group.kind,
            group.day,
        )
        return None
    return f"{header(group, items, tz)}\n{written}"
