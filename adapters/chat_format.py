"""Turn a question and answer into token ids the way the hub will prompt the model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# The hub's own transcript format for models without a chat template (base models); the hub
# stops generating at the next "\nUser:", so the model learns to write it after an answer.
PLAIN_PROMPT = "User: {prompt}\nAssistant:"
PLAIN_ANSWER = " {answer}\nUser:"


@dataclass(frozen=True)
class TokenizedExample:
    """Prompt and answer ids; only the answer is learned."""

    prompt_ids: list[int]
    answer_ids: list[int]

    @property
    def length(self) -> int:
        """Total tokens."""
        return len(self.prompt_ids) + len(self.answer_ids)


def prompt_text(tokenizer: Any, prompt: str) -> str:
    """The text the hub sends for a single user message, ending where the answer starts."""
    if getattr(tokenizer, "chat_template", None):
        rendered: str = tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=False
        )
        return rendered
    return PLAIN_PROMPT.format(prompt=prompt)


def answer_text(tokenizer: Any, answer: str) -> str:
    """The answer as the model should write it, ending with what stops the hub."""
    if getattr(tokenizer, "chat_template", None):
        return answer + str(tokenizer.eos_token or "")
    return PLAIN_ANSWER.format(answer=answer)


def tokenize_pair(tokenizer: Any, prompt: str, answer: str, max_tokens: int) -> TokenizedExample:
    """Token ids of one example, the answer cut to fit ``max_tokens`` in all."""
    prompt_ids = list(tokenizer(prompt_text(tokenizer, prompt))["input_ids"])
    answer_ids = list(
        tokenizer(answer_text(tokenizer, answer), add_special_tokens=False)["input_ids"]
    )
    prompt_ids = prompt_ids[-max(1, max_tokens // 2) :]
    answer_ids = answer_ids[: max(1, max_tokens - len(prompt_ids))]
    return TokenizedExample(prompt_ids, answer_ids)
