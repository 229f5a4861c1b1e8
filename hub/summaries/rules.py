"""What counts as a notable event in sensor data, found in the 1-minute rollups of one device.

Every rule works on per-minute count, mean, min, max and sum, so it gives the same answer however
the samples were batched, and still works after raw samples are pruned.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from devices.sensor_kinds import glucose_target_band

# Glucose, mg/dL: below the target band (70-180, from the sensor kind table) is a low, above it
# a high.
GLUCOSE_LOW, GLUCOSE_HIGH = (float(x) for x in glucose_target_band())
# The same consensus counts an excursion as an event once it lasts 15 minutes.
GLUCOSE_EVENT_MIN_S = 15 * 60
# CGMs read every 5 minutes: three missed readings in a row end an episode.
GLUCOSE_MAX_GAP_S = 16 * 60

# Over 100 bpm is the usual definition of a fast heart at rest (tachycardia).
RESTING_SPIKE_BPM = 100.0
# At least two minutes (minute means), so one noisy reading is no spike.
RESTING_SPIKE_MIN_S = 2 * 60
HEART_MAX_GAP_S = 3 * 60
# "At rest": the 10 minutes before the spike and the spike itself hold at most 30 steps (a few
# paces, no walk; walking is about 100 steps a minute).
REST_WINDOW_S = 10 * 60
REST_MAX_STEPS = 30.0

# A minute with 60 steps or more is moving; a spell of 2 hours without one is worth a mention.
MOVE_STEPS_PER_MIN = 60.0
SEDENTARY_MIN_S = 2 * 3600
# Steps must be reported at least every 15 minutes to tell sitting from not wearing the watch.
STEPS_MAX_GAP_S = 15 * 60
# Local hours that count: a still night is sleep, not a sedentary spell.
DAYTIME_HOURS = (7, 22)

# An episode still going on after 3 hours is reported as ongoing rather than waited for.
ONGOING_REPORT_S = 3 * 3600


@dataclass(frozen=True)
class Minute:
    """One 1-minute rollup of one kind: t is the minute's start."""

    t: float
    count: int
    mean: float
    low: float
    high: float
    total: float


@dataclass(frozen=True)
class Episode:
    """A notable stretch: a glucose high or low, a fast heart at rest, a long sit."""

    summary: str  # glucose_high, glucose_low, resting_heart_rate or sedentary
    start: float
    last: float  # the start of the last minute that was out of the ordinary
    end: float | None  # when it was over (the first ordinary minute); None: readings stopped
    ongoing: bool  # still going on at the newest data
    peak: float = 0.0  # highest (or, for a low, lowest) value
    peak_at: float = 0.0
    steps: float = 0.0  # steps around a resting spike

    @property
    def duration_s(self) -> float:
        """How long it lasted (so far)."""
        return (self.end if self.end is not None else self.last + 60.0) - self.start


@dataclass(frozen=True)
class Run:
    """Consecutive out-of-the-ordinary minutes and how the run stopped."""

    minutes: tuple[Minute, ...]
    ended_by: Minute | None  # the ordinary minute after it, if one came before a gap
    closed: bool  # False while no later reading says whether it is over


def local_hour(t: float) -> int:
    """The hour of the day, in the hub's local time zone."""
    return datetime.fromtimestamp(t).astimezone().hour


def find_runs(
    minutes: Sequence[Minute], unusual: Callable[[Minute], bool], max_gap_s: float
) -> list[Run]:
    """Runs of unusual minutes; a gap in the readings longer than ``max_gap_s`` ends a run."""
    runs: list[Run] = []
    current: list[Minute] = []
    previous: float | None = None
    for minute in minutes:
        if current and previous is not None and minute.t - previous > max_gap_s:
            runs.append(Run(tuple(current), None, True))
            current = []
        if unusual(minute):
            current.append(minute)
        elif current:
            runs.append(Run(tuple(current), minute, True))
            current = []
        previous = minute.t
    if current:
        runs.append(Run(tuple(current), None, False))
    return runs


def _episode(summary: str, run: Run, peak: Minute, value: float, steps: float = 0.0) -> Episode:
    end = run.ended_by.t if run.ended_by is not None else None
    return Episode(
        summary,
        run.minutes[0].t,
        run.minutes[-1].t,
        end,
        not run.closed,
        value,
        peak.t,
        steps,
    )


def _reportable(episode: Episode, min_s: float) -> bool:
    if episode.ongoing:
        return episode.duration_s >= ONGOING_REPORT_S
    return episode.duration_s >= min_s


def glucose_episodes(minutes: Sequence[Minute]) -> list[Episode]:
    """Highs over and lows under the target band (ongoing ones included, for the caller to
    hold)."""
    found: list[Episode] = []
    for run in find_runs(minutes, lambda m: m.high > GLUCOSE_HIGH, GLUCOSE_MAX_GAP_S):
        peak = max(run.minutes, key=lambda m: m.high)
        found.append(_episode("glucose_high", run, peak, peak.high))
    for run in find_runs(minutes, lambda m: m.low < GLUCOSE_LOW, GLUCOSE_MAX_GAP_S):
        trough = min(run.minutes, key=lambda m: m.low)
        found.append(_episode("glucose_low", run, trough, trough.low))
    return sorted(found, key=lambda e: e.start)


def resting_heart_spikes(heart: Sequence[Minute], steps: Sequence[Minute]) -> list[Episode]:
    """Minutes averaging over 100 bpm while the steps say the person was still."""
    found: list[Episode] = []
    for run in find_runs(heart, lambda m: m.mean > RESTING_SPIKE_BPM, HEART_MAX_GAP_S):
        start, stop = run.minutes[0].t - REST_WINDOW_S, run.minutes[-1].t + 60.0
        around = [m for m in steps if start <= m.t < stop]
        if not around:
            continue  # no step count: the device cannot tell rest from exercise
        walked = sum(m.total for m in around)
        if walked > REST_MAX_STEPS:
            continue
        peak = max(run.minutes, key=lambda m: m.high)
        found.append(_episode("resting_heart_rate", run, peak, peak.high, walked))
    return found


def sedentary_spells(
    steps: Sequence[Minute], hour_of: Callable[[float], int] = local_hour
) -> list[Episode]:
    """Daytime stretches without a minute of 60 steps or more."""
    first, last = DAYTIME_HOURS

    def still(minute: Minute) -> bool:
        return minute.total < MOVE_STEPS_PER_MIN and first <= hour_of(minute.t) < last

    found: list[Episode] = []
    for run in find_runs(steps, still, STEPS_MAX_GAP_S):
        found.append(_episode("sedentary", run, run.minutes[0], 0.0))
    return found


def reportable(episodes: Sequence[Episode]) -> list[Episode]:
    """The episodes long enough to mention (ongoing ones only once they are long)."""
    minimum = {
        "glucose_high": GLUCOSE_EVENT_MIN_S,
        "glucose_low": GLUCOSE_EVENT_MIN_S,
        "resting_heart_rate": RESTING_SPIKE_MIN_S,
        "sedentary": SEDENTARY_MIN_S,
    }
    return [e for e in episodes if _reportable(e, minimum[e.summary])]


@dataclass(frozen=True)
class Stats:
    """Mean, lowest and highest of one kind over an hour."""

    mean: float
    low: float
    high: float
    count: int


@dataclass(frozen=True)
class HourDigest:
    """What one device recorded in one hour."""

    start: float
    glucose: Stats | None = None
    in_range: float | None = None  # share of glucose minutes within the target band
    heart_rate: Stats | None = None
    steps: float | None = None

    @property
    def empty(self) -> bool:
        """True when the hour holds nothing to tell."""
        return self.glucose is None and self.heart_rate is None and self.steps is None


def hour_digest(
    start: float, hour_rows: dict[str, Minute], glucose: Sequence[Minute]
) -> HourDigest:
    """An hour's digest from its 1-hour rollups and its 1-minute glucose rollups."""

    def stats(kind: str) -> Stats | None:
        row = hour_rows.get(kind)
        return None if row is None else Stats(row.mean, row.low, row.high, row.count)

    in_range = None
    if glucose:
        inside = sum(1 for m in glucose if GLUCOSE_LOW <= m.mean <= GLUCOSE_HIGH)
        in_range = inside / len(glucose)
    steps = hour_rows.get("steps")
    return HourDigest(
        start,
        stats("glucose"),
        in_range,
        stats("heart_rate"),
        None if steps is None else steps.total,
    )
