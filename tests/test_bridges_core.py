"""Bridges as devices: only hashes of their secret kept, readings stored exactly once by key
with their rollups, refused whole when one is out of range, and nothing once revoked
(fast: real SQLite, the real app with a fake model, the real CLI)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from devices.bridge_samples import BridgeSample, BridgeSampleError
from hub.api.app import create_app
from hub.bridges.errors import BridgeRevokedError, InvalidReadingError
from hub.bridges.kinds import UnknownBridgeKindError, bridge_kind
from hub.bridges.secrets import SecretHashes, new_secret, sha1_hex
from hub.bridges.service import BridgeService
from hub.bridges.store import BridgeStore
from hub.cli.main import app as cli
from hub.settings import Settings
from hub.wearables.store import DEVICES_DB_NAME, DeviceNotPairedError, DeviceStore, SampleQuery
from memory.fake_embedder import HashingEmbedder
from tests.bridge_support import owner_client
from tests.fakes import FakeChatModel

T0 = 1_763_900_000.0


def glucose(minute: int, value: float) -> BridgeSample:
    t = T0 + 60 * minute
    return BridgeSample("glucose", t, value, f"sgv:{int(t * 1000)}")


@pytest.fixture
def bridges(tmp_path: Path) -> Iterator[BridgeStore]:
    devices = DeviceStore.open(tmp_path)
    yield BridgeStore(devices)
    devices.close()


def test_only_hashes_of_the_secret_are_kept(tmp_path: Path, bridges: BridgeStore) -> None:
    secret = new_secret()
    record = bridges.add(bridge_kind("nightscout"), "xDrip phone", SecretHashes.of(secret))
    assert record.kind == "nightscout" and record.id.startswith("nightscout-")
    bridges.devices.close()
    stored = b"".join(path.read_bytes() for path in tmp_path.glob(f"{DEVICES_DB_NAME}*"))
    assert secret.encode() not in stored and sha1_hex(secret).encode() not in stored


def test_a_bridge_is_found_by_its_secret_or_its_sha1_and_only_while_it_works(
    bridges: BridgeStore,
) -> None:
    secret = new_secret()
    record = bridges.add(bridge_kind("nightscout"), "phone", SecretHashes.of(secret))
    assert bridges.find(secret, ["nightscout"]) == record
    assert bridges.find(sha1_hex(secret).upper(), ["nightscout"]) == record
    assert bridges.find(secret, ["omi"]) is None  # a secret opens its own kind of endpoint
    assert bridges.find(new_secret(), ["nightscout"]) is None
    assert bridges.find("", ["nightscout"]) is None
    assert bridges.devices.revoke(record.id)
    assert bridges.find(secret, ["nightscout"]) is None
    assert bridges.get(record.id) is not None and bridges.get(record.id).status == "revoked"  # type: ignore[union-attr]


def test_resent_readings_are_stored_once_with_exact_rollups(bridges: BridgeStore) -> None:
    record = bridges.add(bridge_kind("nightscout"), "phone", SecretHashes.of(new_secret()))
    first = [glucose(minute, 100 + minute) for minute in range(10)]
    assert len(bridges.commit(record.id, first)) == 10
    # The app resends the last five with five new ones: only the new ones are stored.
    again = [glucose(minute, 100 + minute) for minute in range(5, 15)]
    assert [s.key for s in bridges.commit(record.id, again)] == [s.key for s in again[5:]]
    assert bridges.commit(record.id, again) == []
    # The same reading twice in one batch (an app's retry queue) is stored once too.
    twice = [glucose(20, 120), glucose(20, 120), glucose(21, 121)]
    assert [s.key for s in bridges.commit(record.id, twice)] == [twice[0].key, twice[2].key]
    raw = bridges.devices.samples(SampleQuery(record.id, kind="glucose", limit=100))
    assert [sample.v for sample in raw] == [100.0 + m for m in range(15)] + [120.0, 121.0]
    hours = bridges.devices.samples(SampleQuery(record.id, kind="glucose", resolution="1h"))
    assert sum(row.count for row in hours) == 17  # type: ignore[union-attr]
    assert bridges.get(record.id).last_seen is not None  # type: ignore[union-attr]


def test_one_reading_out_of_range_stores_nothing_of_its_batch(bridges: BridgeStore) -> None:
    record = bridges.add(bridge_kind("nightscout"), "phone", SecretHashes.of(new_secret()))
    with pytest.raises(BridgeSampleError, match="glucose 900"):
        bridges.commit(record.id, [glucose(0, 100), glucose(1, 900)])
    with pytest.raises(BridgeSampleError, match="unknown sensor kind 'mood'"):
        bridges.commit(record.id, [BridgeSample("mood", T0, 1.0, "m1")])
    assert bridges.devices.samples(SampleQuery(record.id)) == []
    # The refused batch left no keys behind: sent again in range, it is stored.
    assert len(bridges.commit(record.id, [glucose(0, 100), glucose(1, 90)])) == 2


def test_vector_readings_and_a_revoked_bridge(bridges: BridgeStore) -> None:
    record = bridges.add(bridge_kind("apple-health"), "", SecretHashes.of(new_secret()))
    place = BridgeSample("location", T0, (38.7, -9.1, 12.0), "loc:1")
    assert bridges.commit(record.id, [place]) == [place]
    assert bridges.devices.samples(SampleQuery(record.id))[0].v == [38.7, -9.1, 12.0]  # type: ignore[union-attr]
    bridges.devices.revoke(record.id)
    with pytest.raises(DeviceNotPairedError):
        bridges.commit(record.id, [BridgeSample("location", T0 + 1, (1.0, 2.0), "loc:2")])


def test_unknown_kinds_are_refused_naming_the_known_ones() -> None:
    with pytest.raises(UnknownBridgeKindError, match="the hub knows: nightscout, omi"):
        bridge_kind("fitbit")


@pytest.fixture
def api(tmp_path: Path) -> Iterator[TestClient]:
    yield from owner_client(tmp_path)


def test_the_owner_adds_a_bridge_that_is_listed_and_revoked_as_a_device(api: TestClient) -> None:
    made = api.post("/v1/bridges", json={"kind": "nightscout", "name": "xDrip phone"})
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["secret"] and any(body["secret"] in line for line in body["setup"])
    listed = api.get("/v1/bridges").json()["data"]
    assert [(b["id"], b["name"], b["status"]) for b in listed] == [
        (body["id"], "xDrip phone", "paired")
    ]
    assert "secret" not in listed[0]
    devices = api.get("/v1/devices").json()["data"]
    assert any(d["id"] == body["id"] and d["kind"] == "nightscout" for d in devices)
    assert api.post(f"/v1/devices/{body['id']}/revoke").status_code == 200
    assert api.get("/v1/bridges").json()["data"][0]["status"] == "revoked"
    kinds = {k["name"] for k in api.get("/v1/bridges/kinds").json()["data"]}
    assert {"nightscout", "omi", "apple-health", "ble-heart-rate"} <= kinds


def test_bridges_are_the_owners_alone(api: TestClient) -> None:
    for request in (
        lambda h: api.get("/v1/bridges", headers=h),
        lambda h: api.post("/v1/bridges", json={"kind": "omi"}, headers=h),
    ):
        assert request({"Authorization": "Bearer wrong"}).status_code == 401
    chat_only = api.post("/v1/clients", json={"name": "ha", "scopes": ["chat", "devices:read"]})
    credential = chat_only.json()["credential"]
    refused = api.post(
        "/v1/bridges", json={"kind": "omi"}, headers={"Authorization": f"Bearer {credential}"}
    )
    assert refused.status_code in (401, 403)
    assert api.get("/v1/bridges").json()["data"] == []


def test_bad_bridge_requests_say_what_to_fix(api: TestClient) -> None:
    unknown = api.post("/v1/bridges", json={"kind": "fitbit"})
    assert unknown.status_code == 400 and "the hub knows: nightscout" in unknown.text
    long_name = api.post("/v1/bridges", json={"kind": "omi", "name": "x" * 65})
    assert long_name.status_code == 400 and "name" in long_name.text
    assert api.post("/v1/bridges", json={"kind": 3}).status_code == 400
    radio = api.post("/v1/bridges", json={"kind": "ble-heart-rate"})
    assert radio.status_code == 400 and "hub bridges ble add ADDRESS" in radio.text


def test_the_service_reports_coded_errors_and_tells_the_listeners(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path, personalize_enabled=False, voice_enabled=False, mdns_enabled=False
    )
    app = create_app(settings, loader=lambda name: FakeChatModel(), embedder=HashingEmbedder())
    service: BridgeService = app.state.hub.bridges
    made = service.add("nightscout", "phone")
    heard: list[int] = []

    class Listener:
        def frames_stored(self, device_id: str, frames: object) -> None:
            heard.append(sum(batch.count for batch in frames))  # type: ignore[attr-defined]

    service.devices.add_listeners([Listener()])

    async def scenario() -> None:
        assert await service.store_samples(made.record.id, [glucose(0, 100)]) == 1
        assert await service.store_samples(made.record.id, [glucose(0, 100)]) == 0
        with pytest.raises(InvalidReadingError, match="glucose 5"):
            await service.store_samples(made.record.id, [glucose(1, 5)])
        found = await service.find(made.secret, "nightscout")
        assert found is not None and found.id == made.record.id and found.last_seen
        await service.devices.revoke(made.record.id)
        with pytest.raises(BridgeRevokedError, match="hub bridges add"):
            await service.store_samples(made.record.id, [glucose(2, 100)])

    asyncio.run(scenario())
    assert heard == [1]
    service.devices.store.close()


def test_the_cli_adds_lists_and_revokes(tmp_path: Path) -> None:
    runner = CliRunner()
    data = ["--data-dir", str(tmp_path)]
    added = runner.invoke(cli, ["bridges", "add", "nightscout", "--name", "xDrip phone", *data])
    assert added.exit_code == 0, added.output
    secret = added.stdout.strip()
    assert f"API secret: {secret}" in added.stderr and f"{secret}@" in added.stderr
    listed = runner.invoke(cli, ["bridges", "list", *data])
    assert "xDrip phone" in listed.stdout and "paired" in listed.stdout
    assert secret not in listed.stdout
    device_id = added.stderr.split("is device ")[1].split(".")[0]
    assert runner.invoke(cli, ["bridges", "revoke", device_id, *data]).exit_code == 0
    assert "revoked" in runner.invoke(cli, ["bridges", "list", *data]).stdout
    missing = runner.invoke(cli, ["bridges", "revoke", "nope", *data])
    assert missing.exit_code == 1 and "no bridge 'nope'" in missing.stderr
    unknown = runner.invoke(cli, ["bridges", "add", "fitbit", *data])
    assert unknown.exit_code == 1 and "the hub knows" in unknown.stderr
    assert "nightscout" in runner.invoke(cli, ["bridges", "kinds"]).stdout
