"""`hub import` through the real CLI on a real data directory: stored once, dry runs, errors."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import httpx
from typer.testing import CliRunner

from hub.bridges.store import BridgeStore
from hub.cli.main import app as cli
from hub.wearables.store import DEVICES_DB_NAME, DeviceStore, SampleQuery
from tests.hub_process import HubProcess
from tests.imports_support import (
    apple_record,
    libre_row,
    write_apple_export,
    write_clarity,
    write_libreview,
)
from tests.test_imports_apple_health import typical_records

runner = CliRunner()


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(cli, list(args))
    return result.exit_code, result.output


def stored(data: Path, bridge_kind: str) -> tuple[int, Counter[str]]:
    """(how many bridges of the kind, readings per sensor kind they hold)."""
    devices = DeviceStore.open(data)
    try:
        records = [r for r in BridgeStore(devices).bridges() if r.kind == bridge_kind]
        kinds: Counter[str] = Counter()
        for record in records:
            for sample in devices.samples(SampleQuery(record.id, limit=100_000)):
                kinds[sample.kind] += 1  # type: ignore[union-attr]
        return len(records), kinds
    finally:
        devices.close()


def test_an_apple_health_export_imported_twice_is_stored_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    export = write_apple_export(tmp_path / "export.zip", typical_records())

    code, out = run("import", "apple-health", str(export), "--dry-run", "--data-dir", str(data))
    assert code == 0, out
    assert "would add 15 readings (the hub has no data here yet)" in out
    assert not (data / DEVICES_DB_NAME).exists()

    code, out = run("import", "apple-health", str(export), "--data-dir", str(data))
    assert code == 0, out
    assert "Stored 15 new readings of 15." in out
    assert "left out: 1 (heart_rate outside 20..250)" in out
    expected = Counter({"heart_rate": 2, "steps": 4, "glucose": 2, "spo2": 1, "sleep_stage": 6})
    assert stored(data, "apple-health") == (1, expected)

    code, out = run("import", "apple-health", str(export), "--data-dir", str(data))
    assert code == 0, out
    assert "Stored 0 new readings of 15." in out
    assert stored(data, "apple-health") == (1, expected)

    # A later export holds the old readings and one more: only that one is new.
    later = write_apple_export(
        tmp_path / "later.zip",
        [
            *typical_records(),
            apple_record(
                "HKQuantityTypeIdentifierHeartRate",
                "80",
                "2024-03-02 08:00:00 +0100",
                unit="count/min",
            ),
        ],
    )
    code, out = run("import", "apple-health", str(later), "--dry-run", "--data-dir", str(data))
    assert code == 0, out
    assert "Dry run: would add 1 of 16 readings." in out
    code, out = run("import", "apple-health", str(later), "--data-dir", str(data))
    assert "Stored 1 new readings of 16." in out


def test_a_libreview_csv_imported_twice_is_stored_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    rows = [
        libre_row(f"10-31-2023 {h:02d}:{m:02d}", 0, str(100 + m))
        for h in range(3)
        for m in (8, 23, 38, 53)
    ]
    path = write_libreview(tmp_path / "libre.csv", [*rows, libre_row("10-31-2023 07:41", 1, "131")])
    for _ in range(2):
        code, out = run(
            "import", "libreview", str(path), "--tz", "America/New_York", "--data-dir", str(data)
        )
        assert code == 0, out
    assert "Stored 0 new readings of 13." in out
    assert "2023-10-31 00:08" in out and "2023-10-31 07:41" in out  # the range, in the zone
    assert stored(data, "libreview") == (1, Counter({"glucose": 13}))


def test_errors_name_the_file_the_line_and_the_fix(tmp_path: Path) -> None:
    data = tmp_path / "data"
    path = write_clarity(
        tmp_path / "clarity.csv", [("2024-06-01T08:00:05", "112"), ("2024-06-01T08:05:05", "?")]
    )
    code, out = run("import", "dexcom-clarity", str(path), "--data-dir", str(data))
    assert code == 1
    assert "clarity.csv: line 7: glucose value '?' is not a number" in out
    assert "running again adds the rest" in out

    code, out = run("import", "fitbit", str(path), "--data-dir", str(data))
    assert code == 1 and "no import format 'fitbit'" in out and "garmin-fit" in out

    code, out = run("import", "libreview", str(path), "--tz", "Mars/Base", "--data-dir", str(data))
    assert code == 1 and "IANA name" in out

    code, out = run("import", "garmin-fit", str(tmp_path / "gone.fit"), "--data-dir", str(data))
    assert code == 1 and "gone.fit: cannot read it" in out


def test_with_a_hub_running_the_import_goes_through_it_once(
    tmp_path: Path, hub: HubProcess
) -> None:
    days = [(f"2024-06-0{d}T{h:02d}:00:00", str(100 + h)) for d in (1, 2) for h in range(24)]
    export = write_clarity(tmp_path / "clarity.csv", days)
    data = str(hub.data_dir)
    code, out = run(
        "import", "dexcom-clarity", str(export), "--tz", "UTC", "--dry-run", "--data-dir", data
    )
    assert code == 0, out
    assert "Dry run: would add 48 of 48 readings." in out
    code, out = run("import", "dexcom-clarity", str(export), "--tz", "UTC", "--data-dir", data)
    assert code == 0, out
    assert "Stored 48 new readings of 48 (through the running hub)." in out
    assert "2024-06-01 00:00" in out and "2024-06-02 23:00" in out
    code, out = run("import", "dexcom-clarity", str(export), "--tz", "UTC", "--data-dir", data)
    assert "Stored 0 new readings of 48" in out
    bridges = httpx.get(f"{hub.base_url}/v1/bridges", headers=hub.headers()).json()["data"]
    (clarity,) = [b for b in bridges if b["kind"] == "dexcom-clarity"]
    rows = httpx.get(
        f"{hub.base_url}/v1/devices/{clarity['id']}/samples",
        params={"kind": "glucose"},
        headers=hub.headers(),
    ).json()["data"]
    assert [row["v"] for row in rows] == [100.0 + h for _ in (1, 2) for h in range(24)]
    broken = tmp_path / "broken.csv"
    broken.write_text(export.read_text(encoding="utf-8-sig").replace("2024-06-02T05", "soon"))
    code, out = run("import", "dexcom-clarity", str(broken), "--tz", "UTC", "--data-dir", data)
    assert code == 1 and "soon" in out
