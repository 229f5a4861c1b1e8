"""Fitting a conversation into the context: a clear refusal, or trimming the oldest turns."""

from __future__ import annotations

import pytest

from hub.engine.context_window import ContextOverflowError, fit_chat, fit_text
from hub.engine.types import ChatMessage, Sampling
from tests.fakes import FakeChatModel

PARAMS = Sampling()


def conversation(turns: int) -> list[ChatMessage]:
    messages = [ChatMessage("system", "be brief")]
    for index in range(turns):
        messages += [
            ChatMessage("user", f"question {index} " + "w " * 5),
            ChatMessage("assistant", "ok"),
        ]
    return [*messages, ChatMessage("user", "last question")]


def test_default_budget_fills_the_room_left() -> None:
    model = FakeChatModel(context_length=64)
    prompt, params = fit_chat(model, conversation(1), None, 512, PARAMS, False)
    assert params.max_tokens == 64 - len(prompt.tokens)


def test_overflow_is_refused_with_a_fix() -> None:
    model = FakeChatModel(context_length=64)
    with pytest.raises(ContextOverflowError, match="trim_oldest"):
        fit_chat(model, conversation(10), 16, 512, PARAMS, False)


def test_trimming_drops_oldest_turns_but_keeps_system_and_last() -> None:
    model = FakeChatModel(context_length=64)
    messages = conversation(10)
    prompt, params = fit_chat(model, messages, 16, 512, PARAMS, True)
    assert params.max_tokens == 16
    assert len(prompt.tokens) + 16 <= 64
    kept = model.render_chat([messages[0], messages[-1]])
    assert len(prompt.tokens) > len(kept.tokens)


def test_too_big_even_after_trimming_is_refused() -> None:
    model = FakeChatModel(context_length=8)
    messages = [ChatMessage("user", "w " * 50)]
    with pytest.raises(ContextOverflowError, match="context of 8 tokens"):
        fit_chat(model, messages, None, 512, PARAMS, True)


def test_max_tokens_beyond_the_context_is_refused() -> None:
    model = FakeChatModel(context_length=64)
    with pytest.raises(ContextOverflowError, match="max_tokens"):
        fit_text(model, "hello", 10_000, 512, PARAMS)
