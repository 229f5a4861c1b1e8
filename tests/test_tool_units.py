"""Tool calls without a model: the grammar compiles, the reader tells text from calls, and the
prompt keeps a template's turns alternating."""

from __future__ import annotations

import pytest
from llama_cpp.llama_grammar import LlamaGrammar

from bench.tool_cases import TOOLS
from hub.engine.tool_choice import choice_params, chosen, needs_choice
from hub.engine.tool_grammar import tool_grammar
from hub.engine.tool_prompt import with_tools
from hub.engine.tool_reader import read_answer
from hub.engine.tools import ToolRequest, ToolSchemaError, tool_request, tool_spec
from hub.engine.types import ChatMessage


def bench_request(choice: str = "auto", forced: str | None = None) -> ToolRequest:
    specs = [
        tool_spec(
            t["function"]["name"], t["function"]["description"], t["function"]["parameters"], "t"
        )
        for t in TOOLS
    ]
    request = tool_request(specs, choice, forced)
    assert request is not None
    return request


@pytest.mark.parametrize("choice", ["auto", "required"])
def test_the_grammar_of_every_bench_tool_compiles(choice: str) -> None:
    gbnf = tool_grammar(bench_request(choice))
    assert gbnf is not None
    LlamaGrammar.from_string(gbnf, verbose=False)
    # A bounded integer is spelled out, so a temperature cannot leave 10-30.
    assert '"29" | "30"' in gbnf
    assert ("answer ::=" in gbnf) == (choice == "auto")


def test_no_grammar_when_no_tool_may_be_called() -> None:
    assert tool_grammar(bench_request("none")) is None


def test_the_reader_returns_a_valid_call_with_its_arguments() -> None:
    answer = read_answer(
        ' {"name": "set_timer", "arguments": {"minutes": 10}}', bench_request("required")
    )
    assert answer.text == ""
    assert [(c.name, c.arguments) for c in answer.calls] == [("set_timer", {"minutes": 10})]
    assert answer.calls[0].id.startswith("call_")


def test_a_call_outside_its_schema_or_cut_off_is_answered_as_text() -> None:
    request = bench_request("required")
    for text in (
        '{"name": "set_timer", "arguments": {"minutes": 999}}',
        '{"name": "set_timer", "arguments": {"minu',
        '{"name": "launch_rocket", "arguments": {}}',
    ):
        answer = read_answer(text, request)
        assert answer.calls == []
        assert answer.text == text == answer.unreleased


def test_a_plain_answer_is_text() -> None:
    answer = read_answer("Paris is the capital of France.", bench_request("auto"))
    assert answer.calls == []
    assert answer.text == "Paris is the capital of France."
    assert answer.unreleased == ""


def test_a_named_choice_allows_only_that_tool() -> None:
    request = bench_request(forced="lock_door")
    assert [tool.name for tool in request.callable_tools()] == ["lock_door"]
    gbnf = tool_grammar(request)
    assert gbnf is not None and "set_timer" not in gbnf


def test_choices_that_cannot_be_met_are_refused() -> None:
    with pytest.raises(ToolSchemaError, match="declares no tools"):
        tool_request([], "required")
    with pytest.raises(ToolSchemaError, match="tool_choice must be"):
        bench_request("sometimes")


def test_tool_results_become_user_turns_and_the_tools_join_the_system_prompt() -> None:
    messages = [
        ChatMessage("system", "Be brief."),
        ChatMessage("user", "Weather in Lisbon?"),
        ChatMessage("assistant", '{"name": "get_weather", "arguments": {"city": "Lisbon"}}'),
        ChatMessage("tool", "Result of get_weather: sunny"),
        ChatMessage("tool", "Result of get_weather: 24 C"),
    ]
    ready = with_tools(messages, bench_request("auto"))
    assert [m.role for m in ready] == ["system", "user", "assistant", "user"]
    assert ready[0].content.startswith("Be brief.")
    assert "set_temperature(room: " in ready[0].content
    assert ready[-1].content == "Result of get_weather: sunny\nResult of get_weather: 24 C"


def test_the_model_chooses_first_under_auto_and_required_but_not_a_named_tool() -> None:
    assert needs_choice(bench_request("auto"))
    assert needs_choice(bench_request("required"))
    assert not needs_choice(bench_request(forced="set_timer"))
    assert not needs_choice(bench_request("none"))
    assert '"none"' in (choice_params(bench_request("auto")).grammar or "")
    assert '"none"' not in (choice_params(bench_request("required")).grammar or "")


def test_the_choice_forces_the_named_tool_or_answers_in_words() -> None:
    auto = bench_request("auto")
    assert chosen(auto, "lock_door") == ToolRequest(auto.tools, "required", "lock_door")
    assert chosen(auto, "none").mode == "none"
    assert chosen(auto, None).mode == "none"  # after a tool's result: words
    required = bench_request("required")
    assert chosen(required, None) == required
