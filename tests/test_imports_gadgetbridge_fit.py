"""Gadgetbridge database exports and Garmin FIT files."""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path

import pytest

from devices.bridge_samples import all_checked
from devices.imports.common import MALFORMED, WRONG_FORMAT, ImportContext, ImportFileError
from devices.imports.gadgetbridge import read_database
from devices.imports.garmin_fit import read_fit
from tests.imports_support import (
    ENUM,
    UINT8,
    UINT16,
    UINT32,
    FitWriter,
    fit_time,
    write_gadgetbridge,
)

BASE = 1_717_200_000  # 2024-06-01 00:00:00 UTC
SERIAL = 3_987_654_321
WALKING, RUNNING, SEDENTARY = 6, 1, 8


def test_gadgetbridge_minutes_and_spo2(tmp_path: Path) -> None:
    path = write_gadgetbridge(tmp_path / "Gadgetbridge")
    context = ImportContext()
    seen: list[int] = []
    context.advance = seen.append
    samples = all_checked(read_database(path, context))
    assert sorted((s.kind, s.t, s.v) for s in samples) == sorted(
        [
            ("steps", BASE, 12),
            ("heart_rate", BASE, 64.0),
            ("steps", BASE + 120, 95),
            ("heart_rate", BASE + 120, 71.0),
            ("steps", BASE + 240, 30),
            ("spo2", BASE + 3600, 97.0),
            ("spo2", BASE + 7200, 95.0),
        ]
    )
    assert context.skipped == Counter({"heart_rate outside 20..250": 1})
    assert sum(seen) == path.stat().st_size
    keys = [s.key for s in samples]
    assert len(set(keys)) == len(keys)
    assert f"MI_BAND_ACTIVITY_SAMPLE|C8:0F:10:AA:BB:CC|{BASE}|steps" in keys


def test_gadgetbridge_refuses_other_files(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("not a database at all, just text" * 100)
    with pytest.raises(ImportFileError, match="Export DB") as caught:
        list(read_database(path, ImportContext()))
    assert caught.value.code == WRONG_FORMAT
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).execute("CREATE TABLE notes (x TEXT)").connection.close()
    with pytest.raises(ImportFileError, match="no activity-sample tables"):
        list(read_database(empty, ImportContext()))


def monitoring_file() -> bytes:
    fit = FitWriter()
    fit.file_id(SERIAL)
    start = fit_time(BASE)

    def monitor(at: int, activity: int, cycles: int, heart_rate: int) -> None:
        fit.message(
            1,
            55,
            [(253, UINT32, at), (5, ENUM, activity), (3, UINT32, cycles), (27, UINT8, heart_rate)],
        )

    monitor(start, WALKING, 1000, 61)  # where counting starts: no steps yet
    monitor(start + 60, WALKING, 1250, 64)
    monitor(start + 120, RUNNING, 500, 120)
    monitor(start + 180, RUNNING, 12_900, 150)  # 12,400 steps: over the per-sample bound
    monitor(start + 240, SEDENTARY, 7, 58)  # not steps
    # Heart rate alone with the compressed 16-bit time, after the last full timestamp.
    fit.message(2, 55, [(26, UINT16, (start + 300) & 0xFFFF), (27, UINT8, 57)])
    fit.message(2, 55, [(26, UINT16, (start + 360) & 0xFFFF), (27, UINT8, 255)])  # invalid
    monitor(start + 86_400, WALKING, 40, 60)  # a new day: the total started again
    return fit.data()


def test_fit_monitoring_heart_rate_and_steps(tmp_path: Path) -> None:
    path = tmp_path / "monitor.fit"
    path.write_bytes(monitoring_file())
    seen: list[int] = []
    samples = all_checked(read_fit(path, ImportContext(advance=seen.append)))
    assert [(s.t, s.v) for s in samples if s.kind == "heart_rate"] == [
        (BASE, 61),
        (BASE + 60, 64),
        (BASE + 120, 120),
        (BASE + 180, 150),
        (BASE + 240, 58),
        (BASE + 300, 57),
        (BASE + 86_400, 60),
    ]
    steps = [(s.t, s.v) for s in samples if s.kind == "steps"]
    assert steps == [
        (BASE + 60, 250),
        (BASE + 150, 6200),
        (BASE + 180, 6200),
        (BASE + 86_400, 40),
    ]
    assert sum(seen) == path.stat().st_size
    keys = [s.key for s in samples]
    assert len(set(keys)) == len(keys) and keys[0] == f"fit|{SERIAL}|hr|{fit_time(BASE)}"


def test_fit_activity_records(tmp_path: Path) -> None:
    fit = FitWriter()
    fit.file_id(SERIAL, kind=4)
    for second, bpm in enumerate((98, 101, 105)):
        fit.message(0, 20, [(253, UINT32, fit_time(BASE) + second), (3, UINT8, bpm)])
    path = tmp_path / "run.fit"
    path.write_bytes(fit.data())
    assert [(s.kind, s.t, s.v) for s in read_fit(path, ImportContext())] == [
        ("heart_rate", BASE, 98),
        ("heart_rate", BASE + 1, 101),
        ("heart_rate", BASE + 2, 105),
    ]


def test_fit_damage_is_named(tmp_path: Path) -> None:
    data = monitoring_file()
    cut = tmp_path / "cut.fit"
    cut.write_bytes(data[: len(data) - 30])
    with pytest.raises(ImportFileError, match="copy it from the device again") as caught:
        list(read_fit(cut, ImportContext()))
    assert caught.value.code == MALFORMED
    assert caught.value.where.startswith("after message ")
    other = tmp_path / "photo.fit"
    other.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    with pytest.raises(ImportFileError, match="not a FIT file") as caught:
        list(read_fit(other, ImportContext()))
    assert caught.value.code == WRONG_FORMAT
