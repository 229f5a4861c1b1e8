"""Which chat messages are kept as memories."""

from __future__ import annotations

import pytest

from hub.recall.message_policy import is_question, worth_remembering


@pytest.mark.parametrize(
    "said",
    [
        "I am allergic to peanuts and I keep an epinephrine pen in my bag.",
        "My sister Ana was born on 14 March.",
        "We moved to Porto last spring",
        "I had 3 apples.",
    ],
)
def test_statements_are_kept(said: str) -> None:
    assert worth_remembering(said)


@pytest.mark.parametrize(
    "said",
    [
        "What is my dog's name?",
        "when is my sister's birthday",
        "Do you know where I parked",
        "Tell me about my week",
        "Is it going to rain",
        "thanks!",
        "ok",
        "hello there",
    ],
)
def test_questions_and_small_talk_are_not_kept(said: str) -> None:
    assert not worth_remembering(said)


def test_a_question_mark_makes_a_question_whatever_the_first_word() -> None:
    assert is_question("My dog's name is what?")
    assert not is_question("My dog's name is Biscuit.")
