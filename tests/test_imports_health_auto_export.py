"""Health Auto Export JSON: the documented data.metrics[] shape, as a file and as an object."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from devices.bridge_samples import all_checked
from devices.imports.common import MALFORMED, WRONG_FORMAT, ImportContext, ImportFileError
from devices.imports.health_auto_export import payload_samples, read_file
from devices.sensor_kinds import SLEEP_STAGE_CODES

T0 = 1_707_258_600  # 2024-02-06 14:30:00 -0800


def payload() -> dict[str, Any]:
    return {
        "data": {
            "metrics": [
                {
                    "name": "heart_rate",
                    "units": "count/min",
                    "data": [
                        {"date": "2024-02-06 14:30:00 -0800", "Min": 65, "Avg": 72, "Max": 85},
                        {"date": "2024-02-06 14:31:00 -0800", "Min": 66, "Avg": 70.5, "Max": 80},
                    ],
                },
                {
                    "name": "step_count",
                    "units": "count",
                    "data": [
                        {"date": "2024-02-06 14:30:00 -0800", "qty": 85, "source": "iPhone"},
                        {"date": "2024-02-06 15:00:00 -0800", "qty": 12_000},
                    ],
                },
                {
                    "name": "blood_glucose",
                    "units": "mmol/L",
                    "data": [{"date": "2024-02-06 16:00:00 -0800", "qty": 6.1}],
                },
                {
                    "name": "blood_oxygen_saturation",
                    "units": "%",
                    "data": [{"date": "2024-02-06 03:00:00 -0800", "qty": 96}],
                },
                {
                    "name": "sleep_analysis",
                    "units": "hr",
                    "data": [
                        {
                            "startDate": "2024-02-06 01:00:00 -0800",
                            "endDate": "2024-02-06 01:02:00 -0800",
                            "qty": 0.033,
                            "value": "REM",
                            "source": "Apple Watch",
                        },
                        {"date": "2024-02-06", "asleep": 7.2, "inBed": 7.9},
                    ],
                },
                {
                    "name": "active_energy",
                    "units": "kcal",
                    "data": [{"date": "2024-02-06 14:30:00 -0800", "qty": 3.2}],
                },
            ],
            "workouts": [],
        }
    }


def test_every_metric_in_its_unit_and_time() -> None:
    context = ImportContext()
    samples = all_checked(payload_samples(payload(), context))
    found = [(s.kind, s.t, s.v) for s in samples]
    assert found == [
        ("heart_rate", T0, 72.0),
        ("heart_rate", T0 + 60, 70.5),
        ("steps", T0 + 60, 85),
        ("steps", T0 + 1800 + 30, 6000),
        ("steps", T0 + 1800 + 60, 6000),
        ("glucose", T0 + 5400, 109.9),
        ("spo2", T0 - 41400, 96.0),
        ("sleep_stage", T0 - 48600, SLEEP_STAGE_CODES["rem"]),
        ("sleep_stage", T0 - 48600 + 60, SLEEP_STAGE_CODES["rem"]),
    ]
    assert context.skipped == Counter(
        {
            "sleep totals (turn off aggregation in Health Auto Export for stages)": 1,
            "metric active_energy": 1,
        }
    )


def test_a_file_reads_like_the_object(tmp_path: Path) -> None:
    path = tmp_path / "HealthAutoExport-2024-02-06.json"
    path.write_text(json.dumps(payload()))
    seen: list[int] = []
    from_file = list(read_file(path, ImportContext(advance=seen.append)))
    assert from_file == list(payload_samples(payload(), ImportContext()))
    assert sum(seen) == path.stat().st_size


def test_errors_name_the_json_path() -> None:
    broken = payload()
    broken["data"]["metrics"][1]["data"][1]["qty"] = "lots"
    with pytest.raises(ImportFileError) as caught:
        list(payload_samples(broken, ImportContext()))
    assert caught.value.code == MALFORMED
    assert caught.value.where == "data.metrics[1].data[1].qty"
    broken = payload()
    broken["data"]["metrics"][0]["data"][0]["date"] = "2024-02-06T14:30:00Z"
    with pytest.raises(ImportFileError, match=r"data.metrics\[0\].data\[0\].date: time"):
        list(payload_samples(broken, ImportContext()))
    with pytest.raises(ImportFileError, match=r"data\.metrics: missing") as caught:
        list(payload_samples({"metrics": []}, ImportContext()))
    assert caught.value.code == WRONG_FORMAT


def test_a_file_that_is_not_json_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    path.write_text('{"data": {\n"metrics": [,]}}')
    with pytest.raises(ImportFileError, match="line 2, column 13: not valid JSON"):
        list(read_file(path, ImportContext()))
