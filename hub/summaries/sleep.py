"""Sleep sessions found in the 1-minute sleep_stage rollups of one device.

A session is a run of sleep_stage minutes with no more than 30 minutes without one. It is over
(and told) once nothing can still join it: the scan has seen past the gap that would end it, and
the device has sent readings from an hour after its last minute, or an hour has passed on the
clock (an import of past nights, a source that sends nothing but sleep). Like the other rules it
reads only each minute's rollup (its lowest code), so it gives the same answer however the
samples came.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from devices.sensor_kinds import SLEEP_STAGE_CODES
from hub.summaries.rules import Minute, local_hour

AWAKE, REM, LIGHT, DEEP, ASLEEP, IN_BED = (
    SLEEP_STAGE_CODES[name] for name in ("awake", "rem", "light", "deep", "asleep", "in_bed")
)
STAGED = frozenset({REM, LIGHT, DEEP})
SLEEPING = frozenset({REM, LIGHT, DEEP, ASLEEP})

# Longer without a sleep_stage minute and the night is over (a trip to the kitchen is not).
SLEEP_MAX_GAP_S = 30 * 60
# No new minute for an hour after the last one: the source has written the whole session.
SLEEP_OVER_S = 3600
# Less sleep than this is a doze on the sofa or a watch left on the bed: not told.
SLEEP_MIN_S = 20 * 60
# Under 3 hours of sleep starting in the day (local hours) is a nap, not the night.
NAP_MAX_S = 3 * 3600
NAP_HOURS = (9, 21)


@dataclass(frozen=True)
class SleepSession:
    """One sleep session: in bed from start to end, asleep within it, minutes per stage."""

    start: float  # the first minute with a sleep_stage reading (in bed)
    end: float  # the end of the last one
    asleep_from: float  # the first minute asleep
    asleep_until: float  # the end of the last minute asleep
    stages: Counter[int]  # minutes per code between asleep_from and asleep_until
    ongoing: bool  # more minutes may still join it: look again later
    nap: bool

    @property
    def asleep_s(self) -> float:
        """Time asleep (every sleeping stage, the awake minutes not)."""
        return 60.0 * sum(self.stages[code] for code in SLEEPING)

    @property
    def in_bed_s(self) -> float:
        """Time from the first to the end of the last sleep_stage minute."""
        return self.end - self.start

    @property
    def staged(self) -> bool:
        """True when the source told stages (REM, light, deep), not just asleep."""
        return any(self.stages[code] for code in STAGED)

    @property
    def reportable(self) -> bool:
        """Over, and with enough sleep to mention."""
        return not self.ongoing and self.asleep_s >= SLEEP_MIN_S


def minute_code(minute: Minute) -> int:
    """The stage of a minute. Where records meet or overlap in one minute, the lowest code:
    a told stage wins over asleep (4) and in bed (5), which sources write around or instead of
    stages, and between told stages the lighter one, so sleep is never overstated."""
    return round(minute.low)


def _runs(minutes: Sequence[Minute]) -> list[list[Minute]]:
    runs: list[list[Minute]] = []
    for minute in minutes:
        if runs and minute.t - (runs[-1][-1].t + 60.0) <= SLEEP_MAX_GAP_S:
            runs[-1].append(minute)
        else:
            runs.append([minute])
    return runs


def _session(
    run: list[Minute], seen_until: float, heard_until: float, hour_of: Callable[[float], int]
) -> SleepSession | None:
    asleep = [m for m in run if minute_code(m) in SLEEPING]
    if not asleep:
        return None  # in bed or awake only: no sleep to tell
    start, end = run[0].t, run[-1].t + 60.0
    asleep_from, asleep_until = asleep[0].t, asleep[-1].t + 60.0
    stages = Counter(minute_code(m) for m in run if asleep_from <= m.t < asleep_until)
    over = end + SLEEP_MAX_GAP_S < seen_until and heard_until >= end + SLEEP_OVER_S
    sleep_s = 60.0 * sum(stages[code] for code in SLEEPING)
    first, last = NAP_HOURS
    nap = sleep_s < NAP_MAX_S and first <= hour_of(asleep_from) < last
    return SleepSession(start, end, asleep_from, asleep_until, stages, not over, nap)


def sleep_sessions(
    minutes: Sequence[Minute],
    seen: tuple[float, float],
    heard_until: float,
    hour_of: Callable[[float], int] = local_hour,
) -> list[SleepSession]:
    """The sleep sessions in ``minutes``, the sleep_stage rollups read over ``seen`` (the end
    infinity when the read reached the device's newest minute); one that may have begun before
    the read is left out. One is over once ``heard_until`` (the end of the device's newest
    reading of any kind, or the clock if that is later) is an hour past its end, and the read
    went on past the gap that would end it."""
    seen_from, seen_until = seen
    runs = [run for run in _runs(minutes) if run[0].t - seen_from > SLEEP_MAX_GAP_S + 60.0]
    found = (_session(run, seen_until, heard_until, hour_of) for run in runs)
    return [session for session in found if session is not None]
