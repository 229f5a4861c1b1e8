"""What the Health Auto Export app (iPhone) posts from a REST API automation, as readings.

Its documented JSON: ``{"data": {"metrics": [{"name", "units", "data": [points]}]}}``, each point
with a ``date`` like ``2024-01-01 08:00:00 +0100`` and a ``qty`` (heart rate: ``Min``/``Avg``/
``Max``). Kept: heart rate, step count, blood glucose (mg/dL or mmol/L) and blood oxygen
(percent, or a fraction of one); other metrics (and ``workouts``) are left out, counted.

As for Nightscout uploads (hub.bridges.nightscout): a malformed body is refused whole, a point
whose value is impossible is refused alone and named, and the rest is stored. Keys are
``"<metric>|<date>|<source>"``, as the file importer's, so a point sent again is stored once.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from devices.bridge_samples import BridgeSample, BridgeSampleError, checked
from hub.bridges.upload_body import MalformedUploadError, UploadTooLargeError, number

MAX_POINTS = 100_000  # per request
MGDL_PER_MMOLL = 18.0156  # glucose's molar mass, 180.156 g/mol
# The app's metric names (snake_case in its JSON) and the sensor kind each becomes.
KINDS = {
    "heart_rate": "heart_rate",
    "step_count": "steps",
    "blood_glucose": "glucose",
    "blood_oxygen_saturation": "spo2",
}
DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:\.\d+)? ?([+-]\d{2}:?\d{2}|Z)$")


@dataclass
class MetricsUpload:
    """What one post brings: readings to store, points refused (named), metrics left out."""

    samples: list[BridgeSample] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    ignored: Counter[str] = field(default_factory=Counter)


def parse_metrics(payload: object) -> MetricsUpload:
    """The readings of one Health Auto Export JSON body."""
    data = payload.get("data") if isinstance(payload, Mapping) else None
    metrics = data.get("metrics") if isinstance(data, Mapping) else None
    if not isinstance(metrics, list):
        raise MalformedUploadError(
            "data.metrics is missing: set the automation's Export Format to JSON and its Data "
            "Type to Health Metrics"
        )
    total = sum(len(m["data"]) for m in metrics if isinstance(m, Mapping) and _is_list(m))
    if total > MAX_POINTS:
        raise UploadTooLargeError(
            f"{total} data points in one request; send at most {MAX_POINTS} (a shorter Period, "
            "such as Since Last Sync)"
        )
    upload = MetricsUpload()
    for m, metric in enumerate(metrics):
        where = f"data.metrics[{m}]"
        if not isinstance(metric, Mapping) or not _is_list(metric):
            raise MalformedUploadError(f"{where} needs a name, units and a data list")
        name = metric.get("name")
        if not isinstance(name, str):
            raise MalformedUploadError(f"{where}.name: {name!r} is not a metric name")
        if name not in KINDS:
            upload.ignored[name[:40]] += len(metric["data"])
            continue
        units = metric.get("units")
        for p, point in enumerate(metric["data"]):
            spot = f"{where}.data[{p}]"
            if not isinstance(point, Mapping):
                raise MalformedUploadError(f"{spot} is not an object")
            sample = _sample(name, units, point, spot)
            try:
                upload.samples.append(checked(sample))
            except BridgeSampleError as exc:
                upload.refused.append(f"{spot} ({name} at {point['date']}): {exc}")
    return upload


def _is_list(metric: Mapping[str, object]) -> bool:
    return isinstance(metric.get("data"), list)


def _sample(name: str, units: object, point: Mapping[str, object], where: str) -> BridgeSample:
    date = point.get("date")
    if not isinstance(date, str):
        raise MalformedUploadError(f"{where}.date: {date!r} is not a time")
    t = _seconds(date, where)
    field_name = "Avg" if name == "heart_rate" and "Avg" in point else "qty"
    value = number(point.get(field_name))
    if value is None:
        raise MalformedUploadError(
            f"{where}.{field_name}: {point.get(field_name)!r} is not a finite number"
        )
    if name == "blood_glucose":
        unit = str(units).strip().lower()
        if unit.startswith("mmol"):
            value = round(value * MGDL_PER_MMOLL, 1)
        elif unit != "mg/dl":
            raise MalformedUploadError(
                f"data.metrics: glucose units {units!r} are neither mg/dL nor mmol/L"
            )
    elif name == "step_count":
        value = float(round(value))  # steps are whole; an aggregate may carry a fraction
    elif name == "blood_oxygen_saturation" and value <= 1:
        value = round(value * 100, 2)  # a fraction of one, as HealthKit keeps it
    source = point.get("source")
    key = f"{name}|{date}|{source if isinstance(source, str) else ''}"
    return BridgeSample(KINDS[name], t, value, key)


def _seconds(date: str, where: str) -> float:
    """'2024-01-01 08:00:00 +0100' as Unix seconds."""
    match = DATE.match(date.strip())
    if match is None:
        raise MalformedUploadError(
            f"{where}.date: {date[:40]!r} is not a time like '2024-01-01 08:00:00 +0100'"
        )
    day, clock, offset = match.groups()
    offset = "+00:00" if offset == "Z" else offset
    try:
        return datetime.fromisoformat(f"{day}T{clock}{offset}").timestamp()
    except ValueError as exc:
        raise MalformedUploadError(f"{where}.date: {date[:40]!r} is not a real time") from exc
