"""What the Health Auto Export app (iPhone) posts from a REST API automation, as readings.

The body is the app's JSON export, read by the same parser as an exported file
(``devices/imports/health_auto_export.py``), so a reading sent live and then imported from a
file has one key and is stored once. Kept: heart rate, step count, blood glucose (mg/dL or
mmol/L), blood oxygen and sleep stages; other metrics are counted and left out. As for
Nightscout uploads (hub.bridges.nightscout): a malformed body is refused whole, a point whose
value is impossible is left out alone and named, and the rest is stored.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from devices.bridge_samples import BridgeSample
from devices.imports.common import ImportContext, ImportFileError
from devices.imports.health_auto_export import payload_samples
from hub.bridges.upload_body import MalformedUploadError, UploadTooLargeError

MAX_POINTS = 100_000  # per request
METRIC_SKIP = "metric "  # the parser's reason for a metric the hub does not keep


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
    lists = [m["data"] for m in metrics if isinstance(m, Mapping) and "data" in m]
    total = sum(len(points) for points in lists if isinstance(points, list))
    if total > MAX_POINTS:
        raise UploadTooLargeError(
            f"{total} data points in one request; send at most {MAX_POINTS} (a shorter Period, "
            "such as Since Last Sync)"
        )
    context = ImportContext()
    try:
        samples = list(payload_samples(payload, context))
    except ImportFileError as exc:
        raise MalformedUploadError(f"{exc.where}: {exc.message}") from exc
    ignored = Counter(
        {
            reason.removeprefix(METRIC_SKIP)[:40]: count
            for reason, count in context.skipped.items()
            if reason.startswith(METRIC_SKIP)
        }
    )
    return MetricsUpload(samples, list(context.named), ignored)
