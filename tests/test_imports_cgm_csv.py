"""Dexcom Clarity and LibreView CSV exports: values, units, local times, errors."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest

from devices.bridge_samples import all_checked
from devices.imports.common import (
    MALFORMED,
    WRONG_FORMAT,
    ImportContext,
    ImportFileError,
    file_size,
    named_zone,
)
from devices.imports.dexcom_clarity import read_csv as read_clarity
from devices.imports.libreview import (
    DAY_FIRST,
    MONTH_FIRST,
    YEAR_FIRST,
    date_order,
)
from devices.imports.libreview import read_csv as read_libre
from tests.imports_support import libre_row, write_clarity, write_libreview

BERLIN = named_zone("Europe/Berlin")
NEW_YORK = named_zone("America/New_York")


def utc(text: str) -> float:
    return datetime.fromisoformat(text + "+00:00").timestamp()


def berlin() -> ImportContext:
    return ImportContext(zone=BERLIN)


def test_clarity_egv_rows_become_glucose_in_the_zone_given(tmp_path: Path) -> None:
    path = write_clarity(
        tmp_path / "clarity.csv",
        [
            ("2024-06-01T08:00:05", "112"),
            ("2024-06-01T08:05:05", "Low"),
            ("2024-06-01T08:10:05", "High"),
            ("2024-06-01T08:15:05", "98"),
        ],
    )
    samples = all_checked(read_clarity(path, berlin()))
    assert [(s.t, s.v) for s in samples] == [
        (utc("2024-06-01 06:00:05"), 112.0),
        (utc("2024-06-01 06:05:05"), 40.0),
        (utc("2024-06-01 06:10:05"), 400.0),
        (utc("2024-06-01 06:15:05"), 98.0),
    ]
    assert {s.kind for s in samples} == {"glucose"}
    assert samples[0].key == "egv|8ABC12|5000"
    # The same file read in another zone: other times, the same keys (nothing stored twice).
    elsewhere = list(read_clarity(path, ImportContext(zone=NEW_YORK)))
    assert elsewhere[0].t == utc("2024-06-01 12:00:05")
    assert [s.key for s in elsewhere] == [s.key for s in samples]


def test_clarity_in_mmol_is_converted(tmp_path: Path) -> None:
    path = write_clarity(tmp_path / "c.csv", [("2024-06-01T08:00:05", "5.6")], mmol=True)
    assert [s.v for s in read_clarity(path, berlin())] == [100.9]


def test_clarity_walks_through_the_autumn_repeat_in_order(tmp_path: Path) -> None:
    stamps = ["01:55", "02:00", "02:30", "02:55", "02:00", "02:30", "02:55", "03:00"]
    path = write_clarity(tmp_path / "c.csv", [(f"2024-10-27T{s}:00", "100") for s in stamps])
    times = [s.t for s in read_clarity(path, berlin())]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert times[4] - times[3] == 300  # 02:55 CEST, then 02:00 CET five minutes later
    assert times[-1] == utc("2024-10-27 02:00:00")


def test_clarity_progress_and_a_bad_row(tmp_path: Path) -> None:
    path = write_clarity(
        tmp_path / "c.csv", [("2024-06-01T08:00:05", "112"), ("2024-06-01T08:05:05", "1l2")]
    )
    with pytest.raises(ImportFileError) as caught:
        list(read_clarity(path, berlin()))
    assert caught.value.code == MALFORMED
    assert caught.value.where == "line 7"
    assert "'1l2' is not a number, 'Low' or 'High'" in str(caught.value)
    path = write_clarity(tmp_path / "d.csv", [("06/01/2024 8:00", "112")])
    with pytest.raises(ImportFileError, match=r"line 6: timestamp '06/01/2024 8:00'"):
        list(read_clarity(path, berlin()))
    path = write_clarity(tmp_path / "e.csv", [("2024-06-01T08:00:05", "112")])
    counted: list[int] = []
    list(read_clarity(path, ImportContext(advance=counted.append)))
    assert sum(counted) == file_size(path)


def test_clarity_refuses_another_csv(tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(ImportFileError, match="Clarity > Export") as caught:
        list(read_clarity(path, berlin()))
    assert caught.value.code == WRONG_FORMAT


def test_libreview_historic_and_scan_rows_in_mg(tmp_path: Path) -> None:
    path = write_libreview(
        tmp_path / "libre.csv",
        [
            libre_row("10-31-2023 00:08", 0, "112"),
            libre_row("10-31-2023 00:23", 0, "118"),
            libre_row("10-31-2023 07:41", 1, "131"),
            libre_row("10-31-2023 12:00", 5, "40"),  # food: no glucose
            libre_row("10-31-2023 12:05", 6, ""),
            libre_row("10-31-2023 13:00", 0, "700"),  # beyond the glucose kind's range
        ],
    )
    context = ImportContext(zone=NEW_YORK)
    samples = all_checked(read_libre(path, context))
    assert [(s.t, s.v) for s in samples] == [
        (utc("2023-10-31 04:08:00"), 112.0),
        (utc("2023-10-31 04:23:00"), 118.0),
        (utc("2023-10-31 11:41:00"), 131.0),
    ]
    assert context.skipped == Counter({"glucose outside 20..600": 1})
    assert samples[2].key == "libre|ABC1-23456|1|10-31-2023 07:41|131"


def test_libreview_day_first_in_mmol(tmp_path: Path) -> None:
    path = write_libreview(
        tmp_path / "libre.csv",
        [
            libre_row("05-11-2023 23:50", 0, "6.2"),
            libre_row("06-11-2023 00:05", 0, "6,0"),
            libre_row("06-11-2023 08:12", 1, "5.5"),
        ],
        unit="mmol/L",
    )
    samples = list(read_libre(path, berlin()))
    assert [(s.t, s.v) for s in samples] == [
        (utc("2023-11-05 22:50:00"), 111.7),
        (utc("2023-11-05 23:05:00"), 108.1),
        (utc("2023-11-06 07:12:00"), 99.1),
    ]


def test_date_order_is_read_from_the_file() -> None:
    assert date_order(["10-31-2023 00:08"]) == MONTH_FIRST
    assert date_order(["31-10-2023 00:08"]) == DAY_FIRST
    assert date_order(["31.10.2023 00:08"]) == DAY_FIRST
    assert date_order(["2023-10-31 00:08"]) == YEAR_FIRST
    assert date_order(["11/05/2023 11:50 PM"]) == MONTH_FIRST
    # Only days 1-12: the reading where successive days follow each other wins.
    day_first = ["01-03-2024 10:00", "02-03-2024 10:00", "03-03-2024 10:00", "04-03-2024 9:00"]
    month_first = ["03-01-2024 10:00", "03-02-2024 10:00", "03-03-2024 10:00"]
    assert date_order(day_first) == DAY_FIRST
    assert date_order(month_first) == MONTH_FIRST
    assert date_order(["03-04-2024 10:00"]) == MONTH_FIRST  # nothing tells: LibreView's US way


def test_libreview_twelve_hour_times(tmp_path: Path) -> None:
    path = write_libreview(
        tmp_path / "libre.csv",
        [libre_row("11/05/2023 11:50 PM", 0, "100"), libre_row("11/06/2023 12:05 AM", 0, "101")],
    )
    assert [s.t for s in read_libre(path, ImportContext(zone=NEW_YORK))] == [
        utc("2023-11-06 04:50:00"),
        utc("2023-11-06 05:05:00"),
    ]


def test_libreview_spring_gap_and_autumn_repeat(tmp_path: Path) -> None:
    path = write_libreview(
        tmp_path / "libre.csv",
        [
            libre_row("31-03-2024 01:50", 0, "100"),
            libre_row("31-03-2024 02:05", 0, "101"),  # in the gap: CET still
            libre_row("27-10-2024 02:50", 0, "102"),
            libre_row("27-10-2024 02:05", 0, "103"),  # the repeat: CET
        ],
    )
    assert [s.t for s in read_libre(path, berlin())] == [
        utc("2024-03-31 00:50:00"),
        utc("2024-03-31 01:05:00"),
        utc("2024-10-27 00:50:00"),
        utc("2024-10-27 01:05:00"),
    ]


def test_libreview_errors_name_the_line(tmp_path: Path) -> None:
    path = write_libreview(
        tmp_path / "libre.csv",
        [libre_row("10-31-2023 00:08", 0, "112"), libre_row("10-31-2023 00:23", 0, "n/a")],
    )
    with pytest.raises(ImportFileError) as caught:
        list(read_libre(path, berlin()))
    assert caught.value.where == "line 4"
    assert "'n/a' (record type 0) is not a number" in str(caught.value)
    path = write_libreview(tmp_path / "l2.csv", [libre_row("yesterday", 0, "112")])
    with pytest.raises(ImportFileError, match="line 3: device timestamp 'yesterday'"):
        list(read_libre(path, berlin()))
    path = tmp_path / "l3.csv"
    path.write_text("just,some\ntext,here\n")
    with pytest.raises(ImportFileError, match="no LibreView header"):
        list(read_libre(path, berlin()))
