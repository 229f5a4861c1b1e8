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

# One question: a question word, up to 80 characters of one sentence, a question mark. Held to
# this and shown examples, the 135M model writes questions; held only to "a capital letter ...
# ?" under an instruction, it wrote a reply ("I'm glad to hear that your brother Wiremu is a
# kunekune pig farmer...?") for every one of the evaluation persons' facts tried.
QUESTION_GRAMMAR = r"""root ::= opener " " [^?\n.!;:"]{3,80} "?"
opener ::= ("What" | "Where" | "When" | "Who" | "Which" | "How" | "Why"
  | "Do" | "Does" | "Did" | "Is" | "Are")
"""
_INSTRUCTION = (
    "Turn the fact into the short question the user would ask about it, in the user's own "
    "words (I, my)."
)
# Shown as earlier turns: the small model follows examples where it ignores instructions.
_EXAMPLES = (
    ("My sister Ana lives in Porto.", "Where does my sister live?"),
    ("I take 20 mg of fluoxetine every morning.", "How much fluoxetine do I take?"),
    ("Our bins go out on Tuesday nights.", "When do our bins go out?"),
)
_WORD = re.compile(r"[a-z]{4,}")
# Not a question the person would ask about their own fact: one put to them ("What does your
# brother do?") or one asking what a word means ("What does coeliac mean?").
_NOT_THEIRS = re.compile(r"\b(?:you|your|yours)\b|^what does .* mean\?$", re.IGNORECASE)
MAX_QUESTION_WORDS = 16


def prepare_question(fact: str, model: ChatModel) -> tuple[Prompt, SamplingParams]:
    """The question-writing prompt with its examples, greedy, held to the question grammar."""
    messages = [ChatMessage("system", _INSTRUCTION)]
    for example_fact, example_question in _EXAMPLES:
        messages += [
            ChatMessage("user", f"Fact: {example_fact}"),
            ChatMessage("assistant", example_question),
        ]
    messages.append(ChatMessage("user", f"Fact: {fact}"))
    prompt = model.render_chat(messages)
    return prompt, SamplingParams(max_tokens=32, temperature=0.0, grammar=QUESTION_GRAMMAR)


def usable_question(question: str, fact: str) -> bool:
    """A question that asks about this fact as its person would: it shares a content word,
    does not give the whole fact away, is short, and is not put to the person."""
    shared = set(_WORD.findall(question.lower())) & set(_WORD.findall(fact.lower()))
    return (
        question.endswith("?")
        and bool(shared)
        and question.strip() != fact.strip()
        and len(question.split()) <= MAX_QUESTION_WORDS
        and _NOT_THEIRS.search(question.strip()) is None
    )


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
