"""Garmin FIT files: heart rate and steps from monitoring (all-day) and activity files.

Read with ``fitdecode``. A ``record`` message (an activity) gives ``heart_rate`` at its
``timestamp``. A ``monitoring`` message (all-day files) gives ``heart_rate``, and ``cycles``
which, for walking and running, are steps counted since the start of the day: a reading's
steps are the growth since the one before of the same activity (the first of each activity in
a file is where counting starts). Times are seconds since 1989-12-31 UTC; a message that
carries only ``timestamp_16`` (the low 16 bits) is placed after the last full timestamp.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import fitdecode

from devices.bridge_samples import BridgeSample
from devices.imports.common import (
    MALFORMED,
    WRONG_FORMAT,
    CountingReader,
    ImportContext,
    ImportFileError,
    ImportFormat,
    file_size,
    fits,
    open_binary,
    split_steps,
)

FIT_EPOCH = 631_065_600  # 1989-12-31T00:00:00Z in Unix seconds
FILE_ID, RECORD, MONITORING = 0, 20, 55
TIMESTAMP, SERIAL_NUMBER = 253, 3
RECORD_HEART_RATE = 3
CYCLES, ACTIVITY_TYPE, TYPE_INTENSITY, TIMESTAMP_16, MONITOR_HEART_RATE = 3, 5, 24, 26, 27
STEP_ACTIVITIES = frozenset({1, 6})  # running, walking: their cycles are steps


class _Cursor:
    """What a FIT file's messages build on: the device, the last full time, step totals."""

    def __init__(self) -> None:
        self.serial = "unknown"
        self.last_time: int | None = None
        self.totals: dict[int, tuple[int, int]] = {}  # activity -> (fit time, steps so far)


def _raw(message: fitdecode.FitDataMessage, number: int) -> int | None:
    value = message.get_value(number, raw_value=True, fallback=None)
    return value if isinstance(value, int) else None


def read_fit(path: Path, context: ImportContext) -> Iterator[BridgeSample]:
    """Every heart-rate and step reading of one FIT file."""
    cursor = _Cursor()
    index = 0
    with open_binary(path) as raw:
        source = CountingReader(raw, context.advance)
        try:
            with fitdecode.FitReader(
                source,
                processor=None,
                check_crc=fitdecode.CrcCheck.RAISE,
                error_handling=fitdecode.ErrorHandling.RAISE,
            ) as reader:
                for frame in reader:
                    if not isinstance(frame, fitdecode.FitDataMessage):
                        continue
                    index += 1
                    yield from _message(frame, cursor, context)
        except fitdecode.FitHeaderError as exc:
            raise ImportFileError(
                WRONG_FORMAT, path, "", f"not a FIT file ({exc}); give a .fit file from the device"
            ) from exc
        except fitdecode.FitError as exc:
            raise ImportFileError(
                MALFORMED,
                path,
                f"after message {index:,}",
                f"the file is damaged or cut short ({exc}); copy it from the device again",
            ) from exc


def _message(
    message: fitdecode.FitDataMessage, cursor: _Cursor, context: ImportContext
) -> Iterator[BridgeSample]:
    number = message.global_mesg_num
    if number == FILE_ID:
        serial = _raw(message, SERIAL_NUMBER)
        cursor.serial = str(serial) if serial is not None else cursor.serial
        return
    if number not in (RECORD, MONITORING):
        return
    stamp = _time(message, cursor)
    if stamp is None:
        context.skip("FIT messages without a time")
        return
    t = float(stamp + FIT_EPOCH)
    heart_rate = _raw(message, RECORD_HEART_RATE if number == RECORD else MONITOR_HEART_RATE)
    if heart_rate and fits(context, "heart_rate", heart_rate):
        yield BridgeSample("heart_rate", t, heart_rate, f"fit|{cursor.serial}|hr|{stamp}")
    if number == MONITORING:
        yield from _steps(message, stamp, cursor)


def _time(message: fitdecode.FitDataMessage, cursor: _Cursor) -> int | None:
    """The message's FIT time: its timestamp, or its timestamp_16 after the last full one."""
    stamp = _raw(message, TIMESTAMP)
    if stamp is not None:
        cursor.last_time = stamp
        return stamp
    low = _raw(message, TIMESTAMP_16)
    if low is None or cursor.last_time is None:
        return None
    last = cursor.last_time
    return last + ((low - (last & 0xFFFF)) & 0xFFFF)


def _steps(
    message: fitdecode.FitDataMessage, stamp: int, cursor: _Cursor
) -> Iterator[BridgeSample]:
    cycles = _raw(message, CYCLES)
    activity = _raw(message, ACTIVITY_TYPE)
    if activity is None:
        packed = _raw(message, TYPE_INTENSITY)
        activity = None if packed is None else packed & 0x1F
    if cycles is None or activity not in STEP_ACTIVITIES:
        return
    before = cursor.totals.get(activity)
    cursor.totals[activity] = (stamp, cycles)
    if before is None:
        return
    since, counted = before
    # The total starts again at midnight: then the whole total is new.
    grown = cycles - counted if cycles >= counted else cycles
    key = f"fit|{cursor.serial}|steps|{activity}|{stamp}"
    yield from split_steps(grown, float(since + FIT_EPOCH), float(stamp + FIT_EPOCH), key)


GARMIN_FIT = ImportFormat("garmin-fit", "Garmin FIT file", file_size, read_fit)
