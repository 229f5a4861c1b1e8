"""What the importers share: the error naming the place, progress, local times, units, steps."""

from __future__ import annotations

import io
import math
import os
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from pathlib import Path
from typing import IO, BinaryIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from devices.bridge_samples import BridgeSample
from devices.sensor_kinds import SENSOR_KINDS, SLEEP_STAGE_CODES

# Glucose's molar mass is 180.156 g/mol: 1 mmol/L is 18.0156 mg/dL (Apple writes the molar
# mass into its unit, "mmol<180.15588...>/L"; the others use this value or 18).
MGDL_PER_MMOLL = 18.0156
STEPS_PER_SAMPLE = int(SENSOR_KINDS["steps"].high)
SLEEP_EPOCH_S = 60.0

UNREADABLE = "unreadable_file"
WRONG_FORMAT = "wrong_format"
MALFORMED = "malformed_record"

Advance = Callable[[int], None]


NAMED_SKIPS = 20  # readings left out that are named one by one


def _ignore(_: int) -> None:
    return None


class ImportFileError(ValueError):
    """A file an importer cannot read; the message names the file, the place and the fix."""

    def __init__(self, code: str, path: Path | str, where: str, message: str) -> None:
        self.code = code
        self.path = Path(path)
        self.where = where
        self.message = message
        place = f"{self.path.name}: {where}" if where else self.path.name
        super().__init__(f"{place}: {message}")


@dataclass
class ImportContext:
    """What one import run gives its reader: the zone of local times, a progress callback,
    and a tally of readings left out (by reason) that the reader fills in."""

    zone: tzinfo = UTC
    advance: Advance = _ignore
    skipped: Counter[str] = field(default_factory=Counter)
    # The first few readings left out, each named by its place ("line 12: glucose outside
    # 20..600"): a live upload's answer shows them.
    named: list[str] = field(default_factory=list)

    def skip(self, reason: str, count: int = 1, where: str | None = None) -> None:
        """Count ``count`` readings left out for ``reason`` (said to the person at the end);
        ``where`` names the reading's place in the file."""
        self.skipped[reason] += count
        if where is not None and len(self.named) < NAMED_SKIPS:
            self.named.append(f"{where}: {reason}")


@dataclass(frozen=True)
class ImportFormat:
    """One kind of file ``hub import`` reads: its name (also the bridge kind), how big a
    file is in the units its reader reports progress in (bytes), and the reader."""

    name: str
    label: str
    size: Callable[[Path], int]
    read: Callable[[Path, ImportContext], Iterator[BridgeSample]]


def file_size(path: Path) -> int:
    """The size of ``path`` in bytes, or an ImportFileError naming the file."""
    try:
        return path.stat().st_size
    except OSError as exc:
        raise ImportFileError(UNREADABLE, path, "", f"cannot read it ({exc.strerror})") from exc


def open_binary(path: Path) -> BinaryIO:
    """``path`` opened for reading, or an ImportFileError naming the file."""
    try:
        return path.open("rb")
    except OSError as exc:
        raise ImportFileError(UNREADABLE, path, "", f"cannot read it ({exc.strerror})") from exc


class CountingReader(io.RawIOBase):
    """A binary stream that reports every byte read through ``advance`` (the progress bar)."""

    def __init__(self, raw: IO[bytes], advance: Advance) -> None:
        self._raw = raw
        self._advance = advance

    def readable(self) -> bool:
        """Always: it exists to be read."""
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        """Fill ``buffer`` from the wrapped stream and report the bytes."""
        data = self._raw.read(len(buffer))
        count = len(data)
        buffer[:count] = data
        if count:
            self._advance(count)
        return count


def counted_text(raw: IO[bytes], advance: Advance) -> io.TextIOWrapper:
    """UTF-8 text (a byte-order mark dropped) over ``raw``, reporting bytes as they are read."""
    buffered = io.BufferedReader(CountingReader(raw, advance), buffer_size=1 << 16)
    return io.TextIOWrapper(buffered, encoding="utf-8-sig", errors="replace", newline="")


def local_zone() -> tzinfo:
    """The machine's time zone with its daylight-saving rules (TZ, then /etc/localtime), UTC
    when neither says."""
    name = os.environ.get("TZ", "").lstrip(":")
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    try:
        with open("/etc/localtime", "rb") as source:
            return ZoneInfo.from_file(source, key="localtime")
    except (OSError, ValueError):
        return UTC


def named_zone(name: str) -> ZoneInfo:
    """The IANA zone called ``name``; a ValueError naming the fix when there is none."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"unknown time zone {name!r}: give an IANA name such as Europe/Berlin or "
            "America/New_York"
        ) from exc


class LocalClock:
    """Wall-clock times of one source (a CGM reader's, a phone's) to Unix seconds, in a zone.

    Daylight saving: a time in the hour skipped in spring is read with the offset in force
    before the change (the device had not moved its clock yet: 02:30 becomes 03:30 summer
    time). A time in the hour repeated in autumn is the earlier of its two instants, unless
    the reading before it lies between the two: then the file is walking through the
    repeated hour a second time, in time order, and it is the later one.
    """

    def __init__(self, zone: tzinfo) -> None:
        self.zone = zone
        self._last: float | None = None

    def utc(self, local: datetime) -> float:
        """Unix seconds of the wall-clock time ``local`` (naive) in this clock's zone."""
        at = local.replace(tzinfo=self.zone, fold=0)
        early = at.timestamp()
        late = at.replace(fold=1).timestamp()
        chosen = early
        if early < late and self._last is not None and early < self._last < late:
            chosen = late
        self._last = chosen
        return chosen


def offset_time_parser() -> Callable[[str], float]:
    """A parser of 'YYYY-MM-DD HH:MM:SS +HHMM' (Apple Health's and Health Auto Export's
    times) to Unix seconds; ValueError when the text is not one (see ``time_error``)."""
    days: dict[str, int] = {}  # (date, offset): the same few thousand recur millions of times

    def parse(text: str) -> float:
        if len(text) != 25 or text[10] != " " or text[13] != ":" or text[16] != ":":
            raise ValueError(text)
        part = text[:10] + text[19:]
        base = days.get(part)
        if base is None:
            offset = int(text[21:23]) * 3600 + int(text[23:25]) * 60
            if text[19:21] not in (" +", " -"):
                raise ValueError(text)
            day = (date.fromisoformat(text[:10]) - date(1970, 1, 1)).days * 86400
            base = day - offset if text[20] == "+" else day + offset
            days[part] = base
        return float(base + int(text[11:13]) * 3600 + int(text[14:16]) * 60 + int(text[17:19]))

    return parse


def time_error(path: Path | str, where: str, text: str) -> ImportFileError:
    """The error for a time that is not 'YYYY-MM-DD HH:MM:SS +HHMM', naming where it was."""
    return ImportFileError(
        MALFORMED,
        path,
        where,
        f"time {text!r} is not 'YYYY-MM-DD HH:MM:SS +HHMM'; export the file again",
    )


def number(text: str) -> float:
    """A number as exports write it: '5.6', '5,6' (a decimal comma), ' 112 '."""
    value = float(text.strip().replace(",", "."))
    if not math.isfinite(value):
        raise ValueError(text)
    return value


def glucose_mgdl(value: float, mmol: bool) -> float:
    """A glucose value in mg/dL (the glucose kind's unit), from mmol/L when ``mmol``."""
    return round(value * MGDL_PER_MMOLL, 1) if mmol else value


def fits(context: ImportContext, kind: str, value: float, where: str | None = None) -> bool:
    """True when ``value`` lies in ``kind``'s range; else the reading is counted as left out
    (and named by ``where``, its place in the file, when given)."""
    low, high, _ = SENSOR_KINDS.scalar_bounds[kind]
    if low <= value <= high:
        return True
    context.skip(f"{kind} outside {low:g}..{high:g}", where=where)
    return False


def split_steps(count: int, start: float, end: float, key: str) -> Iterator[BridgeSample]:
    """A step count over [start, end] as ``steps`` samples, each at the end of its share of
    the span and none above the kind's bound: 25,000 steps in an hour become 8,334 + 8,333 +
    8,333 at 20, 40 and 60 minutes. One share keeps ``key``; several get '|i/n' after it."""
    if count <= 0:
        return
    parts = -(-count // STEPS_PER_SAMPLE)
    if parts == 1:
        yield BridgeSample("steps", end, count, key)
        return
    span = max(end - start, 0.0)
    base, extra = divmod(count, parts)
    for index in range(parts):
        share = base + (1 if index < extra else 0)
        at = start + span * (index + 1) / parts
        yield BridgeSample("steps", at, share, f"{key}|{index + 1}/{parts}")


def sleep_minutes(stage: str, start: float, end: float, key: str) -> Iterator[BridgeSample]:
    """A sleep stage held over [start, end) as one ``sleep_stage`` sample per minute, at the
    start plus whole minutes, so stages that follow each other never share a time."""
    code = SLEEP_STAGE_CODES[stage]
    minutes = max(math.ceil((end - start) / SLEEP_EPOCH_S), 1)
    for index in range(minutes):
        yield BridgeSample("sleep_stage", start + index * SLEEP_EPOCH_S, code, f"{key}|{index}")
