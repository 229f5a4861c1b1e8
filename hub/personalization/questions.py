"""Questions for facts the templates cannot phrase, written by the local model under a grammar."""

from __future__ import annotations

import dataclasses
import logging
import re
from functools import partial

from adapters.dataset import has_template
from adapters.examples import PersonInputs, SourceText
from hub.engine.chat_model import ChatModel
from hub.engine.runner import ModelRunner
from hub.engine.types import ChatMessage, Prompt, SamplingParams

logger = logging.getLogger(__name__)

# One question: a capital letter, up to 120 plain characters, a question mark.
QUESTION_GRAMMAR = r"""root ::= [A-Z] [^?\n]{3,120} "?"
"""
_INSTRUCTION = (
    "Write the one question the user would ask to be reminded of this fact about themselves. "
    "Use the user's own words (I, my). Answer with the question only."
)
_WORD = re.compile(r"[a-z]{4,}")


def prepare_question(fact: str, model: ChatModel) -> tuple[Prompt, SamplingParams]:
    """The question-writing prompt, greedy, held to the question grammar."""
    prompt = model.render_chat(
        [ChatMessage("system", _INSTRUCTION), ChatMessage("user", f"Fact: {fact}")]
    )
    return prompt, SamplingParams(max_tokens=48, temperature=0.0, grammar=QUESTION_GRAMMAR)


def usable_question(question: str, fact: str) -> bool:
    """A question that asks about this fact: it shares a content word and does not give the
    whole fact away."""
    shared = set(_WORD.findall(question.lower())) & set(_WORD.findall(fact.lower()))
    return question.endswith("?") and bool(shared) and question.strip() != fact.strip()


async def with_model_questions(
    runner: ModelRunner, inputs: PersonInputs, limit: int
) -> PersonInputs:
    """``inputs`` with a model-written question on up to ``limit`` facts without a template."""
    texts: list[SourceText] = []
    asked = 0
    for item in inputs.texts:
        if item.kind != "fact" or asked >= limit or has_template(item.text):
            texts.append(item)
            continue
        asked += 1
        try:
            generation = await runner.start(
                None, partial(prepare_question, item.text), "background"
            )
            question = "".join([piece async for piece in generation]).strip()
        except Exception:
            logger.exception("the model could not write a question for a fact")
            texts.append(item)
            continue
        if usable_question(question, item.text):
            item = dataclasses.replace(item, questions=(*item.questions, question))
        texts.append(item)
    return PersonInputs(inputs.conversations, texts)
