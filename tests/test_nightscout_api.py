"""The Nightscout-compatible API (/api/v1) as CGM uploaders and followers use it: an xDrip+-shaped
upload lands in the glucose series and its rollups exactly once, reads back in Nightscout's shape,
and every wrong secret or malformed body is a clear 4xx with nothing stored (fast: the real app
with a fake model, real SQLite).

The upload fixture follows what xDrip+'s NightscoutUploader puts in each entry (device, date in
Unix ms, dateString with the phone's offset, sgv, delta, direction, type, filtered, unfiltered,
rssi, noise, sysTime), with a meter reading (mbg) and a calibration (cal) as it sends them."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from fastapi.testclient import TestClient
from starlette.types import Receive, Scope, Send

from hub.api.bridge_secret import URL_SECRET_SCOPE_KEY, BridgeSecretMiddleware
from tests.bridge_support import add_bridge, owner_client
from tests.conftest import DEFAULT_MODEL
from tests.hub_process import start_hub
from tests.test_sensor_summaries import ZONE_NAME, at, glucose_day, summaries_of, yesterday

NOW_MS = int(time.time() * 1000) // 300_000 * 300_000  # on a 5-minute boundary
PHONE_ZONE = timezone(timedelta(hours=1))


def xdrip_time(ms: int) -> str:
    """xDrip+'s dateString: yyyy-MM-dd'T'HH:mm:ss.SSSZ in the phone's zone."""
    moment = datetime.fromtimestamp(ms / 1000, PHONE_ZONE)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}" + "+0100"


def xdrip_sgv(ms: int, sgv: int, direction: str = "Flat") -> dict[str, Any]:
    return {
        "device": "xDrip-DexcomG6",
        "date": ms,
        "dateString": xdrip_time(ms),
        "sgv": sgv,
        "delta": 1.234,
        "direction": direction,
        "type": "sgv",
        "filtered": 118000.0,
        "unfiltered": 119500.0,
        "rssi": 100,
        "noise": 1,
        "sysTime": xdrip_time(ms),
    }


def xdrip_upload(readings: int = 12) -> list[dict[str, Any]]:
    """An hour of 5-minute readings, oldest first, rising 2 mg/dL a reading, then a meter
    reading and a calibration, as one xDrip+ upload."""
    entries = [
        xdrip_sgv(NOW_MS - (readings - 1 - i) * 300_000, 100 + 2 * i) for i in range(readings)
    ]
    meter = NOW_MS - 120_000
    entries.append(
        {
            "device": "Contour Next",
            "type": "mbg",
            "date": meter,
            "dateString": xdrip_time(meter),
            "mbg": 112.0,
            "sysTime": xdrip_time(meter),
        }
    )
    entries.append(
        {
            "device": "xDrip-DexcomG6",
            "type": "cal",
            "date": meter,
            "dateString": xdrip_time(meter),
            "slope": 850.2,
            "intercept": 31200.5,
            "scale": 1,
            "sysTime": xdrip_time(meter),
        }
    )
    return entries


@pytest.fixture
def api(tmp_path: Path) -> Iterator[TestClient]:
    yield from owner_client(tmp_path)


def sha1(secret: str) -> str:
    return hashlib.sha1(secret.encode()).hexdigest()


def uploader(secret: str) -> dict[str, str]:
    """The headers xDrip+ sends: the SHA-1 of the secret, and no owner token."""
    return {"api-secret": sha1(secret), "Authorization": ""}


def glucose(api: TestClient, device_id: str, resolution: str = "raw") -> list[dict[str, Any]]:
    answer = api.get(
        f"/v1/devices/{device_id}/samples",
        params={"kind": "glucose", "resolution": resolution, "limit": 1000},
    )
    assert answer.status_code == 200, answer.text
    data: list[dict[str, Any]] = answer.json()["data"]
    return data


def test_an_xdrip_upload_is_stored_once_with_its_rollups(api: TestClient) -> None:
    bridge = add_bridge(api)
    upload = xdrip_upload()
    answer = api.post("/api/v1/entries", json=upload, headers=uploader(bridge["secret"]))
    assert answer.status_code == 200, answer.text
    assert answer.headers["X-Hub-Stored"] == "13"
    assert "1 cal" in answer.headers["X-Hub-Ignored"]
    echoed = answer.json()
    assert [(e["type"], e["date"]) for e in echoed] == [
        (e["type"], e["date"]) for e in upload if e["type"] != "cal"
    ]
    assert all(len(e["_id"]) == 24 for e in echoed)

    raw = glucose(api, bridge["id"])
    assert [(round(s["t"] * 1000), s["v"]) for s in raw] == sorted(
        (e["date"], float(e.get("sgv", e.get("mbg", 0)))) for e in upload if e["type"] != "cal"
    )
    minutes = glucose(api, bridge["id"], "1m")
    assert sum(row["count"] for row in minutes) == 13

    # xDrip+ resends what it is not sure arrived: nothing is added, through either path.
    again = api.post("/api/v1/entries.json", json=upload, headers=uploader(bridge["secret"]))
    assert again.status_code == 200 and again.headers["X-Hub-Stored"] == "0"
    assert len(glucose(api, bridge["id"])) == 13
    assert sum(row["count"] for row in glucose(api, bridge["id"], "1m")) == 13
    listed = api.get("/v1/bridges").json()["data"][0]
    assert listed["last_seen_at"] is not None


def test_followers_read_the_readings_back_in_nightscouts_shape(api: TestClient) -> None:
    bridge = add_bridge(api)
    headers = uploader(bridge["secret"])
    assert api.post("/api/v1/entries", json=xdrip_upload(), headers=headers).status_code == 200

    newest = api.get("/api/v1/entries.json", headers=headers)
    assert newest.status_code == 200
    entries = newest.json()
    assert len(entries) == 10  # Nightscout's default count
    assert [e["date"] for e in entries] == sorted((e["date"] for e in entries), reverse=True)
    first = entries[0]
    assert first["type"] == "sgv" and first["sgv"] == 122 and first["date"] == NOW_MS
    assert first["dateString"].endswith("Z")
    assert datetime.fromisoformat(first["dateString"]).timestamp() * 1000 == NOW_MS
    # Rising 2 mg/dL per 5 minutes is flat by Dexcom's arrows; the delta is per 5 minutes.
    assert first["direction"] == "Flat" and first["delta"] == 2.0
    assert first["device"] == "xDrip phone"
    meter = next(e for e in entries if e["type"] == "mbg")
    assert meter["mbg"] == 112 and "sgv" not in meter and "direction" not in meter

    since = NOW_MS - 15 * 60_000
    recent = api.get(
        "/api/v1/entries/sgv.json",
        params={"count": 100, "find[date][$gte]": since},
        headers=headers,
    ).json()
    assert [e["date"] for e in recent] == [NOW_MS - k * 300_000 for k in range(4)]
    assert all(e["type"] == "sgv" for e in recent)
    strictly = api.get(
        "/api/v1/entries",
        params={"find[date][$gt]": since, "find[date][$lt]": NOW_MS, "find[type]": "sgv"},
        headers=headers,
    ).json()
    assert [e["date"] for e in strictly] == [NOW_MS - 300_000, NOW_MS - 600_000]
    current = api.get("/api/v1/entries/current.json", headers=headers).json()
    assert [e["date"] for e in current] == [NOW_MS]
    meters = api.get("/api/v1/entries/mbg.json", headers=headers).json()
    assert [e["type"] for e in meters] == ["mbg"]
    by_day = api.get(
        "/api/v1/entries.json",
        params={"find[dateString][$gte]": first["dateString"], "count": 5},
        headers=headers,
    ).json()
    assert [e["date"] for e in by_day] == [NOW_MS]


def test_the_status_is_what_uploaders_check(api: TestClient) -> None:
    bridge = add_bridge(api)
    for headers, url in (
        (uploader(bridge["secret"]), "/api/v1/status.json"),
        ({"Authorization": ""}, f"/api/v1/status.json?token={bridge['secret']}"),
        ({"api-secret": bridge["secret"], "Authorization": ""}, "/api/v1/status"),
    ):
        status = api.get(url, headers=headers)
        assert status.status_code == 200, status.text
        body = status.json()
        assert body["status"] == "ok" and body["apiEnabled"] is True
        assert body["settings"]["units"] == "mg/dl"
        assert body["authorized"]["sub"] == "xDrip phone"
        assert not body["version"].startswith(("0.6", "0.7", "0.8"))  # xDrip+'s check
    verified = api.get("/api/v1/verifyauth", headers=uploader(bridge["secret"])).json()
    assert verified["message"]["message"] == "OK"
    wrong = api.get("/api/v1/verifyauth", headers={"api-secret": "0" * 40, "Authorization": ""})
    assert wrong.status_code == 200 and wrong.json()["message"]["message"] == "UNAUTHORIZED"


def test_what_xdrip_sends_beside_entries_is_accepted_and_not_kept(api: TestClient) -> None:
    bridge = add_bridge(api)
    headers = uploader(bridge["secret"])
    status = {"device": "xDrip-DexcomG6", "uploader": {"battery": 71}}
    treatment = {"eventType": "Meal Bolus", "carbs": 40, "insulin": 4.5, "uuid": "abc"}
    for method, path, body in (
        ("POST", "/api/v1/devicestatus", status),
        ("POST", "/api/v1/treatments", [treatment]),
        ("PUT", "/api/v1/treatments", treatment),
        ("POST", "/api/v1/activity", [{"type": "hr-bpm", "bpm": 72}]),
    ):
        answer = api.request(method, path, json=body, headers=headers)
        assert answer.status_code == 200 and answer.json() == [], (path, answer.text)
        assert "not kept" in answer.headers["X-Hub-Ignored"]
    assert api.get("/api/v1/treatments.json", headers=headers).json() == []
    assert glucose(api, bridge["id"]) == []
    # Without a secret these are refused like everything else.
    refused = api.post("/api/v1/treatments", json=[treatment], headers={"Authorization": ""})
    assert refused.status_code == 401


def test_one_impossible_entry_is_refused_alone_and_named(api: TestClient) -> None:
    bridge = add_bridge(api)
    headers = uploader(bridge["secret"])
    upload = [xdrip_sgv(NOW_MS - 300_000, 110), xdrip_sgv(NOW_MS, 900), xdrip_sgv(NOW_MS - 1, 5)]
    answer = api.post("/api/v1/entries", json=upload, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["X-Hub-Stored"] == "1"
    refused = answer.headers["X-Hub-Refused"]
    assert "entries[1] (sgv 900" in refused and "outside 20..600" in refused
    assert "entries[2] (sgv 5" in refused
    assert [s["v"] for s in glucose(api, bridge["id"])] == [110.0]

    # Nothing storable at all: a 422 naming the entry, in Nightscout's error shape.
    alone = api.post("/api/v1/entries", json=xdrip_sgv(NOW_MS, 900), headers=headers)
    assert alone.status_code == 422
    body = alone.json()
    assert body["status"] == 422 and body["message"] == "Unprocessable Entity"
    assert "the entry (sgv 900" in body["description"]
    seconds = api.post(
        "/api/v1/entries",
        json=[{"type": "sgv", "sgv": 120, "date": NOW_MS // 1000}],
        headers=headers,
    )
    assert seconds.status_code == 422 and "milliseconds" in seconds.json()["description"]
    assert len(glucose(api, bridge["id"])) == 1


def nightscout_error(answer: Any, status: int, *words: str) -> None:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert set(body) == {"status", "message", "description"} and body["status"] == status
    for word in words:
        assert word in body["description"], body


def test_wrong_secrets_are_refused_and_nothing_is_stored(api: TestClient) -> None:
    bridge = add_bridge(api)
    other = add_bridge(api, "health-auto-export", "iPhone")
    revoked = add_bridge(api, name="old phone")
    assert api.post(f"/v1/devices/{revoked['id']}/revoke").status_code == 200
    upload = xdrip_upload(3)
    attempts = {
        "no secret": {"Authorization": ""},
        "wrong secret": {"api-secret": sha1("not the secret"), "Authorization": ""},
        "revoked bridge": uploader(revoked["secret"]),
        "another kind's secret": uploader(other["secret"]),
        "the owner's token": {},
    }
    for what, headers in attempts.items():
        answer = api.post("/api/v1/entries", json=upload, headers=headers)
        nightscout_error(answer, 401, "secret")
        assert api.get("/api/v1/entries.json", headers=headers).status_code == 401, what
        assert api.get("/api/v1/status.json", headers=headers).status_code == 401, what
    token_of_revoked = api.get(f"/api/v1/entries.json?token={revoked['secret']}")
    assert token_of_revoked.status_code == 401
    for device in (bridge, other, revoked):
        assert glucose(api, device["id"]) == []


def test_malformed_uploads_are_clear_4xx_and_store_nothing(api: TestClient) -> None:
    bridge = add_bridge(api)
    headers = {**uploader(bridge["secret"]), "Content-Type": "application/json"}
    good = xdrip_sgv(NOW_MS, 120)
    cases: list[tuple[bytes, int, str]] = [
        (b'[{"type": "sgv", ', 400, "not valid JSON"),
        (b"", 400, "empty"),
        (b"\xff\xfe", 400, "UTF-8"),
        (b"[NaN]", 400, "NaN"),
        (json.dumps([good]).replace('"sgv": 120', '"sgv": Infinity').encode(), 400, "Infinity"),
        (json.dumps([good]).replace('"sgv": 120', '"sgv": 1e999').encode(), 400, "1e999"),
        (json.dumps([good, "sgv 120"]).encode(), 400, "entries[1] is not an object"),
        (json.dumps([{**good, "sgv": "120"}]).encode(), 400, "entries[0].sgv"),
        (json.dumps([{**good, "sgv": True}]).encode(), 400, "entries[0].sgv"),
        (json.dumps([{**good, "date": "yesterday"}]).encode(), 400, "entries[0].date"),
        (json.dumps([{**good, "type": 7}]).encode(), 400, "entries[0].type"),
        (json.dumps([{"type": "sgv", "sgv": 120}]).encode(), 400, "neither date"),
        (
            json.dumps([{"type": "sgv", "sgv": 120, "dateString": "2024-01-01T08:00:00"}]).encode(),
            400,
            "no UTC offset",
        ),
        (json.dumps([{"sgv": 120, "date": NOW_MS}] * 10_001).encode(), 413, "at most 10000"),
    ]
    for body, status, words in cases:
        answer = api.post("/api/v1/entries", content=body, headers=headers)
        nightscout_error(answer, status, words)
    huge = b"[" + b",".join([json.dumps(good).encode()] * 20_000) + b"]"
    nightscout_error(api.post("/api/v1/entries", content=huge, headers=headers), 413, "larger")
    gzipped = api.post(
        "/api/v1/entries", content=b"x", headers={**headers, "Content-Encoding": "gzip"}
    )
    nightscout_error(gzipped, 415, "uncompressed")
    assert glucose(api, bridge["id"]) == []
    # A dateString with its offset is enough without date (older uploaders).
    dated = {"type": "sgv", "sgv": 120, "dateString": xdrip_time(NOW_MS)}
    assert api.post("/api/v1/entries", json=dated, headers=headers).headers["X-Hub-Stored"] == "1"


def test_bad_queries_are_clear_400s(api: TestClient) -> None:
    bridge = add_bridge(api)
    headers = uploader(bridge["secret"])
    for params, words in (
        ({"count": 10_001}, "1 to 10000"),
        ({"count": "many"}, "count"),
        ({"count": "inf"}, "count"),
        ({"find[date][$gte]": "nan"}, "Unix milliseconds"),
        ({"find[sgv][$gte]": 100}, "find[sgv][$gte] is not supported"),
        ({"find[date][$gte]": "today"}, "Unix milliseconds"),
    ):
        nightscout_error(
            api.get("/api/v1/entries.json", params=params, headers=headers), 400, words
        )
    nightscout_error(api.get("/api/v1/entries/cal.json", headers=headers), 404, "sgv.json")


def test_ollama_and_nightscout_paths_keep_their_own_error_shapes(api: TestClient) -> None:
    ollama = api.post("/api/show", json={"model": "no-such-model"})
    assert ollama.status_code == 404 and set(ollama.json()) == {"error"}
    assert api.get("/api/tags").status_code == 200
    nightscout_error(api.get("/api/v1/nope", headers={"Authorization": ""}), 404, "/api/v1/nope")
    nightscout_error(api.delete("/api/v1/entries", headers={"Authorization": ""}), 405, "DELETE")
    openai = api.get("/v1/nope")
    assert set(openai.json()["error"]) >= {"message", "type", "code"}


def test_a_secret_in_the_url_is_taken_out_before_the_access_log_sees_it() -> None:
    seen: list[tuple[bytes, object]] = []

    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        # uvicorn's access log reads the query from this same scope once the answer is sent.
        seen.append((scope["query_string"], scope.get(URL_SECRET_SCOPE_KEY)))
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    client = TestClient(BridgeSecretMiddleware(endpoint))
    client.get("/api/v1/entries.json?count=3&token=s3cret&find[type]=sgv")
    client.get("/bridges/health-auto-export?secret=other")
    client.get("/api/tags?token=kept")  # not a bridge endpoint: left alone
    assert [(parse_qsl(query.decode()), secret) for query, secret in seen] == [
        ([("count", "3"), ("find[type]", "sgv")], "s3cret"),
        ([], "other"),
        ([("token", "kept")], None),
    ]


@pytest.mark.slow
def test_an_uploaded_glucose_day_becomes_a_summary_that_chat_cites(tmp_path: Path) -> None:
    """xDrip+ uploads yesterday's readings; the after-lunch high becomes a sensor-summary
    memory, and the real model, asked about it, answers citing it (a real hub, its packaged
    model and embedder)."""
    day = yesterday()
    readings = [(s.t - at(0) + at(0, day=day), s.v) for s in glucose_day()]
    hub = start_hub(tmp_path / "data", env={"TZ": ZONE_NAME})
    try:
        made = httpx.post(
            f"{hub.base_url}/v1/bridges",
            json={"kind": "nightscout", "name": "xDrip phone"},
            headers=hub.headers(),
        ).json()
        entries = [
            {"type": "sgv", "sgv": int(v), "date": int(t * 1000), "direction": "Flat"}
            for t, v in readings
        ]
        answer = httpx.post(
            f"{hub.base_url}/api/v1/entries", json=entries, headers=uploader(made["secret"])
        )
        assert answer.status_code == 200 and answer.headers["X-Hub-Stored"] == str(len(entries))
        items = summaries_of(hub, 7)
        (high,) = [item for item in items if item["metadata"]["summary"] == "glucose_high"]
        assert "it rose to 212 mg/dL at 14:05" in high["text"]
        assert "from 13:40 until 14:35" in high["text"]
        assert high["text"].endswith("Device: xDrip phone.")  # the bridge's name, not its id
        assert high["metadata"]["device_id"] == made["id"]
        body = {
            "model": DEFAULT_MODEL,
            "messages": [{"role": "user", "content": "How was my glucose after lunch yesterday?"}],
            "max_tokens": 60,
            "temperature": 0,
        }
        asked = httpx.post(
            f"{hub.base_url}/v1/chat/completions", json=body, headers=hub.headers(), timeout=120
        ).json()
        assert asked["citations"][0]["id"] == high["id"]
    finally:
        hub.stop()
