"""Nightscout entries as uploaders send them (xDrip+, Juggluco, ...) turned into glucose readings.

An entry is ``{"type": "sgv", "sgv": 120, "date": <ms>, "dateString", "direction", "device"}``
(``mbg`` entries carry ``mbg``, a meter reading); glucose is always in mg/dL in Nightscout's
entries, whatever units its pages show. The hub keeps ``sgv`` and ``mbg`` as ``glucose``
readings keyed ``"<type>:<date ms>"``, so an entry sent again is stored once; other types
(``cal``, ``sensor``, ...) are taken and left out, and the answer says so.

A malformed body (not JSON, an entry that is not an object, a number that is a string) is
refused whole: that is a bug in the sender and nothing of it is stored. A well-formed entry whose
value or time is impossible (sgv 900, a Dexcom error code below 20, a time in 1970) is refused
alone: the others are stored and the answer names it. Refusing the whole upload would make the
app send the same batch, bad entry included, again and again.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from devices.bridge_samples import BridgeSample, BridgeSampleError, checked
from hub.bridges.upload_body import MalformedUploadError, UploadTooLargeError, number

KEPT_TYPES = ("sgv", "mbg")  # the entry types that are glucose readings
MAX_ENTRIES = 10_000  # per request: over a month of 5-minute readings
EARLIEST_MS = 946_684_800_000  # 2000-01-01: a time before it is a unit bug (seconds sent as ms)
FUTURE_SLACK_MS = 86_400_000  # a phone's clock may run ahead, not by more than a day
# Dexcom's trend arrows by rate of change in mg/dL per minute, steepest first (the bands
# Nightscout and xDrip+ show): at least 3 is DoubleUp, at least 2 SingleUp, at least 1
# FortyFiveUp, above -1 Flat, and the same downwards.
TREND_BANDS = (
    (3.0, "DoubleUp"),
    (2.0, "SingleUp"),
    (1.0, "FortyFiveUp"),
    (-1.0, "Flat"),
    (-2.0, "FortyFiveDown"),
    (-3.0, "SingleDown"),
)
TREND_GAP_S = 15 * 60  # readings further apart than this say nothing about the trend


@dataclass(frozen=True)
class GlucoseEntry:
    """One stored reading as Nightscout shows it."""

    type: str  # sgv or mbg
    date_ms: int
    mgdl: float
    direction: str | None  # sgv only: Dexcom's trend arrow, worked out from the readings
    delta: float | None  # sgv only: the change from the previous reading, per 5 minutes


@dataclass
class EntryUpload:
    """What one POST of entries brings: the readings to store, the entries refused (each
    named), and how many of each other type were left out."""

    samples: list[BridgeSample] = field(default_factory=list)
    accepted: list[GlucoseEntry] = field(default_factory=list)  # the same, as entries
    refused: list[str] = field(default_factory=list)
    ignored: Counter[str] = field(default_factory=Counter)

    def ignored_text(self) -> str:
        """'3 cal, 1 sensor' (the types left out, how many of each), or ''."""
        return ", ".join(f"{count} {kind}" for kind, count in sorted(self.ignored.items()))


def parse_entries(payload: object, now_ms: float) -> EntryUpload:
    """The readings of an entries upload (a JSON array of entries, or one entry)."""
    entries = payload if isinstance(payload, list) else [payload]
    if len(entries) > MAX_ENTRIES:
        raise UploadTooLargeError(
            f"{len(entries)} entries in one request; send at most {MAX_ENTRIES} at a time"
        )
    upload = EntryUpload()
    for index, entry in enumerate(entries):
        where = f"entries[{index}]" if isinstance(payload, list) else "the entry"
        if not isinstance(entry, Mapping):
            raise MalformedUploadError(f"{where} is not an object; send Nightscout entries")
        kind = _entry_type(entry, where)
        if kind not in KEPT_TYPES:
            upload.ignored[kind] += 1
            continue
        value = number(entry.get(kind))
        if value is None:
            raise MalformedUploadError(
                f"{where}.{kind}: {entry.get(kind)!r} is not a number; an {kind} entry carries "
                "its glucose in mg/dL"
            )
        date_ms = _date_ms(entry, where)
        sample = BridgeSample("glucose", date_ms / 1000, value, f"{kind}:{int(date_ms)}")
        problem = _impossible(sample, date_ms, now_ms)
        if problem:
            upload.refused.append(f"{where} ({kind} {value:g} at {_iso(date_ms)}): {problem}")
            continue
        upload.samples.append(sample)
        upload.accepted.append(GlucoseEntry(kind, int(date_ms), value, None, None))
    return upload


def _entry_type(entry: Mapping[str, object], where: str) -> str:
    kind = entry.get("type")
    if kind is None:
        # The oldest uploaders send sgv entries without a type.
        return next((name for name in KEPT_TYPES if name in entry), "(no type)")
    if not isinstance(kind, str):
        raise MalformedUploadError(f"{where}.type: {kind!r} is not a string such as 'sgv'")
    return kind.strip()[:32] or "(no type)"


def _date_ms(entry: Mapping[str, object], where: str) -> float:
    """The entry's time in Unix milliseconds: ``date``, or else ``dateString`` (ISO 8601)."""
    if "date" in entry:
        date = number(entry["date"])
        if date is None:
            raise MalformedUploadError(
                f"{where}.date: {entry['date']!r} is not a number; send Unix milliseconds"
            )
        return float(int(date))
    text = entry.get("dateString")
    if not isinstance(text, str):
        raise MalformedUploadError(
            f"{where} has neither date (Unix milliseconds) nor dateString (ISO 8601)"
        )
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise MalformedUploadError(
            f"{where}.dateString: {text[:40]!r} is not an ISO 8601 time"
        ) from exc
    if moment.tzinfo is None:
        raise MalformedUploadError(
            f"{where}.dateString: {text[:40]!r} has no UTC offset, so its moment is unknown; "
            "send date in Unix milliseconds"
        )
    return float(round(moment.timestamp() * 1000))


def _impossible(sample: BridgeSample, date_ms: float, now_ms: float) -> str:
    """Why the reading cannot be stored, or ''."""
    if date_ms < EARLIEST_MS:
        return "its time is before 2000: date is in milliseconds since 1970, not seconds"
    if date_ms > now_ms + FUTURE_SLACK_MS:
        return "its time is more than a day ahead of the hub's clock; check the phone's clock"
    try:
        checked(sample)
    except BridgeSampleError as exc:
        return str(exc)
    return ""


def _iso(date_ms: float) -> str:
    try:
        return datetime.fromtimestamp(date_ms / 1000, UTC).isoformat(timespec="seconds")
    except (OverflowError, OSError, ValueError):
        return f"{date_ms:.0f} ms"


def entry_id(device_id: str, key: str) -> str:
    """A stable 24-hex-digit id in the shape of Nightscout's ``_id`` (a MongoDB ObjectId)."""
    return hashlib.sha1(f"{device_id}|{key}".encode()).hexdigest()[:24]


def iso_ms(date_ms: int) -> str:
    """Nightscout's dateString: ISO 8601 in UTC with milliseconds."""
    moment = datetime.fromtimestamp(date_ms / 1000, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def trend(
    newer: tuple[float, float], older: tuple[float, float] | None
) -> tuple[str, float | None]:
    """(direction, delta per 5 minutes) of the reading ``newer`` (t, mg/dL) after ``older``."""
    if older is None or not 0 < newer[0] - older[0] <= TREND_GAP_S:
        return "NONE", None
    per_minute = (newer[1] - older[1]) / ((newer[0] - older[0]) / 60)
    direction = next((name for floor, name in TREND_BANDS if per_minute >= floor), "DoubleDown")
    return direction, round(per_minute * 5, 1)


def with_trends(rows: Sequence[tuple[str, float, float]]) -> list[GlucoseEntry]:
    """Entries of ``rows`` (type, t, mg/dL), newest first, each sgv with the trend from the sgv
    before it among ``rows`` (read one row more than is shown, so the oldest shown has one)."""
    entries: list[GlucoseEntry] = []
    sgv_rows = [(t, v) for kind, t, v in rows if kind == "sgv"]
    older_of = dict(zip(sgv_rows, [*sgv_rows[1:], None], strict=True))
    for kind, t, v in rows:
        direction: str | None = None
        delta: float | None = None
        if kind == "sgv":
            direction, delta = trend((t, v), older_of[(t, v)])
        entries.append(GlucoseEntry(kind, round(t * 1000), v, direction, delta))
    return entries
