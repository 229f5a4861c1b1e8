"""Read "yesterday", "last week", "3 days ago" and the like in a query as a time range."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
UNITS = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(weeks=1)}
NUMBERS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "few": 3,
    "couple of": 2,
}
NUMBER = r"(\d{1,3}|a|an|one|two|three|four|five|six|seven|few|couple of)"
PARTS_OF_DAY = {"morning": (5, 12), "afternoon": (12, 18), "evening": (18, 24), "night": (18, 24)}


@dataclass(frozen=True)
class TimeRange:
    """A half-open range [since, until) found in a query, and the words that named it."""

    since: datetime
    until: datetime
    phrase: str


def _day(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def _month_start(moment: datetime, back: int = 0) -> datetime:
    month = moment.month - back
    year = moment.year + (month - 1) // 12
    return _day(moment).replace(year=year, month=(month - 1) % 12 + 1, day=1)


def _count(word: str) -> int:
    return int(word) if word.isdigit() else NUMBERS[word]


Rule = tuple[re.Pattern[str], Callable[[re.Match[str], datetime], tuple[datetime, datetime]]]


def _weekday(match: re.Match[str], now: datetime) -> tuple[datetime, datetime]:
    wanted = WEEKDAYS.index(match.group(2))
    back = (now.weekday() - wanted) % 7 or 7
    start = _day(now) - timedelta(days=back)
    return start, start + timedelta(days=1)


def _part_of_day(match: re.Match[str], now: datetime) -> tuple[datetime, datetime]:
    day = _day(now) - timedelta(days=1 if match.group(1) in ("yesterday", "last") else 0)
    first, last = PARTS_OF_DAY[match.group(2)]
    return day + timedelta(hours=first), day + timedelta(hours=last)


def _recent(match: re.Match[str], now: datetime) -> tuple[datetime, datetime]:
    unit = match.group(3)
    if unit == "month":
        return now - timedelta(days=30 * _count(match.group(2))), now
    return now - UNITS[unit] * _count(match.group(2)), now


def _ago(match: re.Match[str], now: datetime) -> tuple[datetime, datetime]:
    unit, n = match.group(2), _count(match.group(1))
    if unit == "hour":
        start = now - timedelta(hours=n)
        return start - timedelta(minutes=30), start + timedelta(minutes=30)
    if unit == "week":
        monday = _day(now) - timedelta(days=now.weekday() + 7 * n)
        return monday, monday + timedelta(days=7)
    if unit == "month":
        return _month_start(now, n), _month_start(now, n - 1)
    start = _day(now) - timedelta(days=n)
    return start, start + timedelta(days=1)


def _week(match: re.Match[str], now: datetime) -> tuple[datetime, datetime]:
    monday = _day(now) - timedelta(days=now.weekday())
    if match.group(1) in ("last", "previous"):
        monday -= timedelta(days=7)
    return monday, monday + timedelta(days=7)


def _weekend(match: re.Match[str], now: datetime) -> tuple[datetime, datetime]:
    saturday = _day(now) - timedelta(days=now.weekday()) + timedelta(days=5)
    if match.group(1) in ("last", "previous") or saturday > now:
        saturday -= timedelta(days=7)
    return saturday, saturday + timedelta(days=2)


def _month(match: re.Match[str], now: datetime) -> tuple[datetime, datetime]:
    back = 1 if match.group(1) in ("last", "previous") else 0
    return _month_start(now, back), _month_start(now, back - 1)


def _year(match: re.Match[str], now: datetime) -> tuple[datetime, datetime]:
    year = now.year - (1 if match.group(1) in ("last", "previous") else 0)
    start = _day(now).replace(year=year, month=1, day=1)
    return start, start.replace(year=year + 1)


def _fixed(days_back: int) -> Callable[[re.Match[str], datetime], tuple[datetime, datetime]]:
    def span(match: re.Match[str], now: datetime) -> tuple[datetime, datetime]:
        start = _day(now) - timedelta(days=days_back)
        return start, start + timedelta(days=1)

    return span


RULES: list[Rule] = [
    (
        re.compile(
            r"\b(?:in the |over the |during the )?(last|past) "
            + NUMBER
            + r" (hour|day|week|month)s?\b"
        ),
        _recent,
    ),
    (re.compile(NUMBER + r" (hour|day|week|month)s? ago\b"), _ago),
    (re.compile(r"\b(this|yesterday|last) (morning|afternoon|evening|night)\b"), _part_of_day),
    (
        re.compile(r"\btonight\b"),
        lambda m, now: (_day(now) + timedelta(hours=18), _day(now) + timedelta(days=1)),
    ),
    (re.compile(r"\bthe day before yesterday\b"), _fixed(2)),
    (re.compile(r"\byesterday\b"), _fixed(1)),
    (re.compile(r"\btoday\b"), _fixed(0)),
    (re.compile(r"\b(this|last|previous) week\b"), _week),
    (re.compile(r"\b(this|last|previous) weekend\b"), _weekend),
    (re.compile(r"\b(this|last|previous) month\b"), _month),
    (re.compile(r"\b(this|last|previous) year\b"), _year),
    (re.compile(r"\b(on|last) (" + "|".join(WEEKDAYS) + r")\b"), _weekday),
]


def find_time_range(text: str, now: datetime) -> TimeRange | None:
    """The first time phrase in ``text`` as a range in ``now``'s time zone, or None."""
    lowered = text.lower()
    for pattern, span in RULES:
        match = pattern.search(lowered)
        if match:
            since, until = span(match, now)
            return TimeRange(since, until, text[match.start() : match.end()])
    return None


def strip_phrase(text: str, phrase: str) -> str:
    """The query without the time phrase (so the words do not sway the search)."""
    cleaned = re.sub(re.escape(phrase), " ", text, count=1, flags=re.IGNORECASE)
    return re.sub(r"\s+", " ", cleaned).strip() or text
