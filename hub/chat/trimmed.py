"""An answer without the blank space around it.

A base model on a plain transcript (Gemma 3 270M after ``Assistant:``) starts its answer with a
space, and one cut where it starts repeating the prompt ends with a blank line. A chat answer is
shown and stored without them; whitespace inside the answer streams as written, only held back
until more text follows it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from hub.engine.runner import Generation


async def trimmed_answer(inner: Generation) -> AsyncIterator[str]:
    """``inner``'s text, without its leading and trailing whitespace."""
    started = False
    held = ""
    async for piece in inner:
        if not started:
            piece = piece.lstrip()
            started = bool(piece)
        text = held + piece
        body = text.rstrip()
        held = text[len(body) :]
        if body:
            yield body
