"""Render a conversation into prompt text with the model's own Jinja chat template."""

from __future__ import annotations

from datetime import datetime
from typing import NoReturn

from jinja2 import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from hub.engine.types import ChatMessage
from hub.errors import HubError


class ChatTemplateError(HubError, ValueError):
    """The model's chat template refused the conversation (for example, roles out of order)."""

    error_code = "invalid_messages"
    param = "messages"


def _raise_exception(message: str) -> NoReturn:
    raise ChatTemplateError(message)


class ChatTemplate:
    """A compiled chat template; model templates are untrusted, so they run in a sandbox."""

    def __init__(self, source: str, bos_token: str = "", eos_token: str = "") -> None:
        environment = ImmutableSandboxedEnvironment(
            trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"]
        )
        environment.globals["raise_exception"] = _raise_exception
        environment.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
        self._template = environment.from_string(source)
        self.bos_token = bos_token
        self.eos_token = eos_token

    def render(self, messages: list[ChatMessage]) -> str:
        """Return the prompt text for ``messages``, ending where the assistant should answer."""
        try:
            return self._template.render(
                messages=[{"role": m.role, "content": m.content} for m in messages],
                add_generation_prompt=True,
                bos_token=self.bos_token,
                eos_token=self.eos_token,
            )
        except ChatTemplateError:
            raise
        except TemplateError as exc:
            raise ChatTemplateError(f"the model's chat template failed: {exc}") from exc


# The system prompt the hub gives a chat turn with memory when the caller gives none (the
# same every turn, so its tokens stay cached).
HUB_SYSTEM_PROMPT = "You are a helpful personal assistant."


def render_plain_chat(messages: list[ChatMessage]) -> str:
    """A simple transcript format for models that carry no chat template (base models).

    The hub's own system prompt is left out: a base model reads it as a line of text to go on
    from, and Gemma 3 270M then answers as a person ("I am a student in ..."): 3 of the
    evaluation's 20 general questions right with it, 7 without. A caller's own is kept."""
    lines = []
    for message in messages:
        if message.role == "system" and message.content == HUB_SYSTEM_PROMPT:
            continue
        speaker = {"system": "", "user": "User: ", "assistant": "Assistant: "}.get(
            message.role, f"{message.role.capitalize()}: "
        )
        lines.append(f"{speaker}{message.content}")
    return "\n".join(lines) + "\nAssistant:"


PLAIN_CHAT_STOPS = ("\nUser:",)
