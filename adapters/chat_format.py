"""Turn a question and answer into token ids the way the hub will prompt the model."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from adapters.examples import TrainingExample

# The hub's own transcript format for models without a chat template (base models); the hub
# stops generating at the next "\nUser:", so the model learns to write it after an answer.
PLAIN_PROMPT = "User: {prompt}\nAssistant:"
PLAIN_ANSWER = " {answer}\nUser:"


@dataclass(frozen=True)
class TokenizedExample:
    """Prompt and answer ids; only the answer is learned."""

    prompt_ids: list[int]
    answer_ids: list[int]
    # Where the person's own question sits in prompt_ids (start, end), for word dropout
    # (adapters/word_dropout.py); None: not marked.
    question_span: tuple[int, int] | None = None

    @property
    def length(self) -> int:
        """Total tokens."""
        return len(self.prompt_ids) + len(self.answer_ids)


def prompt_text(tokenizer: Any, prompt: str, system: str = "") -> str:
    """The text the hub sends for a single user message (after ``system`` when given, else
    the model's own default), ending where the answer starts."""
    messages = [{"role": "user", "content": prompt}]
    if system:
        messages.insert(0, {"role": "system", "content": system})
    if getattr(tokenizer, "chat_template", None):
        rendered: str = tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, tokenize=False
        )
        return rendered
    plain = PLAIN_PROMPT.format(prompt=prompt)
    return f"{system}\n{plain}" if system else plain


def answer_text(tokenizer: Any, answer: str) -> str:
    """The answer as the model should write it, ending with what stops the hub."""
    if getattr(tokenizer, "chat_template", None):
        return answer + str(tokenizer.eos_token or "")
    return PLAIN_ANSWER.format(answer=answer)


def tokenize_pair(
    tokenizer: Any, prompt: str, answer: str, max_tokens: int, system: str = ""
) -> TokenizedExample:
    """Token ids of one example, cut to fit ``max_tokens`` in all."""
    prompt_ids = list(tokenizer(prompt_text(tokenizer, prompt, system))["input_ids"])
    answer_ids = list(
        tokenizer(answer_text(tokenizer, answer), add_special_tokens=False)["input_ids"]
    )
    # A long answer keeps at least half the room; a short one leaves the rest to the prompt,
    # so memories shown in the prompt keep their system message.
    answer_ids = answer_ids[: max(1, max_tokens // 2, max_tokens - len(prompt_ids))]
    prompt_ids = prompt_ids[-max(1, max_tokens - len(answer_ids)) :]
    return TokenizedExample(prompt_ids, answer_ids)


# The examples whose question word dropout may thin: a memory asked without memories shown.
# Conversations keep what the person said, and general questions are there as they are.
_DROPPABLE_SOURCES = ("fact", "note", "transcript")


def question_span(prompt_ids: list[int], question_ids: list[int]) -> tuple[int, int] | None:
    """Where ``question_ids`` last occur in ``prompt_ids`` (start, end), or None."""
    width = len(question_ids)
    for start in range(len(prompt_ids) - width, -1, -1):
        if width and prompt_ids[start : start + width] == question_ids:
            return start, start + width
    return None


def tokenize_example(tokenizer: Any, example: TrainingExample, max_tokens: int) -> TokenizedExample:
    """Token ids of a training example, with its own system message when it has one, and its
    question marked when word dropout may thin it."""
    pair = tokenize_pair(tokenizer, example.prompt, example.answer, max_tokens, example.system)
    if example.system or example.source not in _DROPPABLE_SOURCES:
        return pair
    question = list(tokenizer(example.prompt, add_special_tokens=False)["input_ids"])
    span = question_span(pair.prompt_ids, question)
    return pair if span is None else replace(pair, question_span=span)
