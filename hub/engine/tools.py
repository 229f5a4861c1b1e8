"""Tool calls as the engine sees them: the declared tools, the caller's choice, and the calls.

Every API that offers tool calls (OpenAI's ``/v1/chat/completions``, Ollama's ``/api/chat``)
parses its request into a ``ToolRequest`` with ``tool_request``, passes it to ``ChatTurns.start``
in ``TurnOptions.tools``, and reads the model's answer with ``hub.engine.tool_reader``. The
format on the wire (arguments as a JSON string or as an object) is the route's business.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from jsonschema import Draft202012Validator, SchemaError

from hub.errors import HubError

ToolMode = Literal["none", "auto", "required"]
MODES: dict[str, ToolMode] = {"none": "none", "auto": "auto", "required": "required"}

NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_TOOLS = 64
MAX_DESCRIPTION_CHARS = 1024


class ToolSchemaError(HubError, ValueError):
    """A declared tool or the tool choice cannot be used; the message names what to fix."""

    error_code = "invalid_tools"

    def __init__(self, message: str, param: str = "tools") -> None:
        super().__init__(message)
        self.param = param


@dataclass(frozen=True)
class ToolSpec:
    """One function the model may call: its name, what it does, its JSON-schema parameters."""

    name: str
    description: str
    parameters: Mapping[str, Any]

    def validator(self) -> Draft202012Validator:
        """A validator of this tool's arguments."""
        return Draft202012Validator(dict(self.parameters))


@dataclass(frozen=True)
class ToolRequest:
    """The tools a request declares and how the model may use them. ``mode`` "required" with
    ``forced`` set is OpenAI's named function: that one tool must be called."""

    tools: tuple[ToolSpec, ...]
    mode: ToolMode = "auto"
    forced: str | None = None

    def callable_tools(self) -> tuple[ToolSpec, ...]:
        """The tools the model may call in this answer (none when ``mode`` is "none")."""
        if self.mode == "none":
            return ()
        if self.forced is not None:
            return tuple(tool for tool in self.tools if tool.name == self.forced)
        return self.tools

    def tool(self, name: str) -> ToolSpec | None:
        """The declared tool called ``name``, if any."""
        return next((tool for tool in self.tools if tool.name == name), None)


@dataclass(frozen=True)
class ToolCall:
    """One call the model made: a fresh id, the tool's name, its arguments as an object."""

    name: str
    arguments: dict[str, Any]
    id: str = field(default_factory=lambda: f"call_{secrets.token_hex(12)}")


def tool_spec(name: object, description: object, parameters: object, where: str) -> ToolSpec:
    """Check one declared function (its name, description and parameter schema)."""
    if not isinstance(name, str) or not NAME.match(name):
        raise ToolSchemaError(
            f"{where}.name must be 1-64 letters, digits, '_' or '-' (got {name!r})"
        )
    if description is None:
        description = ""
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION_CHARS:
        raise ToolSchemaError(
            f"{where}.description must be a string of at most {MAX_DESCRIPTION_CHARS} characters"
        )
    if parameters is None:
        parameters = {"type": "object", "properties": {}}
    if not isinstance(parameters, dict) or parameters.get("type", "object") != "object":
        raise ToolSchemaError(
            f'{where}.parameters must be a JSON schema of "type": "object" (the arguments are '
            "always an object); put a single value inside a property"
        )
    try:
        Draft202012Validator.check_schema(parameters)
    except SchemaError as exc:
        raise ToolSchemaError(
            f"{where}.parameters is not a valid JSON schema: {exc.message}"
        ) from exc
    return ToolSpec(name, description, {"type": "object", **parameters})


def tool_request(
    tools: Sequence[ToolSpec], choice: str | None, forced: str | None = None
) -> ToolRequest | None:
    """The request's tools and choice, checked together; None when it declares no tools.

    ``choice`` is "none", "auto" (the default) or "required"; ``forced`` names the one tool
    the model must call (OpenAI's ``{"type": "function", "function": {"name": ...}}``).
    """
    if not tools:
        if forced is not None or choice == "required":
            raise ToolSchemaError(
                "tool_choice asks for a tool call but the request declares no tools; send "
                '"tools" or drop "tool_choice"',
                param="tool_choice",
            )
        return None
    if len(tools) > MAX_TOOLS:
        raise ToolSchemaError(f"at most {MAX_TOOLS} tools per request (got {len(tools)})")
    names = [tool.name for tool in tools]
    duplicate = next((name for name in names if names.count(name) > 1), None)
    if duplicate is not None:
        raise ToolSchemaError(f"two tools are named {duplicate!r}; give each tool its own name")
    if forced is not None:
        if forced not in names:
            raise ToolSchemaError(
                f"tool_choice names {forced!r}, which is not among the declared tools "
                f"({', '.join(names)})",
                param="tool_choice",
            )
        return ToolRequest(tuple(tools), "required", forced)
    mode = MODES.get(choice or "auto")
    if mode is None:
        raise ToolSchemaError(
            f'tool_choice must be "none", "auto", "required" or a named function (got {choice!r})',
            param="tool_choice",
        )
    return ToolRequest(tuple(tools), mode)
