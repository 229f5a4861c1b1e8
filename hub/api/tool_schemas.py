"""Tool calls at the HTTP edge: declared functions, the tool choice, and calls in answers, in
the shapes of OpenAI's chat completions (Ollama's ``/api/chat`` declares tools the same way)."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from hub.engine.tools import ToolCall, ToolRequest, ToolSpec, tool_request, tool_spec


class FunctionIn(BaseModel):
    """A declared function; its parameters are checked as a JSON schema by the engine."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(description="1-64 letters, digits, '_' or '-'.")
    description: str | None = None
    parameters: dict[str, Any] | None = Field(
        default=None, description='A JSON schema of "type": "object"; none: no arguments.'
    )
    strict: bool | None = Field(
        default=None, description="Accepted and ignored: the hub always holds calls to it."
    )


class ToolIn(BaseModel):
    """One tool a request declares (only functions exist)."""

    type: Literal["function"]
    function: FunctionIn


class NamedFunction(BaseModel):
    """The function a named tool choice forces."""

    name: str


class NamedToolChoice(BaseModel):
    """``{"type": "function", "function": {"name": ...}}``: call exactly this tool."""

    type: Literal["function"]
    function: NamedFunction


ToolChoiceIn = Literal["none", "auto", "required"] | NamedToolChoice


def tool_request_of(tools: list[ToolIn] | None, choice: ToolChoiceIn | None) -> ToolRequest | None:
    """The engine's view of a request's tools (400 ``invalid_tools`` naming what is wrong)."""
    specs: list[ToolSpec] = [
        tool_spec(t.function.name, t.function.description, t.function.parameters, f"tools[{i}]")
        for i, t in enumerate(tools or [])
    ]
    if isinstance(choice, NamedToolChoice):
        return tool_request(specs, None, forced=choice.function.name)
    return tool_request(specs, choice)


class FunctionCallIn(BaseModel):
    """A call in an earlier assistant message, as OpenAI clients send it back."""

    model_config = ConfigDict(extra="ignore")

    name: str
    arguments: str | dict[str, Any] = Field(
        description="A JSON string (OpenAI) or an object (Ollama)."
    )


class ToolCallIn(BaseModel):
    """One call in an earlier assistant message."""

    model_config = ConfigDict(extra="ignore")

    id: str | None = None
    type: Literal["function"] = "function"
    function: FunctionCallIn

    def call(self) -> ToolCall:
        """The engine's view of it (arguments that are not a JSON object are kept as text)."""
        arguments = self.function.arguments
        if isinstance(arguments, str):
            try:
                parsed = json.loads(arguments)
            except ValueError:
                parsed = {"text": arguments}
            arguments = parsed if isinstance(parsed, dict) else {"value": parsed}
        return ToolCall(self.function.name, arguments, id=self.id or "")


class FunctionCallOut(BaseModel):
    """The function a call names, and its arguments as a JSON string (OpenAI's shape)."""

    name: str
    arguments: str = Field(description="A JSON object as a string, valid for the tool's schema.")


class ToolCallOut(BaseModel):
    """One call the model made."""

    id: str
    type: Literal["function"]
    function: FunctionCallOut

    @classmethod
    def of(cls, call: ToolCall) -> ToolCallOut:
        """OpenAI's shape of ``call``."""
        arguments = json.dumps(call.arguments, ensure_ascii=False)
        return cls(
            id=call.id,
            type="function",
            function=FunctionCallOut(name=call.name, arguments=arguments),
        )


class ToolCallDelta(ToolCallOut):
    """A call in a streamed chunk: the whole call at once, at its index."""

    index: int

    @classmethod
    def at(cls, index: int, call: ToolCall) -> ToolCallDelta:
        """The chunk's form of ``call``."""
        whole = ToolCallOut.of(call)
        return cls(index=index, id=whole.id, type="function", function=whole.function)
