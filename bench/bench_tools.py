"""How well the default model chooses tools, through the hub's OpenAI-compatible API.

Starts a real hub (``python -m hub serve``, a temporary data directory, memory off so that no
request is stored or recalled) and asks, with the official ``openai`` client, greedy:

1. ``tool_choice: "required"`` on the 20 requests that need a tool (bench/tool_cases.py: lights,
   thermostat, weather, doors, music, timers): how often the right tool is called, with the
   right arguments, and how often the call is valid JSON for its schema;
2. ``tool_choice: "auto"`` on those 20 and on 10 requests that need no tool: how often a call
   is made, the right tool, the right arguments, and how often no tool is called when none is
   needed.

    .venv/bin/python bench/bench_tools.py [--model NAME] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai
from jsonschema import Draft202012Validator

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.personal.hub_client import HubOptions, running_hub
from bench.tool_cases import NEEDS_NONE, NEEDS_TOOL, TOOLS, ToolCase, right_arguments
from hub.models.packaged import DEFAULT_MODEL_NAME

SCHEMAS = {tool["function"]["name"]: tool["function"]["parameters"] for tool in TOOLS}


@dataclass(frozen=True)
class Outcome:
    """What the hub answered to one case."""

    case: ToolCase
    mode: str
    tool: str | None
    arguments: dict[str, Any] | None
    valid: bool
    seconds: float

    @property
    def right_tool(self) -> bool:
        """The tool the case needs was called (or none, when it needs none)."""
        return self.tool == self.case.tool

    @property
    def right_arguments(self) -> bool:
        """The right tool with the needed arguments."""
        return self.right_tool and right_arguments(self.arguments or {}, self.case.arguments)


def ask(client: openai.OpenAI, model: str, case: ToolCase, mode: str) -> Outcome:
    """One request, greedy; the call it made, checked against its schema."""
    started = time.perf_counter()
    answer = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": case.prompt}],
        tools=TOOLS,  # type: ignore[arg-type]
        tool_choice=mode,  # type: ignore[arg-type]
        temperature=0,
        max_tokens=80,
    )
    seconds = time.perf_counter() - started
    calls = answer.choices[0].message.tool_calls or []
    if not calls:
        return Outcome(case, mode, None, None, True, seconds)
    function = calls[0].function  # type: ignore[union-attr]
    try:
        arguments = json.loads(function.arguments)
        valid = function.name in SCHEMAS and Draft202012Validator(SCHEMAS[function.name]).is_valid(
            arguments
        )
    except ValueError:
        arguments, valid = None, False
    return Outcome(case, mode, function.name, arguments, valid, seconds)


def share(outcomes: list[Outcome], test: str) -> str:
    """``hits/total (percent)`` of the outcomes passing ``test`` (an Outcome property)."""
    hits = sum(1 for outcome in outcomes if getattr(outcome, test))
    return f"{hits}/{len(outcomes)} ({100 * hits / max(len(outcomes), 1):.0f}%)"


def report(outcomes: list[Outcome]) -> dict[str, str]:
    """The figures, by mode."""
    required = [o for o in outcomes if o.mode == "required"]
    auto_tool = [o for o in outcomes if o.mode == "auto" and o.case.tool is not None]
    auto_none = [o for o in outcomes if o.mode == "auto" and o.case.tool is None]
    called = [o for o in auto_tool if o.tool is not None]
    median = sorted(o.seconds for o in outcomes)[len(outcomes) // 2]
    return {
        "required: valid JSON for its schema": share(required, "valid"),
        "required: right tool": share(required, "right_tool"),
        "required: right tool and arguments": share(required, "right_arguments"),
        "auto, tool needed: a tool called": f"{len(called)}/{len(auto_tool)}",
        "auto, tool needed: right tool": share(auto_tool, "right_tool"),
        "auto, tool needed: right tool and arguments": share(auto_tool, "right_arguments"),
        "auto, no tool needed: no call": share(auto_none, "right_tool"),
        "every call made valid for its schema": share([o for o in outcomes if o.tool], "valid"),
        "median seconds per request": f"{median:.2f}",
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="a model the hub has (default: its default)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--verbose", action="store_true", help="print every answer")
    args = parser.parse_args(argv)
    model = args.model or DEFAULT_MODEL_NAME
    with tempfile.TemporaryDirectory(prefix="bench-tools-") as scratch:
        data_dir = Path(scratch) / "data"
        options = HubOptions(model=args.model, settings={})
        with running_hub(
            data_dir, options, memory=False, log_path=Path(scratch) / "hub.log"
        ) as hub:
            token = (data_dir / "owner_token").read_text().strip()
            client = openai.OpenAI(
                base_url=f"{hub.base_url}/v1", api_key=token, max_retries=0, timeout=600
            )
            outcomes = [ask(client, model, case, "required") for case in NEEDS_TOOL]
            outcomes += [ask(client, model, case, "auto") for case in NEEDS_TOOL + NEEDS_NONE]
    if args.verbose:
        for o in outcomes:
            mark = "ok " if o.right_arguments or (o.case.tool is None and o.right_tool) else "-- "
            print(f"{mark}{o.mode:8} {o.case.prompt!r:55} -> {o.tool} {json.dumps(o.arguments)}")
    figures = report(outcomes)
    width = max(len(name) for name in figures)
    print(f"Tool choice of model {model} ({len(outcomes)} requests, greedy)")
    for name, value in figures.items():
        print(f"  {name:<{width}}  {value}")
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
