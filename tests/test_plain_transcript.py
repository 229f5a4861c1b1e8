"""A base model without a chat template gets a plain transcript; the hub's own system prompt is
left out of it, as a base model reads it as text to continue, while a caller's is kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.engine.chat_template import PLAIN_CHAT_STOPS, render_plain_chat
from hub.engine.llama_model import LlamaCppModel
from hub.engine.types import ChatMessage, GenerationStats, SamplingParams
from hub.models.gguf_info import read_gguf_info
from hub.models.packaged import locate_gemma3
from hub.recall.context import DEFAULT_SYSTEM


def test_the_transcript_names_each_speaker_and_ends_where_the_assistant_answers() -> None:
    text = render_plain_chat(
        [
            ChatMessage("user", "Hi"),
            ChatMessage("assistant", "Hello."),
            ChatMessage("user", "What is the capital of Japan?"),
        ]
    )
    assert text == "User: Hi\nAssistant: Hello.\nUser: What is the capital of Japan?\nAssistant:"


def test_the_hubs_system_prompt_is_left_out_and_a_callers_is_kept() -> None:
    question = ChatMessage("user", "What is the capital of Japan?")
    hubs = render_plain_chat([ChatMessage("system", DEFAULT_SYSTEM), question])
    assert hubs == render_plain_chat([question])
    callers = render_plain_chat([ChatMessage("system", "Answer in French."), question])
    assert callers.startswith("Answer in French.\nUser: What is the capital of Japan?")


@pytest.mark.slow
def test_gemma_answers_a_general_question_asked_with_the_hubs_system_prompt(
    tmp_path: Path,
) -> None:
    # With the hub's system prompt written into its transcript, Gemma 3 270M answered this
    # "I am a student in the university."
    gemma = locate_gemma3(tmp_path)
    model = LlamaCppModel("gemma3-270m", gemma, read_gguf_info(gemma), 512, 1)
    try:
        prompt = model.render_chat(
            [
                ChatMessage("system", DEFAULT_SYSTEM),
                ChatMessage("user", "What is the capital of Japan?"),
            ]
        )
        assert prompt.stop == PLAIN_CHAT_STOPS  # Gemma 3 270M base carries no chat template
        params = SamplingParams(max_tokens=16, temperature=0.0, top_k=1)
        answer = "".join(model.generate(prompt, params, GenerationStats(), lambda: False))
        assert "Tokyo" in answer, answer
    finally:
        model.close()
