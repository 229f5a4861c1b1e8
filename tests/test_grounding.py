"""Answers given with memories say what the memories say: the check of an answer's start
against its memories, the memory restated when the answer draws on none, and the rewrite of a
streamed answer (fast: no model; the real model's answers are checked in test_memory_api)."""

from __future__ import annotations

import asyncio

from hub.chat.grounded import first_sentence, grounded_rewriter
from hub.engine.runner import finished_generation, rewritten_generation
from hub.recall.grounding import asks_about, check_grounding, restated

SISTER = "My sister Oriana lives in Tavira."
DOSE = "I take 75 mg of venlafaxine every morning."
OTHER = "Priya swims at the pool in Ronda twice a week."


def test_an_answer_that_says_what_a_memory_says_is_drawn_from_it() -> None:
    question = "Which town would I travel to for a visit with my sibling?"
    assert check_grounding("You would travel to Tavira.", [SISTER], question).source == 0
    assert check_grounding("It is 75 mg, every morning.", [SISTER, DOSE], "my dose?").source == 1


def test_an_answer_that_invents_or_ignores_its_memories_is_drawn_from_none() -> None:
    question = "Where does my sister live?"
    for answer in [
        "Svetlana's home is in Lucca.",  # a name no memory holds
        "The user provided a list of facts, but nothing about your sister.",  # the prompt
        "The answer is: 2025-03-14.",  # metadata
        "I'm sorry, I can't help with that.",  # a refusal
        "Your sister lives in a lovely town.",  # nothing the question did not already hold
    ]:
        assert check_grounding(answer, [SISTER], question).source is None, answer


def test_only_questions_the_memories_should_answer_are_checked() -> None:
    assert asks_about("Which city is my sister in?", [SISTER])
    assert asks_about("When is Dário's birthday?", ["My son Dário was born on 3 March 2014."])
    assert not asks_about("What is the capital of France?", [OTHER])


def test_a_memory_is_restated_as_said_back_to_its_author() -> None:
    assert restated(SISTER) == "Your sister Oriana lives in Tavira."
    assert restated("i take 75 mg of venlafaxine every morning") == (
        "You take 75 mg of venlafaxine every morning."
    )
    assert first_sentence("In 3.5 km. Then") == "In 3.5 km."
    assert first_sentence("Still going") is None


def rewrite(answer: str, memories: list[str], question: str) -> tuple[str, list[int]]:
    async def run() -> tuple[str, list[int]]:
        cited: list[int] = []
        inner = finished_generation("fake", answer)
        outer = rewritten_generation(inner, grounded_rewriter(question, memories, cited.append))
        text = "".join([piece async for piece in outer])
        await outer.wait_finished()
        assert outer.stats.finish_reason == "stop"
        return text, cited

    return asyncio.run(run())


def test_a_grounded_answer_streams_as_it_was_and_cites_its_memory() -> None:
    answer = "Your dose is 75 mg. Take it with breakfast."
    assert rewrite(answer, [OTHER, DOSE], "What is my dose?") == (answer, [1])


def test_an_answer_drawn_from_nothing_is_replaced_by_the_memory() -> None:
    text, cited = rewrite("Dr. Abernethy is the carer of Bruno.", [SISTER], "Where is my sister?")
    assert text == "Your sister Oriana lives in Tavira."
    assert cited == [0]
