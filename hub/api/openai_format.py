"""Build answers the way OpenAI clients expect them (the models of ``hub.api.openai_schemas``)."""

from __future__ import annotations

import secrets
import time
from typing import Any

from hub.api.openai_schemas import (
    AnswerHead,
    AssistantMessage,
    ChatChoice,
    ChatCompletion,
    FinishReason,
    TextChoice,
    TextCompletion,
    Timings,
    Usage,
    citations_of,
)
from hub.api.tool_schemas import ToolCallOut
from hub.engine.tools import ToolCall
from hub.engine.types import GenerationStats


def new_id(prefix: str) -> str:
    """A fresh response id such as ``chatcmpl-…``."""
    return f"{prefix}-{secrets.token_hex(12)}"


def now() -> int:
    """Seconds since the epoch, as OpenAI's ``created``."""
    return int(time.time())


def answer_head(prefix: str, model: str) -> AnswerHead:
    """A new answer of ``model``: a fresh id (``prefix-…``) made now."""
    return AnswerHead(new_id(prefix), now(), model)


def finish_reason(stats: GenerationStats) -> FinishReason:
    """OpenAI's finish reason; a cancelled answer is reported as 'stop'."""
    return "length" if stats.finish_reason == "length" else "stop"


def chat_completion(
    head: AnswerHead,
    text: str,
    stats: GenerationStats,
    cited: list[dict[str, Any]],
    calls: list[ToolCall] | None = None,
) -> ChatCompletion:
    """A whole ``chat.completion``; with ``calls``, an answer that is a tool call."""
    message = AssistantMessage(role="assistant", content=text)
    if calls:
        message = AssistantMessage(
            role="assistant", content=None, tool_calls=[ToolCallOut.of(c) for c in calls]
        )
    choice = ChatChoice(
        index=0,
        message=message,
        finish_reason="tool_calls" if calls else finish_reason(stats),
        logprobs=None,
    )
    return ChatCompletion(
        id=head.id,
        object="chat.completion",
        created=head.created,
        model=head.model,
        choices=[choice],
        usage=Usage.from_stats(stats),
        timings=Timings.from_stats(stats),
        citations=citations_of(cited),
    )


def text_completion(head: AnswerHead, text: str, stats: GenerationStats) -> TextCompletion:
    """A whole ``text_completion``."""
    choice = TextChoice(index=0, text=text, finish_reason=finish_reason(stats), logprobs=None)
    return TextCompletion(
        id=head.id,
        object="text_completion",
        created=head.created,
        model=head.model,
        choices=[choice],
        usage=Usage.from_stats(stats),
        timings=Timings.from_stats(stats),
    )
