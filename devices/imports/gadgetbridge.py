"""Gadgetbridge's database export (the SQLite file its 'Export DB' writes).

Each band or watch family has its own table of activity samples (``MI_BAND_ACTIVITY_SAMPLE``,
``HUAMI_EXTENDED_ACTIVITY_SAMPLE``, ``PEBBLE_HEALTH_ACTIVITY_SAMPLE``, ``XIAOMI_ACTIVITY_SAMPLE``,
...), and they share columns: ``TIMESTAMP`` (Unix seconds; milliseconds in some newer tables),
``DEVICE_ID`` (a row of ``DEVICE``, whose ``IDENTIFIER`` is the band's address), ``STEPS`` and
``HEART_RATE``; some tables carry ``SPO2``. Every table ending in ``_SAMPLE`` with a timestamp
and one of those columns is read. Empty values (0, -1, 255: "not measured") are left out, and
so are minutes with no steps.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

from devices.bridge_samples import BridgeSample
from devices.imports.common import (
    UNREADABLE,
    WRONG_FORMAT,
    ImportContext,
    ImportFileError,
    ImportFormat,
    file_size,
    fits,
    split_steps,
)

VALUE_COLUMNS = {"HEART_RATE": "heart_rate", "STEPS": "steps", "SPO2": "spo2"}
NOT_MEASURED = frozenset({0, -1, 255})  # the bands' "no value" markers
MILLISECONDS = 100_000_000_000  # a timestamp past this (year 5138 in seconds) is in ms
CHUNK = 5_000


def _connect(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise ImportFileError(UNREADABLE, path, "", "no such file")
    try:
        db = sqlite3.connect(f"file:{path.resolve()}?mode=ro&immutable=1", uri=True)
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as exc:
        raise ImportFileError(
            WRONG_FORMAT,
            path,
            "",
            f"not an SQLite database ({exc}): give the file Gadgetbridge's Data management > "
            "Export DB wrote",
        ) from exc
    return db


def _tables(db: sqlite3.Connection) -> list[tuple[str, list[str], bool]]:
    """(table, value columns, has DEVICE_ID) of every sample table with a TIMESTAMP."""
    found = []
    names = db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE '%\\_SAMPLE' "
        "ESCAPE '\\' ORDER BY name"
    ).fetchall()
    for (name,) in names:
        columns = {row[1].upper() for row in db.execute(f'PRAGMA table_info("{name}")')}
        values = [column for column in VALUE_COLUMNS if column in columns]
        if "TIMESTAMP" in columns and values:
            found.append((name, values, "DEVICE_ID" in columns))
    return found


def _devices(db: sqlite3.Connection) -> dict[int, str]:
    """DEVICE rows' ids to the band's identifier (its address), stable across reinstalls."""
    try:
        rows = db.execute("SELECT _id, IDENTIFIER FROM DEVICE").fetchall()
    except sqlite3.DatabaseError:
        return {}
    return {int(row[0]): str(row[1] or row[0]) for row in rows}


def read_database(path: Path, context: ImportContext) -> Iterator[BridgeSample]:
    """Every heart-rate, step and SpO2 reading of a Gadgetbridge database export."""
    db = _connect(path)
    try:
        tables = _tables(db)
        if not tables:
            raise ImportFileError(
                WRONG_FORMAT,
                path,
                "",
                "no activity-sample tables (…_SAMPLE with TIMESTAMP and STEPS or HEART_RATE): "
                "give the file Gadgetbridge's Data management > Export DB wrote",
            )
        devices = _devices(db)
        counts = [db.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t, _, _ in tables]
        size, total, done, reported = file_size(path), max(sum(counts), 1), 0, 0
        for table, values, has_device in tables:
            device = "DEVICE_ID" if has_device else "0"
            query = f'SELECT TIMESTAMP, {device}, {", ".join(values)} FROM "{table}"'
            cursor = db.execute(query)
            while rows := cursor.fetchmany(CHUNK):
                for row in rows:
                    yield from _row(table, values, row, devices, context)
                done += len(rows)
                progress = size * done // total
                context.advance(progress - reported)
                reported = progress
    finally:
        db.close()


def _row(
    table: str,
    values: list[str],
    row: tuple[object, ...],
    devices: dict[int, str],
    context: ImportContext,
) -> Iterator[BridgeSample]:
    stamp = row[0]
    if not isinstance(stamp, int | float):
        context.skip(f"{table} rows without a timestamp")
        return
    t = stamp / 1000 if stamp > MILLISECONDS else float(stamp)
    device = devices.get(row[1], str(row[1])) if isinstance(row[1], int) else str(row[1])
    for column, value in zip(values, row[2:], strict=True):
        if not isinstance(value, int | float) or value in NOT_MEASURED:
            continue
        kind = VALUE_COLUMNS[column]
        key = f"{table}|{device}|{int(stamp)}|{kind}"
        if kind == "steps":
            yield from split_steps(int(value), t, t, key)
        elif fits(context, kind, float(value)):
            yield BridgeSample(kind, t, float(value), key)


GADGETBRIDGE = ImportFormat("gadgetbridge", "Gadgetbridge database", file_size, read_database)
