"""Apple Health's `export.zip` (or the `export.xml` inside it), streamed in bounded memory.

The Health app writes every reading as a ``Record`` element directly under ``HealthData``, with
``type``, ``unit``, ``value``, ``sourceName`` and ``startDate``/``endDate`` like
'2024-03-01 08:15:00 +0100'. The file is read with ``iterparse`` and each finished element is
cleared and dropped from the root, so a gigabyte export takes as little memory as a small one.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import IO
from xml.etree.ElementTree import Element, ParseError, iterparse

from devices.bridge_samples import BridgeSample
from devices.imports.common import (
    MALFORMED,
    UNREADABLE,
    WRONG_FORMAT,
    CountingReader,
    ImportContext,
    ImportFileError,
    ImportFormat,
    file_size,
    fits,
    glucose_mgdl,
    offset_time_parser,
    open_binary,
    sleep_minutes,
    split_steps,
)

HEART_RATE = "HKQuantityTypeIdentifierHeartRate"
STEPS = "HKQuantityTypeIdentifierStepCount"
GLUCOSE = "HKQuantityTypeIdentifierBloodGlucose"
OXYGEN = "HKQuantityTypeIdentifierOxygenSaturation"
SLEEP = "HKCategoryTypeIdentifierSleepAnalysis"
WANTED = frozenset({HEART_RATE, STEPS, GLUCOSE, OXYGEN, SLEEP})

# HKCategoryValueSleepAnalysis... values as the export spells them, to sleep_stage names.
SLEEP_VALUES = {
    "HKCategoryValueSleepAnalysisInBed": "in_bed",
    "HKCategoryValueSleepAnalysisAsleep": "asleep",
    "HKCategoryValueSleepAnalysisAsleepUnspecified": "asleep",
    "HKCategoryValueSleepAnalysisAwake": "awake",
    "HKCategoryValueSleepAnalysisAsleepCore": "light",
    "HKCategoryValueSleepAnalysisAsleepDeep": "deep",
    "HKCategoryValueSleepAnalysisAsleepREM": "rem",
}
XML_NAME = "export.xml"


def _member(archive: zipfile.ZipFile, path: Path) -> zipfile.ZipInfo:
    """The export.xml inside the archive (Apple puts it in apple_health_export/)."""
    for info in archive.infolist():
        if info.filename.rsplit("/", 1)[-1] == XML_NAME:
            return info
    raise ImportFileError(
        WRONG_FORMAT,
        path,
        "",
        "no export.xml inside: give the export.zip the Health app wrote (Health > your "
        "picture > Export All Health Data)",
    )


def _archive(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise ImportFileError(
            UNREADABLE, path, "", f"not a readable zip archive ({exc}); export it again"
        ) from exc


def export_size(path: Path) -> int:
    """Bytes of XML to read: export.xml's unpacked size inside a zip, else the file's size."""
    if not zipfile.is_zipfile(path):
        return file_size(path)
    with _archive(path) as archive:
        return _member(archive, path).file_size


def read_export(path: Path, context: ImportContext) -> Iterator[BridgeSample]:
    """Every heart-rate, step, glucose, SpO2 and sleep reading of an Apple Health export."""
    with ExitStack() as stack:
        source: IO[bytes]
        if zipfile.is_zipfile(path):
            archive = stack.enter_context(_archive(path))
            source = stack.enter_context(archive.open(_member(archive, path)))
        else:
            source = stack.enter_context(open_binary(path))
        counted = io.BufferedReader(CountingReader(source, context.advance), 1 << 16)
        yield from _records(counted, path, context)


def _records(source: IO[bytes], path: Path, context: ImportContext) -> Iterator[BridgeSample]:
    parse_time = offset_time_parser(path)
    depth = 0
    index = 0
    root: Element | None = None
    events = iterparse(source, events=("start", "end"))
    try:
        for event, element in events:
            if event == "start":
                if root is None:
                    root = element
                    if element.tag != "HealthData":
                        raise ImportFileError(
                            WRONG_FORMAT,
                            path,
                            "",
                            f"starts with <{element.tag}>, not <HealthData>: give the "
                            "export.zip or export.xml the Health app wrote",
                        )
                depth += 1
                continue
            depth -= 1
            if depth != 1:
                continue
            if element.tag == "Record":
                index += 1
                attributes = element.attrib
                if attributes.get("type") in WANTED:
                    yield from _samples(attributes, index, parse_time, path, context)
            # Cleared and dropped from the root: nothing read stays in memory.
            element.clear()
            if root is not None:
                root.clear()
    except ParseError as exc:
        line, column = exc.position
        raise ImportFileError(
            MALFORMED,
            path,
            f"line {line}, column {column}",
            f"the XML breaks off or is damaged ({exc.msg}); export it again from the Health app",
        ) from exc


def _samples(
    record: dict[str, str],
    index: int,
    parse_time: Callable[[str, str], float],
    path: Path,
    context: ImportContext,
) -> Iterator[BridgeSample]:
    kind = record["type"]
    start_text = record.get("startDate", "")
    where = f"record {index:,} ({kind.removeprefix('HKQuantityTypeIdentifier')}, {start_text})"
    start = parse_time(start_text, where)
    end = parse_time(record.get("endDate", start_text), where)
    value_text = record.get("value", "")
    source = record.get("sourceName", "")
    key = f"{start_text}|{value_text}|{source}"
    if kind == SLEEP:
        stage = SLEEP_VALUES.get(value_text)
        if stage is None:
            context.skip(f"sleep value {value_text}")
            return
        yield from sleep_minutes(stage, start, end, f"sleep|{key}")
        return
    try:
        value = float(value_text)
    except ValueError:
        raise ImportFileError(
            MALFORMED,
            path,
            where,
            f"value {value_text!r} is not a number; export the file again",
        ) from None
    unit = record.get("unit", "")
    if kind == HEART_RATE:
        if fits(context, "heart_rate", value):
            yield BridgeSample("heart_rate", start, value, f"hr|{key}")
    elif kind == STEPS:
        yield from split_steps(round(value), start, end, f"steps|{key}")
    elif kind == GLUCOSE:
        mgdl = _glucose(value, unit, path, where)
        if fits(context, "glucose", mgdl):
            yield BridgeSample("glucose", start, mgdl, f"bg|{key}")
    else:
        # Apple stores SpO2 as a fraction (0.97) with unit "%"; some apps wrote percent.
        percent = round(value * 100, 2) if value <= 1 else value
        if fits(context, "spo2", percent):
            yield BridgeSample("spo2", start, percent, f"spo2|{key}")


def _glucose(value: float, unit: str, path: Path, where: str) -> float:
    """mg/dL from Apple's units: 'mg/dL', or 'mmol<180.1558800000541>/L' (molar mass inside)."""
    if unit == "mg/dL":
        return value
    if unit.startswith("mmol"):
        inside = unit[unit.find("<") + 1 : unit.find(">")] if "<" in unit else ""
        try:
            return round(value * float(inside) / 10, 1) if inside else glucose_mgdl(value, True)
        except ValueError:
            return glucose_mgdl(value, True)
    raise ImportFileError(
        MALFORMED, path, where, f"glucose unit {unit!r} is neither mg/dL nor mmol/L"
    )


APPLE_HEALTH = ImportFormat("apple-health", "Apple Health export", export_size, read_export)
