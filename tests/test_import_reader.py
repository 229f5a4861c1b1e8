"""An export read in a child process (hub/bridges/import_reader.py): every reading and byte
comes through in batches, a broken file fails naming its line, and stopping early ends the
child (real child processes, a Clarity CSV written from its published layout)."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from hub.bridges.import_reader import ImportReadError, read_in_child
from tests.imports_support import write_clarity

ROWS = [(f"2024-06-01T{h:02d}:{m:02d}:00", str(100 + m)) for h in range(4) for m in range(0, 60, 5)]


def test_every_reading_and_byte_comes_through_in_batches(tmp_path: Path) -> None:
    export = write_clarity(tmp_path / "clarity.csv", ROWS)
    batches = list(read_in_child("dexcom-clarity", export, "UTC", 10))
    assert [len(batch.samples) for batch in batches] == [10, 10, 10, 10, 8]
    assert sum(batch.bytes_read for batch in batches) == export.stat().st_size
    readings = [sample for batch in batches for sample in batch.samples]
    assert [sample.v for sample in readings] == [float(value) for _, value in ROWS]
    assert len({sample.key for sample in readings}) == len(ROWS)


def test_a_broken_file_fails_naming_its_line(tmp_path: Path) -> None:
    text = write_clarity(tmp_path / "c.csv", ROWS).read_text(encoding="utf-8-sig")
    broken = tmp_path / "broken.csv"
    broken.write_text(text.replace("2024-06-01T02:05:00", "later"))
    with pytest.raises(ImportReadError, match=r"broken.csv: line \d+: .*'later"):
        list(read_in_child("dexcom-clarity", broken, "UTC", 10))


def test_stopping_early_ends_the_child(tmp_path: Path) -> None:
    export = write_clarity(tmp_path / "clarity.csv", ROWS)
    batches = read_in_child("dexcom-clarity", export, "UTC", 5)
    assert len(next(batches).samples) == 5
    batches.close()
    assert multiprocessing.active_children() == []
