"""/v1/memory/housekeeping against a real app, real SQLite and the real store (fake model and
embedder, so the model's summary is known): policy, runs, undo, sizes, auth and bad input."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from hub.api.app import create_app
from hub.settings import Settings
from memory.fake_embedder import HashingEmbedder
from tests.fakes import FakeChatModel

# What the fake model answers to every prompt: about the seeded day, so it is accepted.
MODEL_SUMMARY = "In the morning the user talked about the plumber, the kitchen tap and quince jam."


def make_client(tmp_path: Path, **overrides: Any) -> Iterator[TestClient]:
    chosen = {"memory_housekeeping_model_summaries": True, **overrides}
    settings = Settings(
        data_dir=tmp_path / "data",
        voice_enabled=False,
        mdns_enabled=False,
        personalize_enabled=False,
        memory_extract_facts=False,
        **chosen,
    )
    model = FakeChatModel(context_length=8192, reply=MODEL_SUMMARY)
    app = create_app(settings, loader=lambda name: model, embedder=HashingEmbedder())
    with TestClient(app) as client:
        token = (tmp_path / "data" / "owner_token").read_text().strip()
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    yield from make_client(tmp_path)


def seed(client: TestClient) -> tuple[list[str], list[str]]:
    # A morning in local time (the day a memory belongs to): a run near midnight would
    # otherwise spread the items over two days.
    old_day = datetime.now().astimezone().replace(hour=9, minute=0, second=0, microsecond=0)
    old_day -= timedelta(days=40)
    said = [
        "Call the plumber about the kitchen tap tomorrow",
        "The quince jam needs two kilos of sugar",
        "ok",
        "Meet Ana at the harbor cafe at six",
    ]
    old = [
        {
            "text": text,
            "kind": "transcript",
            "source": "device",
            "happened_at": (old_day + timedelta(minutes=10 * n)).isoformat(),
            "metadata": {"device_id": "ear-1"},
        }
        for n, text in enumerate(said)
    ]
    recent = [
        {
            "text": "Yesterday I booked the dentist for Friday",
            "kind": "transcript",
            "source": "device",
            "happened_at": (datetime.now(UTC) - timedelta(days=1)).isoformat(),
            "metadata": {"device_id": "ear-1"},
        }
    ]
    ids = client.post("/v1/memory/batch", json={"items": old + recent}).json()["ids"]
    return ids[: len(old)], ids[len(old) :]


def run_and_settle(client: TestClient) -> dict[str, Any]:
    started = client.post("/v1/memory/housekeeping/runs")
    assert started.status_code == 202, started.text
    run_id = started.json()["id"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status = client.get("/v1/memory/housekeeping").json()
        run = next(run for run in status["runs"] if run["id"] == run_id)
        if status["running"] is None and run["finished_at"] is not None:
            return run
        time.sleep(0.05)
    raise AssertionError("the housekeeping run did not finish")


def search_ids(client: TestClient, query: str) -> list[str]:
    answer = client.post("/v1/memory/search", json={"query": query, "k": 20, "mode": "text"})
    return [hit["id"] for hit in answer.json()["results"]]


def test_a_policy_summarizes_old_days_and_undo_brings_them_back(client: TestClient) -> None:
    old, recent = seed(client)
    saved = client.put(
        "/v1/memory/housekeeping",
        json={
            "policies": [{"kind": "transcript", "action": "summarize", "after_days": 30}],
            "grace_days": 7,
        },
    )
    assert saved.status_code == 200, saved.text
    policies = {p["kind"]: p for p in saved.json()["policies"]}
    assert policies["transcript"] == {
        "kind": "transcript",
        "action": "summarize",
        "after_days": 30,
        "origin": "saved",
    }
    assert policies["image_text"]["action"] == "keep" and saved.json()["grace_days"] == 7

    run = run_and_settle(client)

    assert (run["days"], run["items"], run["summaries"], run["error"]) == (1, 4, 1, None)
    assert run["undoable_days"] == 1 and run["trigger"] == "api"
    [summary_id] = search_ids(client, "quince")
    summary = client.get(f"/v1/memory/{summary_id}").json()
    assert MODEL_SUMMARY in summary["text"] and "4 times between" in summary["text"]
    assert summary["kind"] == "transcript" and summary["metadata"]["device_id"] == "ear-1"
    for item_id in old:
        assert client.get(f"/v1/memory/{item_id}").status_code == 404
    assert search_ids(client, "dentist") == recent
    sizes = {size["kind"]: size for size in client.get("/v1/memory/housekeeping").json()["sizes"]}
    assert sizes["transcript"]["items"] == 2 and sizes["transcript"]["held_items"] == 4
    assert sizes["transcript"]["bytes"] > 0 and sizes["transcript"]["held_bytes"] > 0

    undone = client.post(f"/v1/memory/housekeeping/runs/{run['id']}/undo")

    assert undone.status_code == 200 and undone.json() == {"id": run["id"], "days": 1}
    assert set(search_ids(client, "quince plumber harbor")) == {old[0], old[1], old[3]}
    assert client.get(f"/v1/memory/{summary_id}").status_code == 404
    again = client.post(f"/v1/memory/housekeeping/runs/{run['id']}/undo")
    assert again.status_code == 409 and "holds nothing" in again.json()["error"]["message"]


def test_without_the_model_the_summary_says_what_was_said_and_when(tmp_path: Path) -> None:
    for client in make_client(tmp_path, memory_housekeeping_model_summaries=False):
        seed(client)
        client.put(
            "/v1/memory/housekeeping",
            json={"policies": [{"kind": "transcript", "action": "summarize", "after_days": 30}]},
        )
        run_and_settle(client)
        [summary_id] = search_ids(client, "quince")
        text = client.get(f"/v1/memory/{summary_id}").json()["text"]
        assert "The quince jam needs two kilos of sugar" in text and MODEL_SUMMARY not in text
        assert "\nok" not in text  # a bare "ok" says nothing worth keeping


def test_keep_raw_changes_nothing(client: TestClient) -> None:
    seed(client)
    before = client.get("/v1/memory?limit=50").json()

    run = run_and_settle(client)

    assert (run["days"], run["items"], run["summaries"], run["purged"]) == (0, 0, 0, 0)
    assert client.get("/v1/memory?limit=50").json() == before
    status = client.get("/v1/memory/housekeeping").json()
    assert {p["action"] for p in status["policies"]} == {"keep"}
    assert {p["origin"] for p in status["policies"]} == {"settings"}


def test_delete_after_n_days_from_the_settings(tmp_path: Path) -> None:
    for client in make_client(tmp_path, memory_housekeeping_transcript="delete:30"):
        _, recent = seed(client)
        run = run_and_settle(client)
        assert (run["days"], run["items"], run["summaries"]) == (1, 4, 0)
        assert search_ids(client, "quince plumber harbor dentist") == recent


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/memory/housekeeping"),
        ("PUT", "/v1/memory/housekeeping"),
        ("POST", "/v1/memory/housekeeping/runs"),
        ("POST", "/v1/memory/housekeeping/runs/run_x/undo"),
    ],
)
def test_every_endpoint_needs_the_owners_token(client: TestClient, method: str, path: str) -> None:
    body = {"policies": []} if method == "PUT" else None
    for headers in ({"Authorization": ""}, {"Authorization": "Bearer not-the-token"}):
        answer = client.request(method, path, json=body, headers=headers)
        assert answer.status_code == 401, answer.text


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"policies": [{"kind": "diary", "action": "keep"}]}, "policies.0.kind"),
        ({"policies": [{"kind": "transcript", "action": "shred"}]}, "policies.0.action"),
        (
            {"policies": [{"kind": "transcript", "action": "delete", "after_days": -3}]},
            "policies.0.after_days",
        ),
        (
            {"policies": [{"kind": "transcript", "action": "delete", "after_days": "30"}]},
            "policies.0.after_days",
        ),
        ({"policies": "transcript"}, "policies"),
        ({"grace_days": -1}, "grace_days"),
        ({"grace_days": 2.5}, "grace_days"),
        ({"grace_days": 7, "colour": "red"}, "colour"),
    ],
)
def test_bad_policies_are_refused_naming_the_field(
    client: TestClient, body: dict[str, Any], says: str
) -> None:
    answer = client.put("/v1/memory/housekeeping", json=body)
    assert answer.status_code == 400, answer.text
    assert says in answer.json()["error"]["message"]
    assert client.get("/v1/memory/housekeeping").json()["grace_days"] == 14  # nothing saved


def test_malformed_and_huge_bodies_and_unknown_runs_are_refused(client: TestClient) -> None:
    garbled = client.put(
        "/v1/memory/housekeeping",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert garbled.status_code == 400 and "JSON" in garbled.json()["error"]["message"]
    huge = client.put("/v1/memory/housekeeping", json={"policies": [], "pad": "x" * 3_000_000})
    assert huge.status_code == 413
    unknown = client.post("/v1/memory/housekeeping/runs/run_nope/undo")
    assert unknown.status_code == 404 and "hub memory housekeeping status" in unknown.text
