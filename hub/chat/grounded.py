"""Answers given with memories say what the memories say.

The start of such an answer (its first sentence) is held back and checked against the memories
the model was given (hub.recall.grounding). When it draws on one of them, it is sent, and the
rest streams as usual. When it draws on none (the small model ignored the note, talked about
the prompt, or named something no note says), the model is stopped and the answer is the best
memory itself (the first that holds what was asked: a time for "when"), restated, with its
citation. An answer to a question the memories need not answer is passed on as written, unless
it takes from them or speaks of the note instead of answering.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Callable

from hub.engine.runner import Generation, PieceRewriter
from hub.recall.grounding import (
    answering_memory,
    check_grounding,
    draws_on,
    restated,
    talks_about_the_prompt,
)

logger = logging.getLogger(__name__)

# The first sentence ends at . ! ? before a space, or at a line break ("3.5 km" stays whole).
SENTENCE_END = re.compile(r"[.!?](?=\s)|\n")
# At most this much is held back while the first sentence is still unfinished.
HOLD_CHARS = 300
# Said before a memory that matched the question only weakly, when the model did not use it.
UNSURE_PREFIX = "I'm not sure I know that. The closest thing I remember: "
# An answer to a question the memories need not answer, which takes nothing from them.
NOT_CHECKED = -1


def first_sentence(text: str) -> str | None:
    """The first sentence of ``text`` once it is complete, else None."""
    found = SENTENCE_END.search(text)
    return text[: found.end()].strip() if found else None


def grounded_rewriter(
    question: str,
    memories: list[str],
    on_source: Callable[[int], None],
    everyday: frozenset[str],
    sure: bool = True,
    asked: bool = True,
) -> PieceRewriter:
    """A rewrite of an answer given ``memories``: passed on when its start draws on one of them
    (``on_source`` is told which), else replaced by a memory restated (the first that holds what
    the question asks for; said to be only the closest memory when the match was not ``sure``).
    For a question the memories need not answer (not ``asked``: "what is the capital of
    France?"), an answer that repeats no name or number of theirs and does not speak of the note
    is passed on as the model wrote it; any other is checked the same way.
    ``everyday`` is the vocabulary of common words (hub.recall.grounding.check_grounding)."""

    def source_of(text: str) -> int | None:
        """The memory ``text`` draws on (NOT_CHECKED: it is passed on as it is)."""
        if not (asked or draws_on(text, memories, question) or talks_about_the_prompt(text)):
            return NOT_CHECKED
        return check_grounding(text, memories, question, everyday).source

    async def rewrite(inner: Generation) -> AsyncIterator[str]:
        held = ""
        checked = refused = False
        async for batch in inner.batches():
            if checked:
                for piece in batch:
                    yield piece
                continue
            held += "".join(batch)
            start = first_sentence(held)
            if start is None and len(held) < HOLD_CHARS:
                continue
            if (source := source_of(start or held)) is None:
                refused = True
                break  # leaving the loop stops the model
            if source != NOT_CHECKED:
                on_source(source)
            checked = True
            yield held
        if checked:
            return
        await inner.wait_finished()
        if not refused:
            if inner.stats.finish_reason == "cancelled":
                return  # the person stopped it before its first sentence was out
            # It finished within its first sentence: check what it said.
            source = source_of(held) if held else None
            if source is not None:
                if source != NOT_CHECKED:
                    on_source(source)
                yield held
                return
        inner.stats.finish_reason = "stop"  # the answer is complete, not cut short
        logger.info("answer %r not drawn from its memories; answering with the memory", held[:80])
        index = answering_memory(question, memories)
        on_source(index)
        answer = restated(memories[index])
        yield answer if sure else UNSURE_PREFIX + answer

    return rewrite
