"""Timestamps as the store keeps them: ISO 8601 in UTC with microseconds, so text order is time
order and an export round-trips byte for byte."""

from __future__ import annotations

from datetime import UTC, datetime

from memory.errors import InvalidMemoryError


def utc_now() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


def to_stored(moment: datetime) -> str:
    """The canonical stored form; a naive time is read as the machine's local time."""
    if moment.tzinfo is None:
        moment = moment.astimezone()
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def parse_time(value: str | datetime, field: str) -> datetime:
    """Parse an ISO 8601 time from a caller, naming the field when it is malformed."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.astimezone()
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidMemoryError(
            f"{field} is not an ISO 8601 time ({value!r}); send e.g. '2025-05-01T18:30:00+02:00'",
            field=field,
        ) from exc
    return moment if moment.tzinfo else moment.astimezone()


def stored_from_input(value: str | datetime, field: str) -> str:
    """Parse a caller's time and return its canonical stored form."""
    return to_stored(parse_time(value, field))


def to_epoch(stored: str) -> float:
    """Seconds since the epoch of a stored timestamp (for vectorised time filters)."""
    return datetime.fromisoformat(stored).timestamp()
