"""Read the model's answer under a tool grammar: plain text to show at once, or a call.

The grammar lets a call begin only with "{" and a plain answer never, so the first character
decides; text streams on as it comes, a call is held until it is complete and then checked
against its tool's schema. A call that is not valid (cut off by the answer's budget, or outside
a constraint the grammar cannot express) is never returned as a call: its text is the answer.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Literal

from hub.engine.runner import Generation, rewritten_generation
from hub.engine.tools import ToolCall, ToolRequest

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ToolAnswer:
    """What the model answered: the calls it made, or (when it made none) its text, and the
    part of that text the reader held back (a call that turned out not to be valid)."""

    text: str
    calls: list[ToolCall] = field(default_factory=list)
    unreleased: str = ""


def parse_call(text: str, request: ToolRequest) -> ToolCall | str:
    """The call ``text`` holds, or why it is not a valid call of a callable tool."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        return f"not complete JSON ({exc})"
    if not isinstance(data, dict) or not isinstance(data.get("arguments"), dict):
        return 'not {"name": ..., "arguments": {...}}'
    name = data.get("name")
    tool = next((t for t in request.callable_tools() if t.name == name), None)
    if tool is None:
        return f"names no tool this answer may call ({name!r})"
    problem = next(iter(tool.validator().iter_errors(data["arguments"])), None)
    if problem is not None:
        return f"arguments break the schema of {tool.name}: {problem.message}"
    return ToolCall(tool.name, data["arguments"])


class ToolCallReader:
    """Feed the model's pieces in order; ``feed`` returns the text that may be shown now,
    ``finish`` the whole answer once the model has stopped."""

    def __init__(self, request: ToolRequest | None) -> None:
        self._request = request
        can_call = request is not None and bool(request.callable_tools())
        self._state: Literal["undecided", "text", "call"] = "undecided" if can_call else "text"
        self._held = ""
        self._text: list[str] = []

    @property
    def calling(self) -> bool:
        """True once the answer is known to be a call."""
        return self._state == "call"

    def feed(self, piece: str) -> str:
        """Take one piece; return the plain text it releases (none while a call is written)."""
        if self._state == "text":
            self._text.append(piece)
            return piece
        self._held += piece
        if self._state == "undecided":
            started = self._held.lstrip()
            if not started:
                return ""
            if started.startswith("{"):
                self._state = "call"
                return ""
            self._state = "text"
            released, self._held = self._held, ""
            self._text.append(released)
            return released
        return ""

    def finish(self) -> ToolAnswer:
        """The answer: the call when one was written and is valid, otherwise the text."""
        if self._state != "call" or self._request is None:
            return ToolAnswer("".join(self._text) + self._held, unreleased=self._held)
        parsed = parse_call(self._held.strip(), self._request)
        if isinstance(parsed, str):
            logger.warning("the model's tool call is not valid, answered as text: %s", parsed)
            return ToolAnswer(self._held, unreleased=self._held)
        return ToolAnswer("", [parsed])


def read_answer(text: str, request: ToolRequest | None) -> ToolAnswer:
    """A whole answer read at once (the non-streaming form)."""
    reader = ToolCallReader(request)
    reader.feed(text)
    return reader.finish()


def reading_calls(
    generation: Generation, request: ToolRequest
) -> tuple[Generation, ToolCallReader]:
    """``generation`` with only the text its reader releases (a call is held back); once it
    has ended, the reader's ``finish`` gives the calls."""
    reader = ToolCallReader(request)

    async def released(inner: Generation) -> AsyncIterator[str]:
        async for piece in inner:
            text = reader.feed(piece)
            if text:
                yield text

    return rewritten_generation(generation, released), reader
