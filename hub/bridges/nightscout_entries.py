"""Reading a bridge's glucose back as Nightscout entries: ``count`` and the ``find[...]`` filters
that followers and uploaders send (``find[date][$gte]=<ms>``, ``find[dateString][$lte]=<ISO>``,
``find[type]=sgv``), newest first."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from hub.bridges.nightscout import KEPT_TYPES, GlucoseEntry, with_trends
from hub.errors import HubError
from hub.wearables.store import DeviceStore

DEFAULT_COUNT = 10  # Nightscout's default
MAX_COUNT = 10_000
FIND = re.compile(r"^find\[(\w+)\](?:\[\$(gte|gt|lte|lt|eq)\])?$")
HALF_MS = 0.0005  # times are whole milliseconds: bounds are moved by half of one


class EntryQueryError(HubError):
    """A GET of entries with a count or filter the hub cannot answer; the message names it."""

    error_code = "invalid_entry_query"


@dataclass(frozen=True)
class EntryQuery:
    """Which entries to read: newest first, at most ``count``, within the bounds (seconds)."""

    count: int = DEFAULT_COUNT
    types: tuple[str, ...] = KEPT_TYPES
    since: float | None = None  # t >= since
    until: float | None = None  # t <= until


def entry_query(
    params: Iterable[tuple[str, str]], types: tuple[str, ...] = KEPT_TYPES
) -> EntryQuery:
    """The query of a GET's parameters; one the hub does not support is refused, naming it."""
    query = EntryQuery(types=types)
    for name, value in params:
        if name == "count":
            query = replace(query, count=_count(value))
            continue
        match = FIND.match(name)
        if match is None:
            continue  # Nightscout ignores parameters it does not know (cache busters and such)
        field, operator = match.group(1), match.group(2) or "eq"
        if field == "type" and operator == "eq":
            query = replace(query, types=tuple(t for t in query.types if t == value))
        elif field in ("date", "dateString"):
            query = _bounded(query, operator, _seconds(field, value))
        else:
            raise EntryQueryError(
                f"the filter {name} is not supported; the hub filters entries by "
                "find[date], find[dateString] (with $gte, $gt, $lte, $lt) and find[type]"
            )
    return query


def _count(value: str) -> int:
    try:
        count = int(float(value))
    except (ValueError, OverflowError):  # not a number, or inf
        count = -1
    if not 0 < count <= MAX_COUNT:
        raise EntryQueryError(f"count={value[:20]!r}: ask for 1 to {MAX_COUNT} entries")
    return count


def _seconds(field: str, value: str) -> float:
    if field == "date":
        try:
            seconds = float(value) / 1000
            if not math.isfinite(seconds):
                raise ValueError(value)
            return seconds
        except ValueError as exc:
            raise EntryQueryError(
                f"find[date]={value[:40]!r} is not a time in Unix milliseconds"
            ) from exc
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise EntryQueryError(
            f"find[dateString]={value[:40]!r} is not an ISO 8601 date or time"
        ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.now().astimezone().tzinfo)
    return moment.timestamp()


def _bounded(query: EntryQuery, operator: str, at: float) -> EntryQuery:
    since, until = query.since, query.until
    if operator in ("gte", "gt", "eq"):
        low = at + HALF_MS if operator == "gt" else at - HALF_MS
        since = low if since is None else max(since, low)
    if operator in ("lte", "lt", "eq"):
        high = at - HALF_MS if operator == "lt" else at + HALF_MS
        until = high if until is None else min(until, high)
    return replace(query, since=since, until=until)


def read_entries(store: DeviceStore, device_id: str, query: EntryQuery) -> list[GlucoseEntry]:
    """The bridge's glucose entries matching ``query``, newest first (blocking)."""
    if not query.types:
        return []
    clauses = ["device_id = ?", "kind = 'glucose'"]
    params: list[str | float | int] = [device_id]
    if query.since is not None:
        clauses.append("t >= ?")
        params.append(query.since)
    if query.until is not None:
        clauses.append("t <= ?")
        params.append(query.until)
    with store.database.reading() as db:
        # Meter readings are few: their keys ("mbg:<ms>") tell them from sensor readings.
        meter_ms = {
            int(key[4:])
            for (key,) in db.execute(
                "SELECT key FROM bridge_readings WHERE device_id = ? AND key >= 'mbg:' "
                "AND key < 'mbg;'",
                [device_id],
            )
        }
        # One row more than shown, and the meter readings skipped: the oldest shown sensor
        # reading still has the one before it for its trend.
        limit = query.count + 1 + (len(meter_ms) if query.types == ("sgv",) else 0)
        rows = db.execute(
            f"SELECT t, value FROM samples WHERE {' AND '.join(clauses)} "
            "ORDER BY t DESC, id DESC LIMIT ?",
            [*params, limit],
        ).fetchall()
    typed = [("mbg" if round(t * 1000) in meter_ms else "sgv", t, v) for t, v in rows]
    entries = [entry for entry in with_trends(typed) if entry.type in query.types]
    return entries[: query.count]
