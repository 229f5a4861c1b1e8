"""The tool-choice benchmark's cases: Home-Assistant-like tools, requests that need one, and
requests that need none (read by bench_tools.py and the tool tests)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

LIGHTS = ["light.kitchen", "light.living_room", "light.bedroom"]
ROOMS = ["living_room", "bedroom", "office"]
DOORS = ["front", "back", "garage"]


def _function(name: str, description: str, properties: dict[str, Any], required: list[str]) -> Any:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {"type": "object", "properties": properties, "required": required},
        },
    }


TOOLS = [
    _function(
        "turn_on_light",
        "Turn on a light",
        {
            "entity": {"type": "string", "enum": LIGHTS},
            "brightness": {"type": "integer", "minimum": 0, "maximum": 100},
        },
        ["entity"],
    ),
    _function(
        "turn_off_light",
        "Turn off a light",
        {"entity": {"type": "string", "enum": LIGHTS}},
        ["entity"],
    ),
    _function(
        "set_temperature",
        "Set the thermostat of a room, in degrees Celsius",
        {
            "room": {"type": "string", "enum": ROOMS},
            "temperature": {"type": "integer", "minimum": 10, "maximum": 30},
        },
        ["room", "temperature"],
    ),
    _function(
        "get_weather", "Get the weather forecast for a city", {"city": {"type": "string"}}, ["city"]
    ),
    _function("lock_door", "Lock a door", {"door": {"type": "string", "enum": DOORS}}, ["door"]),
    _function("play_music", "Play music", {"query": {"type": "string"}}, ["query"]),
    _function(
        "set_timer",
        "Start a timer",
        {"minutes": {"type": "integer", "minimum": 1, "maximum": 180}},
        ["minutes"],
    ),
]


@dataclass(frozen=True)
class ToolCase:
    """A request and the call it needs (``tool`` None: it needs no tool)."""

    prompt: str
    tool: str | None = None
    arguments: dict[str, Any] = field(default_factory=dict)


NEEDS_TOOL = [
    ToolCase("Turn on the kitchen light.", "turn_on_light", {"entity": "light.kitchen"}),
    ToolCase("Switch on the bedroom light please", "turn_on_light", {"entity": "light.bedroom"}),
    ToolCase(
        "Turn on the living room light at 50% brightness",
        "turn_on_light",
        {"entity": "light.living_room", "brightness": 50},
    ),
    ToolCase("Turn off the kitchen light.", "turn_off_light", {"entity": "light.kitchen"}),
    ToolCase("Switch off the light in the bedroom", "turn_off_light", {"entity": "light.bedroom"}),
    ToolCase("Lights off in the living room", "turn_off_light", {"entity": "light.living_room"}),
    ToolCase(
        "Set the bedroom to 19 degrees", "set_temperature", {"room": "bedroom", "temperature": 19}
    ),
    ToolCase(
        "Make the office 22 degrees", "set_temperature", {"room": "office", "temperature": 22}
    ),
    ToolCase(
        "Set the living room thermostat to 21",
        "set_temperature",
        {"room": "living_room", "temperature": 21},
    ),
    ToolCase("What's the weather in Lisbon?", "get_weather", {"city": "Lisbon"}),
    ToolCase("Will it rain in Paris tomorrow?", "get_weather", {"city": "Paris"}),
    ToolCase("Weather forecast for Berlin", "get_weather", {"city": "Berlin"}),
    ToolCase("Lock the front door", "lock_door", {"door": "front"}),
    ToolCase("Please lock the garage door", "lock_door", {"door": "garage"}),
    ToolCase("Lock the back door for the night", "lock_door", {"door": "back"}),
    ToolCase("Play some jazz", "play_music", {"query": "jazz"}),
    ToolCase("Play music by the Beatles", "play_music", {"query": "the Beatles"}),
    ToolCase("Set a timer for 10 minutes", "set_timer", {"minutes": 10}),
    ToolCase("Start a 25 minute timer", "set_timer", {"minutes": 25}),
    ToolCase("Timer for 5 minutes please", "set_timer", {"minutes": 5}),
]

NEEDS_NONE = [
    ToolCase("What is the capital of France?"),
    ToolCase("Tell me a joke."),
    ToolCase("How are you today?"),
    ToolCase("Who wrote Hamlet?"),
    ToolCase("Write a short poem about the sea."),
    ToolCase("What is two plus two?"),
    ToolCase("Thanks, that's all for now."),
    ToolCase("Explain what a cloud is."),
    ToolCase("How do you say hello in Spanish?"),
    ToolCase("Give me a tip for sleeping better."),
]


def same_value(got: Any, want: Any) -> bool:
    """Whether an argument the model gave is the one wanted (strings: case and spaces aside)."""
    if isinstance(want, str) and isinstance(got, str):
        return got.strip().lower() == want.strip().lower()
    return bool(got == want)


def right_arguments(got: dict[str, Any], want: dict[str, Any]) -> bool:
    """Every wanted argument present with the wanted value (extra optional ones allowed)."""
    return all(key in got and same_value(got[key], value) for key, value in want.items())
