"""Search filters, checked once and compiled for both the vector index and SQL."""

from __future__ import annotations

from typing import Any

from memory.errors import InvalidMemoryError
from memory.timestamps import parse_time, to_stored
from memory.types import KINDS, SOURCES, SearchFilters
from memory.validation import check_kind, check_source
from memory.vector_index import VectorFilter


def compile_filters(filters: SearchFilters) -> tuple[VectorFilter, str, list[Any]]:
    """Check filters and turn them into an index filter and an SQL condition on items ``i``."""
    for kind in filters.kinds:
        check_kind(kind, "kinds")
    for source in filters.sources:
        check_source(source, "sources")
    since = parse_time(filters.since, "since") if filters.since is not None else None
    until = parse_time(filters.until, "until") if filters.until is not None else None
    if since is not None and until is not None and since >= until:
        raise InvalidMemoryError("since must be earlier than until", field="since")
    sql, params = "", []
    if filters.kinds:
        sql += f" AND i.kind IN ({','.join('?' * len(filters.kinds))})"
        params += list(filters.kinds)
    if filters.sources:
        sql += f" AND i.source IN ({','.join('?' * len(filters.sources))})"
        params += list(filters.sources)
    if since is not None:
        sql += " AND i.happened_at >= ?"
        params.append(to_stored(since))
    if until is not None:
        sql += " AND i.happened_at < ?"
        params.append(to_stored(until))
    vector_filter = VectorFilter(
        kinds=tuple(KINDS.index(kind) for kind in filters.kinds),
        sources=tuple(SOURCES.index(source) for source in filters.sources),
        since=since.timestamp() if since else None,
        until=until.timestamp() if until else None,
    )
    return vector_filter, sql, params
