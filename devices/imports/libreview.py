"""LibreView's CSV export of a FreeStyle Libre sensor: historic (record type 0, every 15
minutes) and scanned (record type 1) glucose, in the reader's local time.

Line 1 says who and when it was generated; line 2 is the header ('Device', 'Serial Number',
'Device Timestamp', 'Record Type', 'Historic Glucose mg/dL', 'Scan Glucose mg/dL', ...: in the
person's language, in that order, the unit mg/dL or mmol/L in the glucose columns). Other
record types (strips, insulin, food, notes) are left out. Timestamps are written the way the
account's locale writes dates: '10-31-2023 14:05' (month first), '31-10-2023 14:05' (day
first), '31.10.2023 14:05', '10/31/2023 02:05 PM' or '2023-10-31 14:05'. Which of month or day
comes first is read from the file itself (see ``date_order``).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from itertools import pairwise
from pathlib import Path

from devices.bridge_samples import BridgeSample
from devices.imports.common import (
    MALFORMED,
    WRONG_FORMAT,
    ImportContext,
    ImportFileError,
    ImportFormat,
    LocalClock,
    counted_text,
    file_size,
    fits,
    glucose_mgdl,
    number,
    open_binary,
)

HISTORIC = "0"
SCAN = "1"
POSITIONS = {"serial": 1, "timestamp": 2, "type": 3, "historic": 4, "scan": 5}
NAMES = {
    "serial": "Serial Number",
    "timestamp": "Device Timestamp",
    "type": "Record Type",
    "historic": "Historic Glucose",
    "scan": "Scan Glucose",
}
STAMP = re.compile(
    r"^(\d{1,4})[-./](\d{1,2})[-./](\d{1,4})[ T](\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])?$"
)
MONTH_FIRST = "month-first"
DAY_FIRST = "day-first"
YEAR_FIRST = "year-first"


def _rows(text: Iterator[str]) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(text)
    for row in reader:
        yield reader.line_num, row


def _header(rows: Iterator[tuple[int, list[str]]], path: Path) -> tuple[dict[str, int], bool]:
    """Skip the 'generated on' line, read the header: columns and whether glucose is mmol/L."""
    for line, row in rows:
        if line > 3:
            break
        cells = [cell.strip() for cell in row]
        if len(cells) < 6 or cells[3].isdigit():
            continue
        columns = {
            name: next((i for i, cell in enumerate(cells) if cell.startswith(text)), -1)
            for name, text in NAMES.items()
        }
        if min(columns.values()) < 0:
            columns = dict(POSITIONS)  # a header in another language: LibreView's order
        units = f"{cells[columns['historic']]} {cells[columns['scan']]}".lower()
        return columns, "mmol" in units
    raise ImportFileError(
        WRONG_FORMAT,
        path,
        "line 2",
        "no LibreView header (Device, Serial Number, Device Timestamp, Record Type, ...): "
        "give the CSV LibreView exports (Glucose History > Download glucose data)",
    )


def _parts(stamp: str) -> re.Match[str] | None:
    return STAMP.match(stamp.strip())


def date_order(stamps: Sequence[str]) -> str:
    """Whether the file's dates are month-first, day-first or year-first.

    Four-digit first numbers are year-first; dots are day-first (no locale writes a dotted
    date month-first). Otherwise a first number above 12 means day-first, a second above 12
    month-first. When no date says (only days 1 to 12), the reading whose dates, taken in file
    order, move the least from one to the next wins: a CGM's days follow each other, while the
    wrong reading jumps by months. With a single date nothing tells: month-first, as LibreView
    writes for US accounts.
    """
    triples: list[tuple[int, int, int]] = []
    for stamp in stamps:
        found = _parts(stamp)
        if found is None:
            continue
        first, second, third = (int(found.group(i)) for i in (1, 2, 3))
        if len(found.group(1)) == 4:
            return YEAR_FIRST
        if "." in stamp:
            return DAY_FIRST
        if first > 12:
            return DAY_FIRST
        if second > 12:
            return MONTH_FIRST
        if not triples or triples[-1] != (first, second, third):
            triples.append((first, second, third))
    return MONTH_FIRST if _drift(triples, True) <= _drift(triples, False) else DAY_FIRST


def _drift(triples: Sequence[tuple[int, int, int]], month_first: bool) -> int:
    """Days moved between successive dates if read month-first (or day-first)."""
    days: list[int] = []
    for first, second, year in triples:
        month, day = (first, second) if month_first else (second, first)
        try:
            days.append(date(year, month, day).toordinal())
        except ValueError:
            return 1 << 40  # not a date at all this way round
    return sum(abs(b - a) for a, b in pairwise(days))


def parse_stamp(stamp: str, order: str) -> datetime:
    """A LibreView device timestamp as a naive local time; ValueError when it is not one."""
    found = _parts(stamp)
    if found is None:
        raise ValueError(stamp)
    first, second, third, hour, minute = (int(found.group(i)) for i in range(1, 6))
    seconds = int(found.group(6) or 0)
    meridiem = (found.group(7) or "").lower()
    if meridiem:
        if not 1 <= hour <= 12:
            raise ValueError(stamp)
        hour = hour % 12 + (12 if meridiem == "pm" else 0)
    if order == YEAR_FIRST:
        year, month, day = first, second, third
    elif order == DAY_FIRST:
        year, month, day = third, second, first
    else:
        year, month, day = third, first, second
    return datetime(year, month, day, hour, minute, seconds)


def _stamps(path: Path, columns: dict[str, int]) -> list[str]:
    """Every glucose row's timestamp, read once before the import to settle the date order."""
    with open_binary(path) as raw, counted_text(raw, lambda _: None) as text:
        rows = _rows(text)
        _header(rows, path)
        return [
            row[columns["timestamp"]]
            for _, row in rows
            if len(row) > columns["type"] and row[columns["type"]].strip() in (HISTORIC, SCAN)
        ]


def read_csv(path: Path, context: ImportContext) -> Iterator[BridgeSample]:
    """Every historic and scanned glucose reading of a LibreView CSV export."""
    with open_binary(path) as raw, counted_text(raw, context.advance) as text:
        rows = _rows(text)
        columns, mmol = _header(rows, path)
        order = date_order(_stamps(path, columns))
        clocks: dict[str, LocalClock] = {}  # each reader has its own clock
        for line, row in rows:
            sample = _reading(row, columns, mmol, order, clocks, line, path, context)
            if sample is not None:
                yield sample


def _reading(
    row: Sequence[str],
    columns: dict[str, int],
    mmol: bool,
    order: str,
    clocks: dict[str, LocalClock],
    line: int,
    path: Path,
    context: ImportContext,
) -> BridgeSample | None:
    if len(row) <= columns["scan"]:
        if any(cell.strip() for cell in row):
            context.skip("LibreView rows too short")
        return None
    record_type = row[columns["type"]].strip()
    if record_type not in (HISTORIC, SCAN):
        return None
    stamp = row[columns["timestamp"]].strip()
    raw_value = row[columns["historic" if record_type == HISTORIC else "scan"]].strip()
    try:
        local = parse_stamp(stamp, order)
    except ValueError:
        raise ImportFileError(
            MALFORMED,
            path,
            f"line {line}",
            f"device timestamp {stamp!r} is not a date and time such as '10-31-2023 14:05'; "
            "export the file again",
        ) from None
    try:
        value = glucose_mgdl(number(raw_value), mmol)
    except ValueError:
        raise ImportFileError(
            MALFORMED,
            path,
            f"line {line}",
            f"glucose {raw_value!r} (record type {record_type}) is not a number; export the "
            "file again",
        ) from None
    serial = row[columns["serial"]].strip()
    clock = clocks.setdefault(serial, LocalClock(context.zone))
    t = clock.utc(local)
    if not fits(context, "glucose", value):
        return None
    return BridgeSample("glucose", t, value, f"libre|{serial}|{record_type}|{stamp}|{raw_value}")


LIBREVIEW = ImportFormat("libreview", "LibreView CSV", file_size, read_csv)
