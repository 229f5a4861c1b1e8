"""A llama.cpp grammar (GBNF) that holds the model to a call of one declared tool.

A call is written ``{"name": "<tool>", "arguments": {...}}``: the name is one of the declared
names, and the arguments follow that tool's JSON schema (llama-cpp-python's JSON-schema
converter writes their rules). With ``auto`` the grammar also allows a plain answer, which must
not begin with "{", so the first character tells a call from an answer.
"""

from __future__ import annotations

import json
from typing import Any

from llama_cpp.llama_grammar import SchemaConverter

from hub.engine.tools import ToolRequest, ToolSchemaError, ToolSpec

# The converter ignores integer bounds; a small range is spelled out as an enum instead, so a
# bounded integer (a brightness 0-100, a temperature 5-35) cannot leave its range.
MAX_SPELLED_RANGE = 1000
PLAIN_ANSWER = r"answer ::= [^{ \t\n] [^\x00]*"
# The converter lets a string hold raw control characters, which JSON forbids; escaped ones only.
CONVERTER_CHAR = r'char ::= [^"\\] |'
JSON_CHAR = r'char ::= [^"\\\x00-\x1F] |'


def _bounded_integers(node: Any) -> Any:
    """``node`` with every small bounded integer schema replaced by the enum of its values."""
    if isinstance(node, list):
        return [_bounded_integers(item) for item in node]
    if not isinstance(node, dict):
        return node
    copied = {key: _bounded_integers(value) for key, value in node.items()}
    low, high = copied.get("minimum"), copied.get("maximum")
    if (
        copied.get("type") == "integer"
        and isinstance(low, int)
        and isinstance(high, int)
        and 0 <= high - low <= MAX_SPELLED_RANGE
        and "enum" not in copied
    ):
        copied["enum"] = list(range(low, high + 1))
    return copied


def _call_rule(index: int, tool: ToolSpec, converter: Any) -> str:
    try:
        schema = converter.resolve_refs(_bounded_integers(dict(tool.parameters)), "tools")
        arguments = converter.visit(schema, f"tool-{index}-arguments")
    except Exception as exc:  # the converter raises bare errors on schemas it cannot express
        raise ToolSchemaError(
            f"the parameters of tool {tool.name!r} use a JSON-schema feature the hub cannot "
            f"turn into a grammar ({exc}); simplify the schema"
        ) from exc
    name = json.dumps(json.dumps(tool.name))
    return f'{name} space "," space "\\"arguments\\"" space ":" space {arguments}'


def tool_grammar(request: ToolRequest) -> str | None:
    """The GBNF of this request's answer; None when the model may not call a tool."""
    tools = request.callable_tools()
    if not tools:
        return None
    converter: Any = SchemaConverter(  # type: ignore[no-untyped-call]
        prop_order={}, allow_fetch=False, dotall=False, raw_pattern=False
    )
    calls = [_call_rule(index, tool, converter) for index, tool in enumerate(tools)]
    root = "root ::= call | answer" if request.mode == "auto" else "root ::= call"
    rules = [
        root,
        'call ::= "{" space "\\"name\\"" space ":" space ( '
        + " | ".join(f"call-{index}" for index in range(len(calls)))
        + ' ) "}"',
        *(f"call-{index} ::= {rule}" for index, rule in enumerate(calls)),
    ]
    if request.mode == "auto":
        rules.append(PLAIN_ANSWER)
    converted = converter.format_grammar().replace(CONVERTER_CHAR, JSON_CHAR)
    return "\n".join([*rules, converted]) + "\n"
