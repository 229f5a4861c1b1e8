"""Sensor events and hourly digests in plain sentences, with the hub's local time.

Dates, times and a part of the day ("around lunch time") are written out because that is how
the person asks ("how was my glucose after lunch") and what the search matches on.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from devices.sensor_kinds import SENSOR_KINDS
from hub.summaries.rules import (
    GLUCOSE_HIGH,
    GLUCOSE_LOW,
    MOVE_STEPS_PER_MIN,
    RESTING_SPIKE_BPM,
    Episode,
    HourDigest,
)
from hub.summaries.sleep import ASLEEP, AWAKE, DEEP, LIGHT, REM, SleepSession

GLUCOSE_UNIT = SENSOR_KINDS["glucose"].unit
HEART_UNIT = SENSOR_KINDS["heart_rate"].unit
TARGET_RANGE = f"{GLUCOSE_LOW:.0f}-{GLUCOSE_HIGH:.0f}"

# Local (hour, minute) where each part of the day begins, in order.
PARTS_OF_DAY = (
    ((0, 0), "during the night"),
    ((6, 0), "around breakfast time"),
    ((9, 0), "after breakfast time"),
    ((11, 30), "around lunch time"),
    ((13, 0), "after lunch time"),
    ((15, 0), "in the afternoon"),
    ((18, 0), "around dinner time"),
    ((20, 0), "after dinner time"),
    ((22, 0), "late in the evening"),
)


def local(t: float) -> datetime:
    """A Unix time in the hub's local time zone."""
    return datetime.fromtimestamp(t).astimezone()


def clock(t: float) -> str:
    """'13:40'."""
    return f"{local(t):%H:%M}"


def day(t: float) -> str:
    """'Monday 23 November'."""
    moment = local(t)
    return f"{moment:%A} {moment.day} {moment:%B}"


def night_of(t: float) -> str:
    """The evening a night belongs to: 'Tuesday 4 June' for 23:40 on it or 01:30 after it."""
    moment = local(t)
    if moment.hour < 12:
        moment -= timedelta(days=1)  # aware arithmetic: the same wall-clock time a day before
    return f"{moment:%A} {moment.day} {moment:%B}"


def part_of_day(t: float) -> str:
    """'around lunch time' and the like."""
    moment = local(t)
    now = (moment.hour, moment.minute)
    return [label for start, label in PARTS_OF_DAY if start <= now][-1]


def duration(seconds: float) -> str:
    """'1 h 30 min' or '40 min'."""
    minutes = max(1, round(seconds / 60))
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def _glucose(episode: Episode) -> str:
    high = episode.summary == "glucose_high"
    line = GLUCOSE_HIGH if high else GLUCOSE_LOW
    verb, side = ("rose", "over") if high else ("fell", "under")
    text = (
        f"{'High' if high else 'Low'} glucose {part_of_day(episode.start)} on "
        f"{day(episode.start)}: it {verb} to {episode.peak:.0f} {GLUCOSE_UNIT} at "
        f"{clock(episode.peak_at)} and was {side} {line:.0f} {GLUCOSE_UNIT} from "
        f"{clock(episode.start)}"
    )
    if episode.ongoing:
        return f"{text}, still at {clock(episode.last)}."
    if episode.end is None:
        return f"{text}; the readings stopped at {clock(episode.last)}."
    span = f"above the {TARGET_RANGE} target range" if high else f"under {line:.0f}"
    return f"{text} until {clock(episode.end)} ({duration(episode.duration_s)} {span})."


def _heart(episode: Episode) -> str:
    stop = episode.end if episode.end is not None else episode.last + 60.0
    return (
        f"Fast heart rate at rest {part_of_day(episode.start)} on {day(episode.start)}: "
        f"{episode.peak:.0f} {HEART_UNIT} at {clock(episode.peak_at)}, over "
        f"{RESTING_SPIKE_BPM:.0f} {HEART_UNIT} from "
        f"{clock(episode.start)} until {clock(stop)} ({duration(episode.duration_s)}) with only "
        f"{episode.steps:.0f} steps in and just before it."
    )


def _sedentary(episode: Episode) -> str:
    text = (
        f"Long time sitting still on {day(episode.start)}: no minute with "
        f"{MOVE_STEPS_PER_MIN:.0f} steps or more"
    )
    if episode.ongoing:
        return (
            f"{text} from {clock(episode.start)} until {clock(episode.last + 60.0)} "
            f"({duration(episode.duration_s)} so far)."
        )
    stop = episode.end if episode.end is not None else episode.last + 60.0
    return (
        f"{text} from {clock(episode.start)} until {clock(stop)} ({duration(episode.duration_s)})."
    )


def describe_episode(episode: Episode, device_id: str) -> str:
    """One event as a sentence or two, naming the device."""
    if episode.summary.startswith("glucose"):
        text = _glucose(episode)
    elif episode.summary == "resting_heart_rate":
        text = _heart(episode)
    else:
        text = _sedentary(episode)
    return f"{text} Device: {device_id}."


# The stages as a sleep report lists them (deepest first), and awake last.
SLEEP_PARTS = (
    (DEEP, "deep"),
    (REM, "REM"),
    (LIGHT, "light"),
    (ASLEEP, "stage not told"),
    (AWAKE, "awake"),
)


def describe_sleep(session: SleepSession, device_id: str) -> str:
    """A night's sleep or a nap, with its stages when the source told them, naming the device.

    The word "sleep" is in every text: the keyword search stems "slept" apart from it.
    """
    if session.nap:
        head = (
            f"A nap on {day(session.asleep_from)} {part_of_day(session.asleep_from)}: "
            f"{duration(session.asleep_s)} of sleep"
        )
    else:
        head = f"Sleep on the night of {night_of(session.asleep_from)}: "
        head += f"{duration(session.asleep_s)} asleep"
    text = (
        f"{head} from {clock(session.asleep_from)} to {clock(session.asleep_until)}, in bed "
        f"from {clock(session.start)} to {clock(session.end)} ({duration(session.in_bed_s)})"
    )
    if session.staged:
        parts = [
            f"{name} {duration(session.stages[code] * 60)}"
            for code, name in SLEEP_PARTS
            if session.stages[code]
        ]
        text += "; " + ", ".join(parts)
    return f"{text}. Device: {device_id}."


def describe_digest(digest: HourDigest, device_id: str) -> str:
    """An hour's digest as a few short sentences."""
    start = digest.start
    parts = [
        f"Hourly summary from {device_id}, {clock(start)} to {clock(start + 3600)} on "
        f"{day(start)} ({part_of_day(start)}):"
    ]
    if digest.glucose is not None:
        g = digest.glucose
        text = f"glucose averaged {g.mean:.0f} {GLUCOSE_UNIT} ({g.low:.0f} to {g.high:.0f})"
        if digest.in_range is not None:
            text += f", {digest.in_range * 100:.0f}% of the time in the {TARGET_RANGE} range"
        parts.append(text + ".")
    if digest.heart_rate is not None:
        h = digest.heart_rate
        parts.append(
            f"Heart rate averaged {h.mean:.0f} {HEART_UNIT} ({h.low:.0f} to {h.high:.0f})."
        )
    if digest.steps is not None:
        parts.append(f"{digest.steps:,.0f} steps.")
    return " ".join(parts)
