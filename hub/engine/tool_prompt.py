"""Tools in the prompt: the declared functions described to the model, and earlier calls and
their results written as turns any chat template accepts.

Small models' templates know only system, user and assistant turns, and some insist that user
and assistant alternate; so an earlier call is the assistant's turn (the call's JSON, as the
model writes it), and a tool's result a user turn that says which tool it came from.
"""

from __future__ import annotations

import json
from typing import Any

from hub.engine.tools import ToolCall, ToolRequest, ToolSpec
from hub.engine.types import ChatMessage

TOOL_ROLE = "tool"


def call_text(call: ToolCall) -> str:
    """A call as the model writes it (what the grammar allows)."""
    return json.dumps({"name": call.name, "arguments": call.arguments}, ensure_ascii=False)


def result_message(name: str | None, content: str) -> ChatMessage:
    """A tool's result, kept as a ``tool`` turn until the prompt is written."""
    label = f"Result of {name}" if name else "Tool result"
    return ChatMessage(TOOL_ROLE, f"{label}: {content}")


def tool_signature(tool: ToolSpec) -> str:
    """One line the model reads about a tool: name(arguments) - description."""
    properties: dict[str, Any] = dict(tool.parameters.get("properties") or {})
    required = set(tool.parameters.get("required") or ())
    parts = []
    for name, schema in properties.items():
        kind = schema.get("type", "value") if isinstance(schema, dict) else "value"
        if isinstance(schema, dict) and "enum" in schema:
            kind = " or ".join(json.dumps(value) for value in schema["enum"])
        parts.append(f"{name}{'' if name in required else '?'}: {kind}")
    described = f" - {tool.description}" if tool.description else ""
    return f"{tool.name}({', '.join(parts)}){described}"


def tools_instruction(request: ToolRequest) -> str:
    """What the system prompt says about the tools this answer may call."""
    tools = request.callable_tools()
    listing = "\n".join(tool_signature(tool) for tool in tools)
    how = 'To call a tool, answer only with JSON: {"name": "<tool>", "arguments": {...}}.'
    if request.mode == "auto":
        how += " If no tool fits the request, answer in plain words."
    return f"You can call these tools:\n{listing}\n{how}"


def _merged(messages: list[ChatMessage]) -> list[ChatMessage]:
    merged: list[ChatMessage] = []
    for message in messages:
        if merged and merged[-1].role == message.role and message.role != "system":
            merged[-1] = ChatMessage(message.role, f"{merged[-1].content}\n{message.content}")
        else:
            merged.append(message)
    return merged


def with_tools(messages: list[ChatMessage], request: ToolRequest | None) -> list[ChatMessage]:
    """``messages`` ready for a template: tool results as user turns, turns of one role joined,
    and (when the model may call a tool) the tools described in the system prompt."""
    plain = [
        ChatMessage("user", message.content) if message.role == TOOL_ROLE else message
        for message in messages
    ]
    plain = _merged(plain)
    if request is None or not request.callable_tools():
        return plain
    instruction = tools_instruction(request)
    if plain and plain[0].role == "system":
        return [ChatMessage("system", f"{plain[0].content}\n\n{instruction}"), *plain[1:]]
    return [ChatMessage("system", instruction), *plain]
