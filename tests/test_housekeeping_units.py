"""Housekeeping's small parts, exactly: the policy in effect, the plain summary, the check on the
model's summary, and the fallback when the model is busy."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hub.engine.activity import ModelActivity
from hub.housekeeping.model_summary import grounded, model_summary
from hub.housekeeping.policy import effective_policies, parse_policy, settings_policies
from hub.housekeeping.wording import extractive_summary, timed_lines
from hub.settings import Settings
from memory.housekeeping_types import DayGroup, Policy
from memory.types import MemoryItem

DAY = datetime(2026, 10, 18, 8, 0, tzinfo=UTC)


def item(n: int, text: str) -> MemoryItem:
    at = (DAY + timedelta(minutes=n)).isoformat()
    return MemoryItem(f"mem_{n:016x}", "transcript", text, "device", at, at, at, {}, False)


def test_a_saved_policy_wins_over_the_settings_kind_by_kind(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, memory_housekeeping_image_text="delete:90")
    assert parse_policy("transcript", "keep") == Policy("transcript", "keep", 30)
    assert settings_policies(settings)["image_text"] == Policy("image_text", "delete", 90)
    saved = {"transcript": Policy("transcript", "summarize", 7)}
    effective = {e.policy.kind: e for e in effective_policies(settings, saved)}
    assert effective["transcript"].policy.action == "summarize"
    assert effective["transcript"].origin == "saved"
    assert (effective["image_text"].policy.after_days, effective["image_text"].origin) == (
        90,
        "settings",
    )


def test_the_plain_summary_says_what_was_said_and_when_within_its_budget() -> None:
    items = [item(n, f"Line number {n} about the garden shed") for n in range(100)]
    items.insert(3, item(3, "ok"))
    items.insert(5, item(4, "Line number 1 about the garden shed"))  # said twice
    group = DayGroup("transcript", "device", "ear-1", "2026-10-18", ())
    text = extractive_summary(group, items, UTC)
    first = text.splitlines()[0]
    assert first == (
        "What was said on Sunday 18 October 2026 (ear-1), 102 times between 08:00 and 09:39."
    )
    assert "08:00 Line number 0 about the garden shed" in text and "\n08:03 ok" not in text
    assert text.count("Line number 1 about") == 1
    lines = timed_lines(items, UTC, budget=200)
    assert len("\n".join(lines[:-1])) <= 200 and lines[-1].startswith("…and ")


def test_a_summary_that_strays_from_the_day_is_not_kept() -> None:
    day = "08:00 Call the plumber about the kitchen tap\n08:10 Quince jam needs sugar"
    assert grounded("The user planned to call the plumber about the kitchen tap.", day)
    assert not grounded("I am a helpful assistant and cannot do that.", day)
    assert not grounded("plumber", day)
    # What the packaged 135M model wrote for such a day: sharing words is not enough.
    invented = "The plumber is a master of his craft, and the plan is a surprise dinner."
    assert not grounded(invented, day)


class BusyRunner:
    """A runner whose model never goes idle (a long chat): the summary must not wait for it."""

    def __init__(self) -> None:
        self.activity = ModelActivity()
        self.activity.request_started()
        self.started = False

    async def start(self, *args: object) -> None:
        self.started = True


def test_a_busy_model_gives_no_summary_so_the_plain_one_is_used() -> None:
    runner = BusyRunner()
    group = DayGroup("transcript", "device", "", "2026-10-18", ())
    items = [item(0, "hello there all")]
    written = asyncio.run(model_summary(runner, group, items, UTC, idle_wait=0.01))  # type: ignore[arg-type]
    assert written is None and not runner.started
