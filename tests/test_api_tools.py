"""Tool calls end to end: the official OpenAI client against the session's real hub and model."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest
from jsonschema import Draft202012Validator

from bench.tool_cases import NEEDS_TOOL, TOOLS
from tests.conftest import DEFAULT_MODEL

SCHEMAS = {tool["function"]["name"]: tool["function"]["parameters"] for tool in TOOLS}


def assert_valid_call(call: Any) -> dict[str, Any]:
    """The call names a declared tool and its arguments are a JSON object valid for it."""
    assert call.type == "function"
    assert call.id
    assert call.function.name in SCHEMAS
    arguments = json.loads(call.function.arguments)
    Draft202012Validator(SCHEMAS[call.function.name]).validate(arguments)
    return dict(arguments)


def test_required_calls_are_valid_for_their_schema_over_many_prompts(
    client: openai.OpenAI,
) -> None:
    for number, case in enumerate(NEEDS_TOOL[8::7]):  # bench/bench_tools.py checks 40 calls
        answer = client.chat.completions.create(
            model=DEFAULT_MODEL,
            messages=[{"role": "user", "content": case.prompt}],
            tools=TOOLS,
            tool_choice="required",
            temperature=0.9,  # sampled, not greedy: the grammar alone keeps it valid
            seed=100 + number,  # sampled strings may ramble past any budget: seeded, runs agree
            max_tokens=96,
        )
        choice = answer.choices[0]
        assert choice.finish_reason == "tool_calls", choice.message.content
        assert choice.message.content is None
        assert len(choice.message.tool_calls or []) == 1
        assert_valid_call((choice.message.tool_calls or [])[0])


def test_a_named_tool_is_the_one_called_and_streams_as_tool_call_chunks(
    client: openai.OpenAI,
) -> None:
    stream = client.chat.completions.create(
        model=DEFAULT_MODEL,
        messages=[{"role": "user", "content": "Set the bedroom to 19 degrees"}],
        tools=TOOLS,
        tool_choice={"type": "function", "function": {"name": "set_temperature"}},
        temperature=0,
        max_tokens=60,
        stream=True,
    )
    calls: dict[int, Any] = {}
    reasons = []
    for chunk in stream:
        for choice in chunk.choices:
            for delta in choice.delta.tool_calls or []:
                calls[delta.index] = delta
            reasons.append(choice.finish_reason)
    assert reasons[-1] == "tool_calls"
    assert list(calls) == [0]
    assert calls[0].function.name == "set_temperature"
    arguments = assert_valid_call(calls[0])
    assert 10 <= arguments["temperature"] <= 30


def test_the_follow_up_turn_carries_the_call_and_its_result(client: openai.OpenAI) -> None:
    question = {"role": "user", "content": "What's the weather in Lisbon?"}
    first = client.chat.completions.create(
        model=DEFAULT_MODEL,
        messages=[question],
        tools=TOOLS,
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        temperature=0,
    )
    call = (first.choices[0].message.tool_calls or [])[0]
    follow_up = client.chat.completions.create(
        model=DEFAULT_MODEL,
        messages=[
            question,
            {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
            {"role": "tool", "tool_call_id": call.id, "content": "Sunny, 24 degrees Celsius."},
        ],
        tools=TOOLS,
        tool_choice="none",
        temperature=0,
        max_tokens=40,
    )
    choice = follow_up.choices[0]
    assert choice.finish_reason in ("stop", "length")
    assert choice.message.tool_calls is None
    assert (choice.message.content or "").strip()
    # The call and its result went into the prompt: it is longer than the question alone.
    assert follow_up.usage is not None and first.usage is not None
    assert follow_up.usage.prompt_tokens > first.usage.prompt_tokens - 150


BAD_TOOLS = [
    (
        [{"type": "function", "function": {"name": "x", "parameters": {"type": "string"}}}],
        '"type": "object"',
    ),
    (
        [
            {
                "type": "function",
                "function": {
                    "name": "x",
                    "parameters": {"type": "object", "properties": {"a": {"type": "nonsense"}}},
                },
            }
        ],
        "not a valid JSON schema",
    ),
    ([{"type": "function", "function": {"name": "no spaces allowed"}}], "tools[0].name"),
    (
        [
            {"type": "function", "function": {"name": "twice"}},
            {"type": "function", "function": {"name": "twice"}},
        ],
        "two tools are named 'twice'",
    ),
]


@pytest.mark.parametrize(("tools", "says"), BAD_TOOLS)
def test_bad_tool_schemas_are_a_clear_400(
    client: openai.OpenAI, tools: list[dict[str, Any]], says: str
) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(
            model=DEFAULT_MODEL,
            messages=[{"role": "user", "content": "hi"}],
            tools=tools,  # type: ignore[arg-type]
        )
    assert refused.value.status_code == 400
    assert says in refused.value.message


def test_a_tool_choice_naming_an_undeclared_tool_is_a_400(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(
            model=DEFAULT_MODEL,
            messages=[{"role": "user", "content": "hi"}],
            tools=TOOLS,
            tool_choice={"type": "function", "function": {"name": "open_the_pod_bay_doors"}},
        )
    assert "open_the_pod_bay_doors" in refused.value.message
    assert "tool_choice" in str(refused.value.body)
