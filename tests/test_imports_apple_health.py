"""Apple Health export.zip: the readings, their units and times, errors, bounded memory."""

from __future__ import annotations

import re
import tracemalloc
import zipfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from devices.bridge_samples import all_checked
from devices.imports.apple_health import export_size, read_export
from devices.imports.common import MALFORMED, WRONG_FORMAT, ImportContext, ImportFileError
from devices.sensor_kinds import SLEEP_STAGE_CODES
from tests.imports_support import apple_record, write_apple_export

HR = "HKQuantityTypeIdentifierHeartRate"
STEPS = "HKQuantityTypeIdentifierStepCount"
BG = "HKQuantityTypeIdentifierBloodGlucose"
SPO2 = "HKQuantityTypeIdentifierOxygenSaturation"
SLEEP = "HKCategoryTypeIdentifierSleepAnalysis"
T0 = 1_709_276_400  # 2024-03-01 07:00:00 UTC = 08:00 +0100


def typical_records() -> list[str]:
    return [
        apple_record(HR, "72", "2024-03-01 08:00:00 +0100", unit="count/min", metadata=True),
        apple_record(HR, "64.5", "2024-07-01 08:00:00 +0200", unit="count/min"),
        apple_record(HR, "300", "2024-03-01 08:01:00 +0100", unit="count/min"),
        apple_record(
            STEPS, "25000", "2024-03-01 08:00:00 +0100", "2024-03-01 09:00:00 +0100", "count"
        ),
        apple_record(
            STEPS, "420", "2024-03-01 09:00:00 +0100", "2024-03-01 09:10:00 +0100", "count"
        ),
        apple_record(BG, "105", "2024-03-01 10:00:00 +0100", unit="mg/dL"),
        apple_record(BG, "5.8", "2024-03-01 11:00:00 +0100", unit="mmol<180.1558800000541>/L"),
        apple_record(SPO2, "0.97", "2024-03-01 03:00:00 +0100", unit="%"),
        apple_record(
            SLEEP,
            "HKCategoryValueSleepAnalysisAsleepCore",
            "2024-03-01 01:00:00 +0100",
            "2024-03-01 01:03:00 +0100",
        ),
        apple_record(
            SLEEP,
            "HKCategoryValueSleepAnalysisAsleepDeep",
            "2024-03-01 01:03:00 +0100",
            "2024-03-01 01:04:30 +0100",
        ),
        apple_record(
            SLEEP,
            "HKCategoryValueSleepAnalysisInBed",
            "2024-03-01 00:50:00 +0100",
            "2024-03-01 00:51:00 +0100",
            source="iPhone",
        ),
        apple_record(
            "HKQuantityTypeIdentifierBodyMass", "61", "2024-03-01 07:00:00 +0100", unit="kg"
        ),
        # A blood-pressure correlation repeats its records inside: only top-level ones count.
        ' <Correlation type="HKCorrelationTypeIdentifierBloodPressure" sourceName="x" '
        'startDate="2024-03-01 07:00:00 +0100" endDate="2024-03-01 07:00:00 +0100">\n'
        + apple_record(HR, "99", "2024-03-01 07:00:00 +0100", unit="count/min")
        + " </Correlation>\n",
        ' <Workout workoutActivityType="HKWorkoutActivityTypeRunning" duration="30" '
        'sourceName="x" startDate="2024-03-01 18:00:00 +0100" '
        'endDate="2024-03-01 18:30:00 +0100"/>\n',
    ]


def test_an_export_gives_each_kind_in_its_unit_and_time(tmp_path: Path) -> None:
    path = write_apple_export(tmp_path / "export.zip", typical_records())
    context = ImportContext()
    samples = all_checked(read_export(path, context))
    by_kind: dict[str, list[tuple[float, float]]] = {}
    for sample in samples:
        assert isinstance(sample.v, float | int)
        by_kind.setdefault(sample.kind, []).append((sample.t, float(sample.v)))

    assert by_kind["heart_rate"] == [(T0, 72.0), (1_719_813_600, 64.5)]
    assert context.skipped == Counter({"heart_rate outside 20..250": 1})
    # 25,000 steps in an hour: three samples under the bound, at 20, 40 and 60 minutes.
    assert by_kind["steps"] == [
        (T0 + 1200, 8334),
        (T0 + 2400, 8333),
        (T0 + 3600, 8333),
        (T0 + 3600 + 600, 420),
    ]
    assert by_kind["glucose"] == [(T0 + 7200, 105.0), (T0 + 10800, 104.5)]
    assert by_kind["spo2"] == [(T0 - 5 * 3600, 97.0)]
    codes = SLEEP_STAGE_CODES
    night = T0 - 7 * 3600
    assert by_kind["sleep_stage"] == [
        (night, codes["light"]),
        (night + 60, codes["light"]),
        (night + 120, codes["light"]),
        (night + 180, codes["deep"]),
        (night + 240, codes["deep"]),
        (night - 600, codes["in_bed"]),
    ]


def test_keys_are_the_same_on_every_read_and_differ_between_readings(tmp_path: Path) -> None:
    path = write_apple_export(tmp_path / "export.zip", typical_records())
    first = [s.key for s in read_export(path, ImportContext())]
    again = [s.key for s in read_export(path, ImportContext())]
    assert first == again
    assert len(set(first)) == len(first)


def test_a_bare_export_xml_reads_like_the_zip(tmp_path: Path) -> None:
    zipped = write_apple_export(tmp_path / "export.zip", typical_records())
    bare = write_apple_export(tmp_path / "export.xml", typical_records(), zipped=False)
    assert list(read_export(bare, ImportContext())) == list(read_export(zipped, ImportContext()))


def test_progress_counts_every_byte_of_the_xml(tmp_path: Path) -> None:
    path = write_apple_export(tmp_path / "export.zip", typical_records())
    seen: list[int] = []
    list(read_export(path, ImportContext(advance=seen.append)))
    assert sum(seen) == export_size(path) > 0


def test_a_value_that_is_not_a_number_names_the_record(tmp_path: Path) -> None:
    bad = apple_record(HR, "fast", "2024-03-01 08:05:00 +0100", unit="count/min")
    records = [*typical_records()[:2], bad]
    path = write_apple_export(tmp_path / "export.zip", records)
    with pytest.raises(ImportFileError) as caught:
        list(read_export(path, ImportContext()))
    assert caught.value.code == MALFORMED
    assert re.search(
        r": line \d+, record 3 \(HeartRate, 2024-03-01 08:05:00 \+0100\)", str(caught.value)
    )
    assert "'fast' is not a number" in str(caught.value)


def test_a_bad_date_names_the_record(tmp_path: Path) -> None:
    path = write_apple_export(
        tmp_path / "export.zip", [apple_record(HR, "70", "01.03.2024 08:00", unit="count/min")]
    )
    with pytest.raises(ImportFileError, match=r"record 1 .*'YYYY-MM-DD HH:MM:SS \+HHMM'"):
        list(read_export(path, ImportContext()))


def test_a_cut_off_export_names_the_line(tmp_path: Path) -> None:
    path = write_apple_export(tmp_path / "export.xml", typical_records(), zipped=False)
    text = path.read_text()
    path.write_text(text[: text.index("<Record", text.index("count/min")) + 20])
    with pytest.raises(ImportFileError) as caught:
        list(read_export(path, ImportContext()))
    assert caught.value.code == MALFORMED
    assert caught.value.where.startswith("line ")
    assert "export it again" in str(caught.value)


def test_other_files_are_refused_with_what_to_give(tmp_path: Path) -> None:
    other = tmp_path / "notes.zip"
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("notes.txt", "hello")
    with pytest.raises(ImportFileError, match=r"no export\.xml inside") as caught:
        list(read_export(other, ImportContext()))
    assert caught.value.code == WRONG_FORMAT
    xml = tmp_path / "feed.xml"
    xml.write_text("<rss><channel/></rss>")
    with pytest.raises(ImportFileError, match="not <HealthData>"):
        list(read_export(xml, ImportContext()))


def many_records(count: int) -> Iterator[str]:
    for index in range(count):
        minute, second = divmod(index, 60)
        hour, minute = divmod(minute, 60)
        day, hour = divmod(hour, 24)
        stamp = f"2024-01-{1 + day % 28:02d} {hour:02d}:{minute:02d}:{second:02d} +0000"
        yield apple_record(HR, str(60 + index % 40), stamp, unit="count/min", metadata=True)


def test_a_big_export_streams_in_bounded_memory(tmp_path: Path) -> None:
    count = 60_000
    path = write_apple_export(tmp_path / "export.zip", many_records(count))
    assert export_size(path) > 20_000_000  # the XML is far bigger than the memory allowed
    tracemalloc.start()
    try:
        seen = sum(1 for _ in read_export(path, ImportContext()))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert seen == count
    assert peak < 5_000_000, f"reading held {peak:,} bytes at its peak"
