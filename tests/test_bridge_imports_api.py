"""Imports uploaded to a running hub (what the Devices page does): the file streams to disk,
is read in the background with progress, lands once in its bridge, and is deleted after;
bad uploads get a clear 4xx (fast: the real app with a fake model, real SQLite)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.bridge_support import owner_client
from tests.imports_support import write_clarity

IMPORTS = "/v1/bridges/imports"
YEAR_DAY = [
    (f"2024-06-01T{h:02d}:{m:02d}:00", str(90 + (h * 12 + m // 5) % 60))
    for h in range(24)
    for m in range(0, 60, 5)
]


@pytest.fixture
def api(tmp_path: Path) -> Iterator[TestClient]:
    yield from owner_client(tmp_path, import_max_bytes=200_000)


def finished(api: TestClient, job_id: str) -> dict[str, Any]:
    """Poll the import until it ends (the test asserts on where it settles, not how fast)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job: dict[str, Any] = api.get(f"{IMPORTS}/{job_id}").json()
        if job["state"] in ("done", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"import {job_id} did not end: {job}")


def upload(api: TestClient, body: bytes, **params: Any) -> Any:
    return api.post(
        IMPORTS,
        params={"file_name": "clarity.csv", "tz": "Europe/Lisbon", **params},
        content=body,
        headers={"Content-Type": "application/octet-stream"},
    )


def test_an_uploaded_export_is_imported_once_with_progress(api: TestClient, tmp_path: Path) -> None:
    body = write_clarity(tmp_path / "clarity.csv", YEAR_DAY).read_bytes()
    dry = upload(api, body, kind="dexcom-clarity", dry_run="true")
    assert dry.status_code == 202, dry.text
    job = finished(api, dry.json()["id"])
    assert (job["state"], job["readings"], job["stored"]) == ("done", 288, 0)
    assert api.get("/v1/bridges").json()["data"] == []  # a dry run stores nothing

    made = upload(api, body, kind="dexcom-clarity")
    job = finished(api, made.json()["id"])
    assert job["state"] == "done" and job["error"] is None
    assert (job["readings"], job["stored"], job["by_kind"]) == (288, 288, {"glucose": 288})
    assert job["bytes_read"] == job["total_bytes"] == len(body)
    bridge = api.get("/v1/bridges").json()["data"][0]
    assert bridge["kind"] == "dexcom-clarity"
    samples = api.get(
        f"/v1/devices/{bridge['id']}/samples", params={"kind": "glucose", "limit": 1000}
    ).json()["data"]
    assert len(samples) == 288
    # 00:00 in Lisbon on 1 June 2024 is 23:00 UTC the day before (summer time).
    assert samples[0]["t"] == pytest.approx(1717196400.0)

    again = finished(api, upload(api, body, kind="dexcom-clarity").json()["id"])
    assert (again["readings"], again["stored"]) == (288, 0)
    listed = [j["id"] for j in api.get(IMPORTS).json()["data"]]
    assert listed[0] == again["id"] and len(listed) == 3
    assert not list((tmp_path / "data" / "imports").glob(".upload-*"))  # uploads deleted


def test_a_broken_file_fails_naming_the_line(api: TestClient, tmp_path: Path) -> None:
    good = write_clarity(tmp_path / "c.csv", YEAR_DAY[:3]).read_text(encoding="utf-8-sig")
    broken = good.replace("2024-06-01T00:10:00", "yesterday-ish")
    sent = upload(api, broken.encode(), kind="dexcom-clarity", file_name="../../My Export.csv")
    job = finished(api, sent.json()["id"])
    assert job["state"] == "failed" and job["file_name"] == "My Export.csv"
    # The error names the person's own file, the line and what is wrong with it.
    assert job["error"].startswith("My Export.csv: line ") and "yesterday-ish" in job["error"]


def test_bad_uploads_are_refused_with_what_to_fix(api: TestClient) -> None:
    unknown = upload(api, b"x,y\n", kind="fitbit")
    assert unknown.status_code == 400 and "hub import` reads: apple-health" in unknown.text
    zone = upload(api, b"x,y\n", kind="libreview", tz="Mars/Olympus")
    assert zone.status_code == 400 and "Mars/Olympus" in zone.text
    empty = upload(api, b"", kind="libreview")
    assert empty.status_code == 400 and "empty" in empty.text
    huge = upload(api, b"0" * 200_001, kind="libreview")
    assert huge.status_code == 413 and "HUB_IMPORT_MAX_BYTES" in huge.text

    def chunks() -> Iterator[bytes]:
        yield b"a,b\n"

    chunked = api.post(IMPORTS, params={"kind": "libreview"}, content=chunks())
    assert chunked.status_code == 411 and "Content-Length" in chunked.text
    assert api.get(f"{IMPORTS}/imp_nope").status_code == 404
    assert api.get(IMPORTS).json()["data"] == []


def test_imports_are_the_owners_alone(api: TestClient) -> None:
    wrong = {"Authorization": "Bearer wrong"}
    refused = api.post(IMPORTS, params={"kind": "libreview"}, content=b"a\n", headers=wrong)
    assert refused.status_code == 401
    assert api.get(IMPORTS, headers=wrong).status_code == 401
    credential = api.post(
        "/v1/clients", json={"name": "ha", "scopes": ["devices:read", "sensors:read"]}
    ).json()["credential"]
    as_client = {"Authorization": f"Bearer {credential}"}
    assert api.post(
        IMPORTS, params={"kind": "libreview"}, content=b"a\n", headers=as_client
    ).status_code in (401, 403)
