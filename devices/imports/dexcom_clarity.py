"""Dexcom Clarity's CSV export: the sensor's glucose readings (EGV rows), in local time.

The header names the columns ('Index', 'Timestamp (YYYY-MM-DDThh:mm:ss)', 'Event Type',
'Glucose Value (mg/dL)' or '(mmol/L)', 'Transmitter Time (Long Integer)', 'Transmitter ID');
the first rows describe the patient and device and have no timestamp. A reading beyond what the
sensor reports is written 'Low' (under 40 mg/dL) or 'High' (over 400 mg/dL): those are stored
at that bound. Timestamps are the receiver's wall clock, read in the zone given (``--tz``).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from datetime import datetime
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

# What Dexcom sensors report at the ends of their range (G6, G7: 40 to 400 mg/dL).
LOW_MGDL = 40.0
HIGH_MGDL = 400.0
# Clarity's column order, used when the header is in another language.
POSITIONS = {"timestamp": 1, "event": 2, "glucose": 7, "transmitter_time": 12, "transmitter": 13}
PREFIXES = {
    "timestamp": "Timestamp",
    "event": "Event Type",
    "glucose": "Glucose Value",
    "transmitter_time": "Transmitter Time",
    "transmitter": "Transmitter ID",
}


def _columns(header: Sequence[str], path: Path) -> tuple[dict[str, int], bool]:
    """Where each needed column is, and whether glucose is in mmol/L."""
    found = {
        name: next((i for i, cell in enumerate(header) if cell.strip().startswith(prefix)), -1)
        for name, prefix in PREFIXES.items()
    }
    if found["timestamp"] < 0 or found["glucose"] < 0:
        if len(header) < len(POSITIONS) or not header[0].strip():
            raise ImportFileError(
                WRONG_FORMAT,
                path,
                "line 1",
                "no 'Timestamp' and 'Glucose Value' columns: give the CSV Clarity exports "
                "(Clarity > Export)",
            )
        found = dict(POSITIONS)
    unit = header[found["glucose"]].lower() if found["glucose"] < len(header) else ""
    return found, "mmol" in unit


def read_csv(path: Path, context: ImportContext) -> Iterator[BridgeSample]:
    """Every EGV reading of a Clarity CSV export."""
    with open_binary(path) as raw, counted_text(raw, context.advance) as text:
        rows = csv.reader(text)
        header = next(rows, None)
        if header is None:
            raise ImportFileError(WRONG_FORMAT, path, "", "the file is empty")
        columns, mmol = _columns(header, path)
        clock = LocalClock(context.zone)
        for row in rows:
            sample = _reading(row, columns, mmol, clock, rows.line_num, path, context)
            if sample is not None:
                yield sample


def _cell(row: Sequence[str], index: int) -> str:
    return row[index].strip() if 0 <= index < len(row) else ""


def _reading(
    row: Sequence[str],
    columns: dict[str, int],
    mmol: bool,
    clock: LocalClock,
    line: int,
    path: Path,
    context: ImportContext,
) -> BridgeSample | None:
    if _cell(row, columns["event"]) != "EGV":
        return None
    stamp = _cell(row, columns["timestamp"])
    value = _cell(row, columns["glucose"])
    try:
        local = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        raise ImportFileError(
            MALFORMED,
            path,
            f"line {line}",
            f"timestamp {stamp!r} is not YYYY-MM-DDThh:mm:ss; export the file again",
        ) from None
    if value.lower() == "low":
        mgdl = LOW_MGDL
    elif value.lower() == "high":
        mgdl = HIGH_MGDL
    else:
        try:
            mgdl = glucose_mgdl(number(value), mmol)
        except ValueError:
            raise ImportFileError(
                MALFORMED,
                path,
                f"line {line}",
                f"glucose value {value!r} is not a number, 'Low' or 'High'; export the file again",
            ) from None
    t = clock.utc(local)
    if not fits(context, "glucose", mgdl):
        return None
    # The transmitter's own clock names a reading whatever zone the import is read in.
    transmitter = _cell(row, columns["transmitter"])
    tick = _cell(row, columns["transmitter_time"])
    key = f"egv|{transmitter}|{tick}" if tick else f"egv|{transmitter}|{stamp}"
    return BridgeSample("glucose", t, mgdl, key)


DEXCOM_CLARITY = ImportFormat("dexcom-clarity", "Dexcom Clarity CSV", file_size, read_csv)
