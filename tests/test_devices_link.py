"""Devices against a real hub on loopback: pairing, refusals, streaming, revocation, bad frames."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect

from devices.client import link_url
from devices.media import MediaFrame
from devices.pake import DevicePake
from devices.protocol import (
    Challenge,
    PairingOffer,
    PairingPending,
    PairingRetry,
    Proof,
    decode,
    encode,
)
from devices.samples import Sample, SensorBatch
from devices.sensor_kinds import SENSOR_KINDS
from tests.devices_support import (
    T0,
    api,
    expect_error,
    hello,
    make_client,
    pair_client,
    raw_link,
    raw_pair,
    receive,
    start_device_hub,
    stored,
    until,
)
from tests.hub_process import HubProcess


@pytest.fixture(scope="module")
def device_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    process = start_device_hub(tmp_path_factory.mktemp("devices") / "data")
    yield process
    process.stop()


def run(scenario, timeout: float = 60) -> None:  # type: ignore[no-untyped-def]
    asyncio.run(asyncio.wait_for(scenario(), timeout))


def batch(seq: int, n: int = 3) -> SensorBatch:
    return SensorBatch.of(
        seq, tuple(Sample("heart_rate", T0 + seq + i / 10, 60.0) for i in range(n))
    )


def test_pairing_then_streaming_stores_every_sample_once(device_hub, tmp_path: Path) -> None:
    async def scenario() -> None:
        client = make_client(device_hub.base_url, tmp_path / "w" / "state.db", "stream-watch")
        link = asyncio.create_task(client.run_forever())
        try:
            await until(lambda: client.pairing_code is not None, what="a pairing code")
            async with api(device_hub) as http:
                listed = (await http.get("/v1/devices")).json()["data"]
                mine = next(d for d in listed if d["id"] == "stream-watch")
                assert mine["status"] == "waiting_to_pair"
                assert client.pairing_code not in json.dumps(listed)
                wrong = "000000" if client.pairing_code != "000000" else "111111"
                answer = await http.post("/v1/devices/stream-watch/pair", json={"code": wrong})
                assert answer.status_code == 403
                assert "4 tries left" in answer.json()["error"]["message"]
            await pair_client(device_hub, client)
            for i in range(50):
                await client.send_samples(
                    [Sample("heart_rate", T0 + i * 20 + k, 60.0 + k) for k in range(20)]
                )
            await client.send_status(T0 + 2000, 77, True)
            await until(lambda: client.state.unacked() == 0, what="every frame acked")
            assert client.acked == 51
        finally:
            link.cancel()
            await asyncio.gather(link, return_exceptions=True)
            client.state.close()
        samples = await stored(device_hub, "stream-watch")
        assert len(samples) == 1000
        assert len({s["seq"] for s in samples}) == 50
        assert len({(s["seq"], s["t"]) for s in samples}) == 1000
        async with api(device_hub) as http:
            listed = (await http.get("/v1/devices")).json()["data"]
            since = await http.get(
                "/v1/devices/stream-watch/samples",
                params={"kind": "heart_rate", "since": T0 + 100, "until": T0 + 200},
            )
            unknown = await http.get("/v1/devices/stream-watch/samples", params={"kind": "mood"})
            minutes = await http.get(
                "/v1/devices/stream-watch/samples", params={"resolution": "1m", "limit": 5000}
            )
            hours = await http.get(
                "/v1/devices/stream-watch/samples",
                params={"resolution": "1h", "kind": "heart_rate"},
            )
        assert unknown.status_code == 400
        assert "unknown sample kind 'mood'; use one of" in unknown.json()["error"]["message"]
        mine = next(d for d in listed if d["id"] == "stream-watch")
        assert mine["status"] == "paired"
        assert mine["battery"] == 77
        assert mine["charging"] is True
        assert mine["acked_seq"] == 51
        assert len(since.json()["data"]) == 100
        per_minute = minutes.json()["data"]
        assert sum(row["count"] for row in per_minute) == 1000
        assert all(
            row["t"] % 60 == 0 and row["min"] <= row["mean"] <= row["max"] for row in per_minute
        )
        assert sum(row["count"] for row in hours.json()["data"]) == 1000
        total = sum(row["sum"] for row in hours.json()["data"])
        assert total == pytest.approx(sum(s["v"] for s in samples))

    run(scenario)


def test_wrong_codes_are_limited_then_pairing_must_restart(device_hub) -> None:
    async def scenario() -> None:
        async with connect(link_url(device_hub.base_url)) as ws, api(device_hub) as http:
            pake = DevicePake("123456", "guess-watch")
            await ws.send(encode(hello("guess-watch", pake.message)))
            assert isinstance(await receive(ws), PairingPending)

            async def wrong_code() -> httpx.Response:
                nonlocal pake
                approving = asyncio.create_task(
                    http.post("/v1/devices/guess-watch/pair", json={"code": "654321"})
                )
                offer = await receive(ws)
                assert isinstance(offer, PairingOffer)
                # The offer was made with another code: the device learns nothing from it.
                assert pake.accept(offer.pake, offer.confirm) is None
                pake = DevicePake("123456", "guess-watch")
                await ws.send(encode(PairingRetry(pake.message)))
                return await approving

            for tries_left in (4, 3, 2, 1):
                answer = await wrong_code()
                assert answer.status_code == 403
                assert f"{tries_left} tries left" in answer.json()["error"]["message"]
            answer = await wrong_code()
            assert answer.status_code == 403
            assert "restart pairing" in answer.json()["error"]["message"]
            await expect_error(ws, "pairing_failed")
            answer = await http.post("/v1/devices/guess-watch/pair", json={"code": "123456"})
            assert answer.status_code == 404
            assert "not waiting to pair" in answer.json()["error"]["message"]

    run(scenario)


def test_unpaired_device_gets_nothing_in_or_out(device_hub) -> None:
    async def scenario() -> None:
        async with connect(link_url(device_hub.base_url)) as ws:
            await ws.send(encode(hello("stranger")))
            challenge = await receive(ws)
            assert isinstance(challenge, Challenge)
            await ws.send(encode(Proof(b"\x00" * 32)))
            error = await expect_error(ws, "auth_failed")
            assert "hub devices pair" in error.message
        async with connect(link_url(device_hub.base_url)) as ws:
            await ws.send(encode(batch(1)))  # data before any hello
            await expect_error(ws, "unknown_type")
        assert await stored(device_hub, "stranger") == []

    run(scenario)


def test_spoofed_and_wrong_secret_devices_are_refused(device_hub, tmp_path: Path) -> None:
    async def scenario() -> None:
        secret = await raw_pair(device_hub, "real-watch")
        async with raw_link(device_hub, "real-watch", secret) as ws:
            await ws.send(encode(batch(1)))
            assert (await receive(ws)).to_wire() == {"type": "ack", "seq": 1}
        # Same id, kind and model, but not the secret: a copied identity gets nothing.
        for guess in (b"\x01" * 32, secret[:-1] + bytes([secret[-1] ^ 1])):
            with pytest.raises(AssertionError):
                async with raw_link(device_hub, "real-watch", guess) as ws:
                    pass
        async with connect(link_url(device_hub.base_url)) as ws:
            await ws.send(encode(hello("real-watch")))
            challenge = await receive(ws)
            assert isinstance(challenge, Challenge)
            await ws.send(encode(batch(2)))  # data instead of a proof
            await expect_error(ws, "unknown_type")
        assert len(await stored(device_hub, "real-watch")) == 3

    run(scenario)


def test_revoke_closes_the_open_link_at_once(device_hub, tmp_path: Path) -> None:
    async def scenario() -> None:
        secret = await raw_pair(device_hub, "lost-watch")
        async with raw_link(device_hub, "lost-watch", secret) as ws, api(device_hub) as http:
            answer = await http.post("/v1/devices/lost-watch/revoke")
            assert answer.status_code == 200
            await expect_error(ws, "revoked")
            listed = (await http.get("/v1/devices")).json()["data"]
            assert next(d for d in listed if d["id"] == "lost-watch")["status"] == "revoked"
            missing = await http.post("/v1/devices/no-such/revoke")
            assert missing.status_code == 404
        with pytest.raises(AssertionError):
            async with raw_link(device_hub, "lost-watch", secret):
                pass

    run(scenario)


@pytest.mark.parametrize(
    ("frame", "code", "close_code"),
    [
        ("{not json", "malformed_frame", 1002),
        ('{"type": "teleport", "seq": 1}', "unknown_type", 1002),
        ('{"type": "sensor_batch", "seq": 1, "samples": "lots"}', "invalid_field", 1002),
        ("x" * (300 * 1024), "frame_too_large", 1009),
        (b"not a media frame", "malformed_frame", 1002),
    ],
)
def test_bad_frames_get_a_protocol_error_and_close(
    device_hub, frame: str | bytes, code: str, close_code: int
) -> None:
    async def scenario() -> None:
        device_id = f"bad-{code}-{close_code}-{isinstance(frame, bytes)}"
        secret = await raw_pair(device_hub, device_id)
        async with raw_link(device_hub, device_id, secret) as ws:
            await ws.send(frame)
            error = await expect_error(ws, code)
            assert error.message
            assert ws.close_code == close_code

    run(scenario)


def test_sequence_must_grow_on_a_link_and_resends_are_dropped(device_hub) -> None:
    async def scenario() -> None:
        secret = await raw_pair(device_hub, "seq-watch")
        async with raw_link(device_hub, "seq-watch", secret) as ws:
            for seq in (1, 2, 3):
                await ws.send(encode(batch(seq)))
            acked = 0
            while acked < 3:
                acked = decode(await asyncio.wait_for(ws.recv(), 10)).to_wire()["seq"]
            await ws.send(encode(batch(2)))
            error = await expect_error(ws, "bad_sequence")
            assert error.seq == 2
            assert "increasing seq" in error.message
        # A new link may resend what the hub already has: dropped, acknowledged again.
        async with raw_link(device_hub, "seq-watch", secret) as ws:
            for seq in (1, 2, 3, 4):
                await ws.send(encode(batch(seq)))
            last = 0
            while last < 4:
                last = decode(await asyncio.wait_for(ws.recv(), 10)).to_wire()["seq"]
            audio = MediaFrame("audio", 5, T0, b"\x00\x01" * 1600)
            await ws.send(audio.to_wire())
            assert decode(await asyncio.wait_for(ws.recv(), 10)).to_wire()["seq"] == 5
        samples = await stored(device_hub, "seq-watch")
        assert len(samples) == 12
        assert sorted({s["seq"] for s in samples}) == [1, 2, 3, 4]

    run(scenario)


def test_simulator_and_cli_pair_and_stream(device_hub, tmp_path: Path) -> None:
    env = {**os.environ, "HUB_PORT": device_hub.base_url.rsplit(":", 1)[1]}
    cli = [sys.executable, "-m", "hub", "devices"]
    data = ["--data-dir", str(device_hub.data_dir)]
    sim = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "devices.sim",
            "cgm",
            "--id",
            "sim-cgm",
            "--hub",
            device_hub.base_url,
            "--state",
            str(tmp_path / "sim"),
            "--frames",
            "8",
            "--speed",
            "1000000",
            "--no-mdns",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert sim.stdout is not None
        line = sim.stdout.readline()
        assert line.startswith("pairing code: "), line
        code = line.split()[2]
        wrong = subprocess.run(
            [*cli, "pair", "sim-cgm", "--code", "0000000", *data],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert wrong.returncode == 1
        assert "wrong code" in wrong.stderr
        subprocess.run(
            [*cli, "pair", "sim-cgm", "--code", code, *data],
            env=env,
            check=True,
            timeout=60,
            capture_output=True,
        )
        out, _ = sim.communicate(timeout=60)
        assert sim.returncode == 0
        assert "done: 8 frames acknowledged" in out
    finally:
        if sim.poll() is None:
            sim.kill()
    listed = subprocess.run(
        [*cli, "list", "--json", *data],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    cgm = next(d for d in json.loads(listed.stdout) if d["id"] == "sim-cgm")
    assert cgm["status"] == "paired"
    assert cgm["acked_seq"] == 8
    samples = asyncio.run(asyncio.wait_for(stored(device_hub, "sim-cgm"), 20))
    assert len(samples) == 8
    assert all(s["kind"] == "glucose" and 40 <= s["v"] <= 400 for s in samples)


def test_a_flooding_device_that_never_reads_does_not_stall_another(
    device_hub, tmp_path: Path
) -> None:
    async def scenario() -> None:
        secret = await raw_pair(device_hub, "flood-watch")
        async with raw_link(device_hub, "flood-watch", secret) as flood:

            async def pour() -> None:
                seq = 0
                while True:  # as fast as it can, and it never reads its acks
                    seq += 1
                    await flood.send(encode(batch(seq, 20)))
                    await asyncio.sleep(0)  # let this test's own calm device run too

            pouring = asyncio.create_task(pour())
            client = make_client(device_hub.base_url, tmp_path / "calm" / "state.db", "calm")
            link = asyncio.create_task(client.run_forever())
            try:
                await pair_client(device_hub, client)
                for i in range(20):
                    await client.send_samples([Sample("spo2", T0 + i, 97.0)])
                await until(lambda: client.state.unacked() == 0, what="the calm device's acks")
                assert not pouring.done()
            finally:
                pouring.cancel()
                link.cancel()
                await asyncio.gather(pouring, link, return_exceptions=True)
                client.state.close()
                # It would not read the hub's closing handshake either.
                flood.connection.transport.abort()
        assert len(await stored(device_hub, "calm")) == 20

    run(scenario)


def test_a_reset_device_that_pairs_again_may_count_from_one(device_hub, tmp_path: Path) -> None:
    async def scenario() -> None:
        for life in ("first", "after-reset"):
            client = make_client(device_hub.base_url, tmp_path / life / "state.db", "reset-cgm")
            link = asyncio.create_task(client.run_forever())
            try:
                await pair_client(device_hub, client)
                for i in range(5):
                    seq = await client.send_samples([Sample("glucose", T0 + i, 100.0)])
                assert seq == 5  # a fresh device state counts from 1 again
                await until(lambda: client.state.unacked() == 0, what="acks")  # noqa: B023
            finally:
                link.cancel()
                await asyncio.gather(link, return_exceptions=True)
                client.state.close()
            if life == "first":
                async with api(device_hub) as http:
                    assert (await http.post("/v1/devices/reset-cgm/revoke")).status_code == 200
        samples = await stored(device_hub, "reset-cgm")
        assert len(samples) == 10
        assert len({(s["epoch"], s["seq"]) for s in samples}) == 10

    run(scenario)


def test_a_newer_link_of_the_same_device_replaces_the_older(device_hub) -> None:
    async def scenario() -> None:
        secret = await raw_pair(device_hub, "twice-watch")
        async with (
            raw_link(device_hub, "twice-watch", secret) as older,
            raw_link(device_hub, "twice-watch", secret) as newer,
        ):
            await expect_error(older, "replaced")
            await newer.send(encode(batch(1)))
            assert (await receive(newer)).to_wire() == {"type": "ack", "seq": 1}

    run(scenario)


def test_sensor_kinds_are_served_to_the_owner_and_listed_by_the_cli(device_hub) -> None:
    url = f"{device_hub.base_url}/v1/devices/kinds"
    answer = httpx.get(url, headers=device_hub.headers(), timeout=20)
    assert answer.status_code == 200
    kinds = {kind["name"]: kind for kind in answer.json()["data"]}
    assert list(kinds) == [kind.name for kind in SENSOR_KINDS]
    glucose = kinds["glucose"]
    assert (glucose["label"], glucose["unit"], glucose["low"], glucose["high"]) == (
        "Glucose",
        "mg/dL",
        20,
        600,
    )
    assert glucose["charted"] and glucose["target_band"] == [70, 180]
    assert kinds["heart_rate"]["chart_floor"] == [50, 110]
    assert kinds["steps"]["whole"] and not kinds["steps"]["charted"]
    location = kinds["location"]
    assert (location["min_dimensions"], location["max_dimensions"]) == (2, 3)
    assert location["parts"][0] == {"name": "latitude", "unit": "°", "low": -90, "high": 90}
    for headers in ({}, {"Authorization": "Bearer not-the-token"}):
        assert httpx.get(url, headers=headers, timeout=20).status_code == 401

    listed = subprocess.run(
        [sys.executable, "-m", "hub", "devices", "kinds", "--data-dir", str(device_hub.data_dir)],
        env={**os.environ, "HUB_PORT": device_hub.base_url.rsplit(":", 1)[1], "COLUMNS": "200"},
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    glucose_row = next(line for line in listed.stdout.splitlines() if "glucose" in line)
    assert "mg/dL" in glucose_row and "20 to 600" in glucose_row and "yes" in glucose_row
    assert "2 to 3 numbers" in listed.stdout  # location
