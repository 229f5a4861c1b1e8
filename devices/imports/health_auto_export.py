"""The Health Auto Export app's JSON (a file it exported, or a body it posts live).

Its documented shape: ``{"data": {"metrics": [{"name", "units", "data": [...]}, ...]}}``,
each point with a ``date`` like '2024-02-06 14:30:00 -0800' and a ``qty`` (heart rate has
``Min``/``Avg``/``Max``; sleep, with aggregation off, ``startDate``/``endDate``/``value``).
``payload_samples`` takes the parsed object, so the same parser serves the live endpoint.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from devices.bridge_samples import BridgeSample
from devices.imports.common import (
    MALFORMED,
    WRONG_FORMAT,
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
    time_error,
)

# Health Auto Export's sleep values (aggregation off) to sleep_stage names.
SLEEP_VALUES = {
    "awake": "awake",
    "asleep": "asleep",
    "unspecified": "asleep",
    "in bed": "in_bed",
    "inbed": "in_bed",
    "core": "light",
    "rem": "rem",
    "deep": "deep",
}
STEPS_SPAN_S = 60.0  # a step_count point with no end covers the minute it starts (the app's
# finest grouping); only where a count is over the per-sample bound does the span matter.

Parse = Callable[[str], float]


def read_file(path: Path, context: ImportContext) -> Iterator[BridgeSample]:
    """Every heart-rate, step, glucose, SpO2 and sleep reading of an exported JSON file."""
    with open_binary(path) as source:
        try:
            payload = json.load(source)
        except (ValueError, UnicodeDecodeError) as exc:
            where = ""
            if isinstance(exc, json.JSONDecodeError):
                where = f"line {exc.lineno}, column {exc.colno}"
            raise ImportFileError(
                MALFORMED, path, where, f"not valid JSON ({exc}); export it again from the app"
            ) from exc
    context.advance(file_size(path))
    yield from payload_samples(payload, context, path)


def payload_samples(
    payload: object, context: ImportContext, path: Path | str = "upload"
) -> Iterator[BridgeSample]:
    """The readings of one Health Auto Export JSON object; errors name the JSON path."""
    data = payload.get("data") if isinstance(payload, Mapping) else None
    metrics = data.get("metrics") if isinstance(data, Mapping) else None
    if not isinstance(metrics, list):
        raise ImportFileError(
            WRONG_FORMAT,
            path,
            "data.metrics",
            "missing: give Health Auto Export's JSON export (format JSON, not CSV)",
        )
    parse = offset_time_parser()
    for m, metric in enumerate(metrics):
        where = f"data.metrics[{m}]"
        if not isinstance(metric, Mapping) or not isinstance(metric.get("data"), list):
            raise ImportFileError(MALFORMED, path, where, "needs a name, units and a data list")
        name = str(metric.get("name", ""))
        units = str(metric.get("units", ""))
        for p, point in enumerate(metric["data"]):
            spot = f"{where}.data[{p}]"
            if not isinstance(point, Mapping):
                raise ImportFileError(MALFORMED, path, spot, "is not an object")
            yield from _point(name, units, point, spot, parse, context, path)


def _point(
    name: str,
    units: str,
    point: Mapping[str, Any],
    where: str,
    parse: Parse,
    context: ImportContext,
    path: Path | str,
) -> Iterator[BridgeSample]:
    source = str(point.get("source", ""))
    if name == "sleep_analysis":
        yield from _sleep(point, where, parse, context, path, source)
        return
    if name not in ("heart_rate", "step_count", "blood_glucose", "blood_oxygen_saturation"):
        context.skip(f"metric {name}")
        return
    date = _text(point, "date", where, path)
    t = _time(parse, date, f"{where}.date", path)
    key = f"{name}|{date}|{source}"
    place = f"{where} ({name} at {date})"
    if name == "heart_rate":
        value = _number(point, "Avg" if "Avg" in point else "qty", where, path)
        if fits(context, "heart_rate", value, place):
            yield BridgeSample("heart_rate", t, value, key)
    elif name == "step_count":
        yield from split_steps(round(_number(point, "qty", where, path)), t, t + STEPS_SPAN_S, key)
    elif name == "blood_glucose":
        mmol = units.lower().startswith("mmol")
        if not mmol and units.lower() != "mg/dl":
            raise ImportFileError(
                MALFORMED, path, where, f"glucose units {units!r} are neither mg/dL nor mmol/L"
            )
        value = glucose_mgdl(_number(point, "qty", where, path), mmol)
        if fits(context, "glucose", value, place):
            yield BridgeSample("glucose", t, value, key)
    else:
        value = _number(point, "qty", where, path)
        percent = round(value * 100, 2) if value <= 1 else value
        if fits(context, "spo2", percent, place):
            yield BridgeSample("spo2", t, percent, key)


def _sleep(
    point: Mapping[str, Any],
    where: str,
    parse: Parse,
    context: ImportContext,
    path: Path | str,
    source: str,
) -> Iterator[BridgeSample]:
    if "startDate" not in point:
        # Aggregated sleep is a night's totals: when each stage happened is not in it.
        context.skip("sleep totals (turn off aggregation in Health Auto Export for stages)")
        return
    begins = _text(point, "startDate", where, path)
    start = _time(parse, begins, f"{where}.startDate", path)
    end = _time(parse, _text(point, "endDate", where, path), f"{where}.endDate", path)
    value = str(point.get("value", ""))
    stage = SLEEP_VALUES.get(value.strip().lower())
    if stage is None:
        context.skip(f"sleep value {value}")
        return
    yield from sleep_minutes(stage, start, end, f"sleep_analysis|{begins}|{value}|{source}")


def _time(parse: Parse, text: str, where: str, path: Path | str) -> float:
    try:
        return parse(text)
    except ValueError:
        raise time_error(path, where, text) from None


def _text(point: Mapping[str, Any], field: str, where: str, path: Path | str) -> str:
    value = point.get(field)
    if not isinstance(value, str):
        raise ImportFileError(MALFORMED, path, f"{where}.{field}", "missing or not a string")
    return value


def _number(point: Mapping[str, Any], field: str, where: str, path: Path | str) -> float:
    value = point.get(field)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ImportFileError(MALFORMED, path, f"{where}.{field}", f"{value!r} is not a number")
    return float(value)


HEALTH_AUTO_EXPORT = ImportFormat(
    "health-auto-export", "Health Auto Export JSON", file_size, read_file
)
