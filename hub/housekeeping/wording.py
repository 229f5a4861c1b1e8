"""A day's summary without the model: a header saying what, where and when, then what was said,
each line with its local time, as many lines as fit."""

from __future__ import annotations

from datetime import datetime, tzinfo

from memory.housekeeping_types import DayGroup
from memory.types import MemoryItem

KIND_WORDS = {"transcript": "What was said", "image_text": "Text the glasses read"}
MAX_CHARS = 4000
MAX_LINE_CHARS = 200
# Utterances this short ("ok", "yeah") say nothing a summary should keep.
MIN_WORDS = 3


def local_time(stored: str, tz: tzinfo) -> datetime:
    """A stored timestamp in the hub's time zone."""
    return datetime.fromisoformat(stored).astimezone(tz)


def header(group: DayGroup, items: list[MemoryItem], tz: tzinfo) -> str:
    """'What was said on Monday 30 November 2026 (ear-1), 42 times between 08:12 and 21:40.'"""
    first, last = local_time(items[0].happened_at, tz), local_time(items[-1].happened_at, tz)
    where = f" ({group.device})" if group.device else ""
    what = KIND_WORDS.get(group.kind, f"{group.kind} memories")
    return (
        f"{what} on {first:%A} {first.day} {first:%B %Y}{where}, {len(items)} times between "
        f"{first:%H:%M} and {last:%H:%M}."
    )


def timed_lines(items: list[MemoryItem], tz: tzinfo, budget: int = MAX_CHARS) -> list[str]:
    """'08:12 I'll call the plumber tomorrow.' per item, short ones and repeats left out, until
    ``budget`` characters; the last line says how many more there were."""
    lines: list[str] = []
    seen: set[str] = set()
    used = 0
    kept = 0
    worth = [item for item in items if len(item.text.split()) >= MIN_WORDS] or items
    for item in worth:
        text = " ".join(item.text.split())
        if text.lower() in seen:
            continue
        seen.add(text.lower())
        if len(text) > MAX_LINE_CHARS:
            text = text[: MAX_LINE_CHARS - 1].rstrip() + "…"
        line = f"{local_time(item.happened_at, tz):%H:%M} {text}"
        if used + len(line) > budget:
            lines.append(f"…and {len(worth) - kept} more.")
            break
        lines.append(line)
        used += len(line) + 1
        kept += 1
    return lines


def extractive_summary(group: DayGroup, items: list[MemoryItem], tz: tzinfo) -> str:
    """The summary when the model does not write one."""
    return "\n".join([header(group, items, tz), *timed_lines(items, tz)])
