"""Fit a prompt and its answer budget into the model's context window."""

from __future__ import annotations

from hub.engine.chat_model import ChatModel
from hub.engine.types import ChatMessage, Prompt, Sampling, SamplingParams
from hub.errors import HubError


class ContextOverflowError(HubError, ValueError):
    """The conversation plus the answer budget does not fit the model's context."""

    error_code = "context_length_exceeded"
    param = "messages"


def _budget(prompt_size: int, requested: int | None, default: int, context: int) -> int | None:
    room = context - prompt_size
    if requested is None:
        return min(default, room) if room > 0 else None
    return requested if requested <= room else None


def fit_chat(
    model: ChatModel,
    messages: list[ChatMessage],
    requested_max_tokens: int | None,
    default_max_tokens: int,
    sampling: Sampling,
    trim_oldest: bool,
) -> tuple[Prompt, SamplingParams]:
    """Render ``messages``; when asked, drop the oldest turns (never the system prompt or the
    last message) until the prompt and the answer budget fit."""
    kept = list(messages)
    while True:
        prompt = model.render_chat(kept)
        budget = _budget(
            len(prompt.tokens), requested_max_tokens, default_max_tokens, model.context_length
        )
        if budget is not None:
            return prompt, sampling.with_max_tokens(budget)
        droppable = [i for i, m in enumerate(kept[:-1]) if m.role != "system"]
        if not trim_oldest or not droppable:
            break
        del kept[droppable[0]]
    wanted = requested_max_tokens or 1
    hint = (
        "send fewer or shorter messages, lower max_tokens"
        if trim_oldest
        else 'send fewer or shorter messages, lower max_tokens, or set "context_overflow": '
        '"trim_oldest" to drop the oldest turns'
    )
    raise ContextOverflowError(
        f"this conversation needs {len(prompt.tokens)} prompt tokens plus {wanted} for the "
        f"answer, but model {model.name!r} has a context of {model.context_length} tokens; {hint}"
    )


def fit_text(
    model: ChatModel,
    text: str,
    requested_max_tokens: int | None,
    default_max_tokens: int,
    sampling: Sampling,
) -> tuple[Prompt, SamplingParams]:
    """Tokenize a raw completion prompt and check that it fits with its answer budget."""
    prompt = model.render_text(text)
    budget = _budget(
        len(prompt.tokens), requested_max_tokens, default_max_tokens, model.context_length
    )
    if budget is None:
        raise ContextOverflowError(
            f"this prompt is {len(prompt.tokens)} tokens plus {requested_max_tokens or 1} for the "
            f"answer, but model {model.name!r} has a context of {model.context_length} tokens; "
            "shorten the prompt or lower max_tokens"
        )
    return prompt, sampling.with_max_tokens(budget)
