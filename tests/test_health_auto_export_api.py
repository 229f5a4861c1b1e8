"""Health Auto Export's REST API automation posting to the hub: its documented JSON (data.metrics[]
with name, units and points dated '2024-01-01 08:00:00 +0100') becomes heart rate, steps, glucose
and SpO2 exactly once; wrong secrets and malformed bodies are clear 4xx with nothing stored
(fast: the real app with a fake model, real SQLite)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.bridge_support import add_bridge, owner_client
from tests.test_sensor_summaries import local_zone as zone_fixture
from tests.test_web_ui import wait_until

URL = "/bridges/health-auto-export"


@pytest.fixture
def api(tmp_path: Path) -> Iterator[TestClient]:
    yield from owner_client(tmp_path)


def at(minute: int) -> str:
    return f"2024-03-10 08:{minute:02d}:00 +0100"


def seconds(text: str) -> float:
    day, clock, offset = text.split()
    return datetime.fromisoformat(f"{day}T{clock}{offset}").timestamp()


def export(glucose_units: str = "mg/dL") -> dict[str, Any]:
    """A REST API automation's body with the app's documented shapes."""
    glucose = [102, 118] if glucose_units == "mg/dL" else [5.7, 6.6]
    return {
        "data": {
            "metrics": [
                {
                    "name": "heart_rate",
                    "units": "count/min",
                    "data": [
                        {"date": at(0), "Min": 58, "Avg": 61.5, "Max": 66, "source": "Watch"},
                        {"date": at(1), "Min": 60, "Avg": 64, "Max": 70, "source": "Watch"},
                    ],
                },
                {
                    "name": "step_count",
                    "units": "count",
                    "data": [{"date": at(0), "qty": 112, "source": "iPhone"}],
                },
                {
                    "name": "blood_glucose",
                    "units": glucose_units,
                    "data": [
                        {"date": at(0), "qty": glucose[0], "mealTime": "Before Meal"},
                        {"date": at(5), "qty": glucose[1], "mealTime": "Unspecified"},
                    ],
                },
                {
                    "name": "blood_oxygen_saturation",
                    "units": "%",
                    "data": [{"date": at(2), "qty": 97}, {"date": at(3), "qty": 0.96}],
                },
                {
                    "name": "active_energy",
                    "units": "kcal",
                    "data": [{"date": at(0), "qty": 12.5}],
                },
            ],
            "workouts": [],
        }
    }


def samples(api: TestClient, device_id: str, kind: str) -> list[tuple[float, float]]:
    answer = api.get(f"/v1/devices/{device_id}/samples", params={"kind": kind})
    assert answer.status_code == 200, answer.text
    return [(row["t"], row["v"]) for row in answer.json()["data"]]


def test_an_automation_post_is_stored_once(api: TestClient) -> None:
    bridge = add_bridge(api, "health-auto-export", "iPhone")
    headers = {"Authorization": f"Bearer {bridge['secret']}"}
    answer = api.post(URL, json=export(), headers=headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body == {"received": 7, "stored": 7, "ignored": {"active_energy": 1}, "refused": []}
    assert samples(api, bridge["id"], "heart_rate") == [
        (seconds(at(0)), 61.5),
        (seconds(at(1)), 64),
    ]
    # A step count covers the minute it starts; it is stored at the minute's end, as "steps
    # since the previous sample" are, and as the file importer stores the same point.
    assert samples(api, bridge["id"], "steps") == [(seconds(at(0)) + 60, 112)]
    assert samples(api, bridge["id"], "glucose") == [(seconds(at(0)), 102), (seconds(at(5)), 118)]
    assert samples(api, bridge["id"], "spo2") == [(seconds(at(2)), 97), (seconds(at(3)), 96)]
    # The app syncs the whole day again later: nothing is added.
    again = api.post(
        f"{URL}?token={bridge['secret']}", json=export(), headers={"Authorization": ""}
    )
    assert again.status_code == 200 and again.json()["stored"] == 0
    # The same day exported to a file and imported: it lands in the same bridge, once.
    imported = api.post(
        "/v1/bridges/imports",
        params={"kind": "health-auto-export"},
        content=json.dumps(export()).encode(),
    )
    assert imported.status_code == 202, imported.text
    job = imported.json()
    for _ in range(1200):  # where it settles, however long a loaded machine takes (60 s)
        if job["state"] in ("done", "failed"):
            break
        time.sleep(0.05)
        job = api.get(f"/v1/bridges/imports/{job['id']}").json()
    assert (job["state"], job["readings"], job["stored"]) == ("done", 7, 0)
    assert len(samples(api, bridge["id"], "heart_rate")) == 2


def test_glucose_in_mmol_per_litre_is_stored_in_mg_per_decilitre(api: TestClient) -> None:
    bridge = add_bridge(api, "health-auto-export", "iPhone")
    answer = api.post(
        URL, json=export("mmol/L"), headers={"Authorization": f"Bearer {bridge['secret']}"}
    )
    assert answer.status_code == 200, answer.text
    assert samples(api, bridge["id"], "glucose") == [
        (seconds(at(0)), 102.7),
        (seconds(at(5)), 118.9),
    ]


def test_an_impossible_point_is_refused_alone_and_named(api: TestClient) -> None:
    bridge = add_bridge(api, "health-auto-export", "iPhone")
    headers = {"Authorization": f"Bearer {bridge['secret']}"}
    body = export()
    body["data"]["metrics"][0]["data"][1]["Avg"] = 400
    answer = api.post(URL, json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    (refused,) = answer.json()["refused"]
    assert refused.startswith("data.metrics[0].data[1] (heart_rate at 2024-03-10 08:01:00 +0100)")
    assert "outside 20..250" in refused
    assert samples(api, bridge["id"], "heart_rate") == [(seconds(at(0)), 61.5)]
    only_bad = {
        "data": {"metrics": [body["data"]["metrics"][0] | {"data": [{"date": at(9), "Avg": 400}]}]}
    }
    alone = api.post(URL, json=only_bad, headers=headers)
    assert (
        alone.status_code == 422
        and "no reading could be stored" in alone.json()["error"]["message"]
    )


def test_wrong_secrets_and_malformed_bodies_are_clear_4xx(api: TestClient) -> None:
    bridge = add_bridge(api, "health-auto-export", "iPhone")
    nightscout = add_bridge(api, "nightscout", "xDrip phone")
    revoked = add_bridge(api, "health-auto-export", "old iPhone")
    api.post(f"/v1/devices/{revoked['id']}/revoke")
    for headers in (
        {"Authorization": ""},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Bearer {nightscout['secret']}"},
        {"Authorization": f"Bearer {revoked['secret']}"},
        {},  # the owner's token opens no bridge
    ):
        answer = api.post(URL, json=export(), headers=headers)
        assert answer.status_code == 401, headers
        assert "Authorization: Bearer <secret>" in answer.json()["error"]["message"]
    ok = {"Authorization": f"Bearer {bridge['secret']}", "Content-Type": "application/json"}
    metric = export()["data"]["metrics"][0]
    for body, status, words in (
        (b"{", 400, "not valid JSON"),
        (
            b'{"data": {"metrics": [{"name": "heart_rate", "data": [{"date": "x", "Avg": NaN}]}]}}',
            400,
            "NaN",
        ),
        (json.dumps({"metrics": []}).encode(), 400, "Export Format to JSON"),
        (json.dumps({"data": {"metrics": [7]}}).encode(), 400, "data.metrics[0]"),
        (
            json.dumps(
                {"data": {"metrics": [metric | {"data": [{"date": "soon", "Avg": 60}]}]}}
            ).encode(),
            400,
            "data.metrics[0].data[0].date",
        ),
        (
            json.dumps(
                {"data": {"metrics": [metric | {"data": [{"date": at(0), "Avg": "60"}]}]}}
            ).encode(),
            400,
            ".Avg",
        ),
        (
            json.dumps(
                {
                    "data": {
                        "metrics": [
                            {
                                "name": "blood_glucose",
                                "units": "g/L",
                                "data": [{"date": at(0), "qty": 1.1}],
                            }
                        ]
                    }
                }
            ).encode(),
            400,
            "neither mg/dL nor mmol/L",
        ),
        (
            json.dumps(
                {"data": {"metrics": [metric | {"data": [{"date": at(0), "Avg": 60}] * 100_001}]}}
            ).encode(),
            413,
            "",
        ),
    ):
        answer = api.post(URL, content=body, headers=ok)
        assert answer.status_code == status, (body[:80], answer.text)
        assert words in answer.json()["error"]["message"]
    for device in (bridge, nightscout, revoked):
        assert samples(api, device["id"], "heart_rate") == []


def test_setup_lines_name_the_endpoint_and_the_header(api: TestClient) -> None:
    bridge = add_bridge(api, "health-auto-export", "iPhone")
    assert any(line.endswith("/bridges/health-auto-export") for line in bridge["setup"])
    assert f"Header Authorization: Bearer {bridge['secret']}" in bridge["setup"]
    assert any("Export Format JSON" in line for line in bridge["setup"])
    # The token in the URL works as well as the header.
    url = next(line for line in bridge["setup"] if "?token=" in line).split(": ")[-1]
    path = "/" + url.split("://", 1)[1].split("/", 1)[1]
    posted = api.post(path, json=export(), headers={"Authorization": ""})
    assert posted.status_code == 200 and posted.json()["stored"] == 7


local_zone = zone_fixture  # the summaries speak the hub's local time: one fixed zone


def test_readings_older_than_what_was_summarized_are_summarized_too(
    api: TestClient, local_zone: None
) -> None:
    """A sync lists one metric after another: glucose from the early morning comes after the
    day's heart rate was summarized, and its high is still told (once)."""
    bridge = add_bridge(api, "health-auto-export", "iPhone")
    headers = {"Authorization": f"Bearer {bridge['secret']}"}
    day = "2024-03-10"

    def stamp(minute: int) -> str:
        return f"{day} {minute // 60:02d}:{minute % 60:02d}:00 -0300"

    heart = [{"date": stamp(m), "Avg": 62} for m in range(0, 10 * 60)]
    posted = api.post(
        URL,
        json={"data": {"metrics": [{"name": "heart_rate", "units": "count/min", "data": heart}]}},
        headers=headers,
    )
    assert posted.status_code == 200 and posted.json()["stored"] == len(heart)
    wait_until(lambda: len(summaries(api)) >= 9, "the hourly digests of the heart rate", 60)

    glucose = [
        {"date": stamp(m), "qty": 230 if 150 <= m <= 210 else 110} for m in range(120, 240, 5)
    ]
    posted = api.post(
        URL,
        json={"data": {"metrics": [{"name": "blood_glucose", "units": "mg/dL", "data": glucose}]}},
        headers=headers,
    )
    assert posted.status_code == 200 and posted.json()["stored"] == len(glucose)

    def high() -> list[dict[str, Any]]:
        return [s for s in summaries(api) if s["metadata"]["summary"] == "glucose_high"]

    (told,) = wait_until(high, "the early morning's glucose high", 60)
    assert "over 180 mg/dL from 02:30 until 03:" in told["text"]
    keys = [s["metadata"]["key"] for s in summaries(api)]
    assert len(keys) == len(set(keys))  # going back told nothing twice


def summaries(api: TestClient) -> list[dict[str, Any]]:
    listed = api.get("/v1/memory", params={"kind": "sensor_summary", "limit": 100})
    items: list[dict[str, Any]] = listed.json()["data"]
    return items
