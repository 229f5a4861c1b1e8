"""The sensor kind table: the protocol doc states it, and validation follows it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from devices.errors import ProtocolError
from devices.protocol import decode
from devices.samples import Sample, SensorBatch
from devices.sensor_kinds import SENSOR_KINDS, VECTOR_LIMIT, Part, SensorKind
from hub.summaries.rules import GLUCOSE_HIGH, GLUCOSE_LOW

DOC = Path(__file__).resolve().parents[1] / "docs" / "device-protocol.md"
T = 1_763_900_000.0
SPAN = re.compile(r"^(?:(\w+) )?(-?[\d.]+) to (-?[\d.]+)$")


def doc_rows() -> dict[str, dict[str, str]]:
    """The rows of the doc's table of sensor kinds (the table whose first column is 'kind')."""
    lines = DOC.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| kind | unit | range |"))
    header = [cell.strip() for cell in lines[start].strip("|").split("|")]
    rows: dict[str, dict[str, str]] = {}
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = dict(zip(header, (c.strip() for c in line.strip("|").split("|")), strict=True))
        rows[cells["kind"].strip("`")] = cells
    return rows


def doc_range(cell: str) -> tuple[float, float, bool, dict[str, tuple[float, float]]]:
    """'0 to 10000, whole numbers' or '-1000000 to 1000000; latitude -90 to 90, ...' read back:
    (low, high, whole, {position name: (low, high)})."""
    whole = cell.endswith(", whole numbers")
    overall, _, named = cell.removesuffix(", whole numbers").partition("; ")
    found = SPAN.match(overall)
    assert found is not None and found.group(1) is None, f"range {cell!r} is not 'LOW to HIGH'"
    parts: dict[str, tuple[float, float]] = {}
    for piece in filter(None, named.split(", ")):
        part = SPAN.match(piece)
        assert part is not None and part.group(1), f"{piece!r} is not 'NAME LOW to HIGH'"
        parts[part.group(1)] = (float(part.group(2)), float(part.group(3)))
    return float(found.group(2)), float(found.group(3)), whole, parts


def test_the_protocol_doc_states_every_kind_as_the_table_does() -> None:
    rows = doc_rows()
    assert sorted(rows) == sorted(SENSOR_KINDS.names), "the doc's kinds differ from the table's"
    for kind in SENSOR_KINDS:
        row = rows[kind.name]
        assert row["unit"] == kind.unit, kind.name
        assert row["`v`"] == kind.description, kind.name
        low, high, whole, parts = doc_range(row["range"])
        assert (low, high, whole) == (kind.low, kind.high, kind.whole), kind.name
        own_ranges = {
            p.name: (p.low, p.high) for p in kind.parts if (p.low, p.high) != (kind.low, kind.high)
        }
        assert parts == own_ranges, kind.name
        shortest, _, longest = row["numbers"].partition(" to ")
        assert (int(shortest), int(longest or shortest)) == kind.dimensions, kind.name


def test_every_entry_is_consistent() -> None:
    for kind in SENSOR_KINDS:
        assert kind.low < kind.high and kind.label and kind.unit and kind.description
        assert 1 <= kind.dimensions[0] <= kind.dimensions[1]
        assert kind.scalar or len(kind.parts) == kind.dimensions[1], kind.name
        for band in (kind.chart_floor, kind.target_band):
            assert band is None or kind.low <= band[0] < band[1] <= kind.high, kind.name
        assert kind.charted or kind.chart_floor is None, kind.name
    # The summaries' glucose range is the table's band, not a copy of its own.
    assert (GLUCOSE_LOW, GLUCOSE_HIGH) == SENSOR_KINDS["glucose"].target_band == (70, 180)


BREATHING = SensorKind("breath_rate", "Breathing", "breaths/min", 4, 60, "breaths a minute")
PRESSURE = SensorKind(
    "blood_pressure",
    "Blood pressure",
    "mmHg",
    0,
    VECTOR_LIMIT,
    "[systolic, diastolic]",
    whole=True,
    dimensions=(2, 2),
    parts=(Part("systolic", "mmHg", 60, 250), Part("diastolic", "mmHg", 30, 150)),
)
EXTENDED = SENSOR_KINDS.with_kinds(BREATHING, PRESSURE)


def batch(form: str, kind: str, values: list[Any]) -> dict[str, Any]:
    times = [T + i for i in range(len(values))]
    if form == "series":
        return {
            "type": "sensor_batch",
            "seq": 3,
            "series": [{"kind": kind, "t": times, "v": values}],
        }
    rows = [{"kind": kind, "t": t, "v": v} for t, v in zip(times, values, strict=True)]
    return {"type": "sensor_batch", "seq": 3, "samples": rows}


def refusal(obj: dict[str, Any]) -> str:
    with pytest.raises(ProtocolError) as caught:
        SensorBatch.from_wire(obj, EXTENDED)
    assert caught.value.code == "invalid_field"
    return caught.value.message


@pytest.mark.parametrize("form", ["series", "samples"])
def test_a_kind_added_to_the_table_is_accepted_within_its_range(form: str) -> None:
    accepted = SensorBatch.from_wire(batch(form, "breath_rate", [4, 12.5, 60]), EXTENDED)
    assert accepted.samples == tuple(
        Sample("breath_rate", T + i, v) for i, v in enumerate((4.0, 12.5, 60.0))
    )
    pressure = SensorBatch.from_wire(batch(form, "blood_pressure", [[120, 80]]), EXTENDED)
    assert pressure.samples == (Sample("blood_pressure", T, (120.0, 80.0)),)
    # The hub's own table does not know it, and says which kinds it does know.
    with pytest.raises(ProtocolError, match=r"kind is 'breath_rate'; use one of glucose, "):
        decode(json.dumps(batch(form, "breath_rate", [12])))


@pytest.mark.parametrize(
    ("form", "kind", "values", "words"),
    [
        ("series", "breath_rate", [12, 61], "sensor_batch.series[0].v[1] is 61; it must be from 4"),
        ("samples", "breath_rate", [12, 3], "sensor_batch.samples[1].v is 3; it must be from 4"),
        ("series", "blood_pressure", [[120, 80, 60]], "series[0].v[0] must be a list of 2"),
        ("samples", "blood_pressure", [[120.5, 80]], "samples[0].v must be whole numbers of mmHg"),
        ("series", "blood_pressure", [[120, 20]], "series[0].v[0][1], the diastolic, is 20"),
        ("samples", "blood_pressure", [[300, 80]], "samples[0].v[0], the systolic, is 300"),
    ],
)
def test_values_outside_the_added_kind_are_refused_naming_the_field(
    form: str, kind: str, values: list[Any], words: str
) -> None:
    assert words in refusal(batch(form, kind, values))


def test_location_checks_latitude_and_longitude_from_the_table() -> None:
    error = refusal(batch("series", "location", [[38.7, -9.1], [95.0, 0.0]]))
    assert "series[0].v[1][0], the latitude, is 95; it must be from -90 to 90" in error
    error = refusal(batch("samples", "location", [[38.7, -200, 5]]))
    assert "samples[0].v[1], the longitude, is -200; it must be from -180 to 180" in error
