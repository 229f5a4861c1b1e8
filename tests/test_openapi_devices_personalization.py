"""/openapi.json (what /docs shows) names what every endpoint answers, and the answers are what
it says (fast: the app is built in-process with a fake model)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel

from adapters.job import append_progress
from devices.discovery import DeviceAdvert
from devices.link_auth import VerifierKeys
from devices.protocol import Hello
from devices.samples import Sample, SensorBatch, Status
from hub.api.app import create_app
from hub.api.devices_schemas import DeviceList, SampleList
from hub.api.personalization_schemas import (
    AdapterList,
    DatasetPreviewOut,
    PersonalizationStatusOut,
)
from hub.assembly import Hub
from hub.personalization.jobs import RunPlan, registry_for
from hub.personalization.service import RunState
from hub.settings import Settings
from tests.fakes import FakeChatModel

T0 = 1_763_900_000.0


@pytest.fixture
def devices_and_personalization(tmp_path: Path) -> Iterator[tuple[TestClient, Hub]]:
    settings = Settings(
        data_dir=tmp_path / "data",
        memory_enabled=False,
        voice_enabled=False,
        personalize_enabled=False,
        mdns_enabled=False,
    )
    app = create_app(settings, loader=lambda name: FakeChatModel())
    with TestClient(app) as client:
        token = (tmp_path / "data" / "owner_token").read_text().strip()
        client.headers["Authorization"] = f"Bearer {token}"
        yield client, app.state.hub


def documented_answers(spec: dict[str, Any], prefix: str) -> dict[str, dict[str, str]]:
    """For each operation under ``prefix`` ("GET /v1/x"), its success status and the model
    its JSON answer names."""
    found = {}
    for path, operations in spec["paths"].items():
        if path.startswith(prefix):
            for method, operation in operations.items():
                (status,) = [code for code in operation["responses"] if code.startswith("2")]
                content = operation["responses"][status]["content"]["application/json"]
                found[f"{method.upper()} {path}"] = {
                    status: content["schema"]["$ref"].rsplit("/", 1)[-1]
                }
    return found


def test_every_device_and_personalization_route_names_its_answer(
    devices_and_personalization: tuple[TestClient, Hub],
) -> None:
    client, _ = devices_and_personalization
    spec = client.get("/openapi.json").json()
    assert documented_answers(spec, "/v1/devices") == {
        "GET /v1/devices": {"200": "DeviceList"},
        "GET /v1/devices/kinds": {"200": "SensorKindList"},
        "GET /v1/devices/{device_id}/samples": {"200": "SampleList"},
        "POST /v1/devices/{device_id}/pair": {"200": "DeviceStatusOut"},
        "POST /v1/devices/{device_id}/revoke": {"200": "DeviceStatusOut"},
    }
    assert documented_answers(spec, "/v1/personalization") == {
        "GET /v1/personalization": {"200": "PersonalizationStatusOut"},
        "POST /v1/personalization/runs": {"202": "PersonalizationStatusOut"},
        "GET /v1/personalization/adapters": {"200": "AdapterList"},
        "POST /v1/personalization/adapters/{version_id}/promote": {"200": "ActiveAdapterOut"},
        "POST /v1/personalization/rollback": {"200": "ActiveAdapterOut"},
        "GET /v1/personalization/dataset": {"200": "DatasetPreviewOut"},
        "GET /v1/personalization/conversations/{conversation_id}": {
            "200": "ConversationLearningOut"
        },
        "PUT /v1/personalization/conversations/{conversation_id}": {
            "200": "ConversationLearningOut"
        },
        "PUT /v1/personalization/messages/{message_id}": {"200": "MessageFeedbackOut"},
    }
    schemas = spec["components"]["schemas"]
    # A device never paired has no stored record: those fields are documented for paired ones.
    assert "acked_seq" not in schemas["DeviceOut"]["properties"]
    assert {"acked_seq", "battery", "paired_at"} <= set(schemas["PairedDeviceOut"]["required"])
    assert "Unix seconds" in schemas["StoredSample"]["properties"]["t"]["description"]
    assert "start of the minute" in schemas["SampleRollup"]["properties"]["t"]["description"]
    assert schemas["RunProgressOut"]["properties"]["eta_seconds"]["description"]


def fill_devices(hub: Hub) -> None:
    """A paired watch with samples, a revoked ring, a device heard from, one advertised."""
    devices, store = hub.devices, hub.devices.store
    for device_id, kind in (("watch", "watch"), ("ring", "ring")):
        hello = Hello(device_id, kind, "M1", ("heart_rate", "imu"), b"n" * 16, b"k" * 32)
        store.save_pairing(hello, VerifierKeys.from_secret(secrets.token_bytes(32)))
    samples = [Sample("heart_rate", T0 + i, 60.0 + i) for i in range(3)]
    frames = [
        SensorBatch.of(1, [*samples, Sample("imu", T0, (0.0, 1, 2.5, -3, 4, 5))]),
        Status(2, T0, 77, True),
    ]
    store.commit("watch", frames)
    devices.rates.record("watch", frames)
    store.revoke("ring")
    devices.note_heard(Hello("new", "watch", "N", ("audio",), b"n" * 16, b"k" * 32, b"p" * 33))
    devices.note_advert("far._x", DeviceAdvert("far", "cgm", "C", (), False, "10.0.0.2", 8555))


def fill_personalization(hub: Hub, tmp_path: Path) -> None:
    """Two registered adapters (the first active; the second's record partial, as an older hub
    or a hand wrote it), a finished run and one going on."""
    registry = registry_for(hub.settings.data_dir)
    metrics = {"personal_loss": 1.25, "general_perplexity": 12.5, "general_questions_loss": 2.0}
    for number, passed in ((1, True), (2, False)):
        folder = registry.versions_dir / f"v000{number}"
        folder.mkdir(parents=True)
        meta = {
            "id": folder.name,
            "created_at": T0 + number,
            "model_name": "m",
            "base_sha256": "ab" * 32,
            "architecture": "qwen2",
            "passed_gate": passed,
            "dataset": {
                "train_examples": 3,
                "held_out_examples": 1,
                "by_source": {"fact": 4},
                "preferred": 0,
                "duplicates_dropped": 2,
                "excluded_conversations": 0,
                "scrubbed": True,
                "sha256": "cd" * 32,
            },
            "metrics": {"candidate": metrics, "current": {**metrics, "personal_loss": 2.5}},
            "decision": {"passed": passed, "reasons": ["personal loss 1.250 vs 2.500"]},
            "training": {
                "steps": 4,
                "total_steps": 8,
                "stopped_by_budget": True,
                "train_tokens": 1000,
                "train_seconds": 12.34,
                "tokens_per_second": 81.04,
                "wall_seconds": 30.5,
            },
            "losses": [3.1, 2.5],
        }
        if number == 2:
            meta["dataset"] = {"train_examples": 180, "made_by": "hand"}
            meta["training"] = {"steps": 40, "train_seconds": 412.0}
            del meta["metrics"]
        (folder / "meta.json").write_text(json.dumps(meta))
    (registry.root / "active.json").write_text(json.dumps({"history": {"ab" * 32: ["v0001"]}}))
    last_run = {"finished_at": T0, "status": "rejected", "message": "no", "version": "v0002"}
    registry.write_state({"last_run": {**last_run, "job": "j1"}})
    job = tmp_path / "job"
    job.mkdir()
    append_progress(job, "step", step=1, total_steps=8, loss=3.0, eta_seconds=6.5)
    hub.personalization.current = RunState(RunPlan(job, None, T0, 3, resumed=True), T0)


def test_answers_are_what_the_documentation_says(
    devices_and_personalization: tuple[TestClient, Hub], tmp_path: Path
) -> None:
    # Read back through its documented model, every answer must come out the same: a field the
    # documentation leaves out would be dropped (or refused) and fail the comparison.
    client, hub = devices_and_personalization
    fill_devices(hub)
    fill_personalization(hub, tmp_path)
    conversation = client.post("/v1/conversations", json={}).json()["id"]
    with client.stream(
        "POST", f"/v1/conversations/{conversation}/messages", json={"content": "Hi"}
    ) as response:
        response.read()
    answers: list[tuple[type[BaseModel], str]] = [
        (DeviceList, "/v1/devices"),
        (SampleList, "/v1/devices/watch/samples"),
        (SampleList, "/v1/devices/watch/samples?resolution=1m"),
        (PersonalizationStatusOut, "/v1/personalization"),
        (AdapterList, "/v1/personalization/adapters"),
        (DatasetPreviewOut, "/v1/personalization/dataset"),
    ]
    bodies = {}
    for model, path in answers:
        body = client.get(path).json()
        # Adapters: a field a stored record lacks is left out of the answer, not sent as null.
        partial = model is AdapterList
        assert model.model_validate(body).model_dump(mode="json", exclude_unset=partial) == body
        bodies[path] = body
    listed = {device["id"]: device for device in bodies["/v1/devices"]["data"]}
    assert listed["watch"]["battery"] == 77 and listed["ring"]["status"] == "revoked"
    assert listed["new"]["status"] == "discovered" and "battery" not in listed["new"]
    assert listed["far"]["mdns"] == {"address": "10.0.0.2", "port": 8555}
    raw = bodies["/v1/devices/watch/samples"]["data"]
    assert [0.0, 1, 2.5, -3, 4, 5] in [sample["v"] for sample in raw]  # numbers kept as sent
    assert bodies["/v1/personalization"]["running"]["eta_seconds"] == 6.5
    adapters = bodies["/v1/personalization/adapters"]["data"]
    assert [(a["id"], a["active"]) for a in adapters] == [("v0002", False), ("v0001", True)]
    assert adapters[0]["dataset"] == {"train_examples": 180, "made_by": "hand"}
    assert (
        adapters[0]["metrics"] == {} and adapters[1]["metrics"]["current"]["personal_loss"] == 2.5
    )
    assert bodies["/v1/personalization/dataset"]["summary"]["train_examples"] >= 0
