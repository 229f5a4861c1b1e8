"""The hub dials devices found by mDNS on loopback: pairing and streaming over links the hub
opened, redialing after the device restarts, catching up after the hub was away, bad frames
on a dialed link, and one flooding device throttled without hurting another."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve

from devices.discovery import DEVICE_SERVICE, Advertiser, DeviceAdvert
from devices.media import MAX_BINARY_FRAME, MediaFrame
from devices.protocol import ErrorMessage, decode, encode
from devices.samples import Sample, SensorBatch
from tests.devices_support import (
    HUB_ENV,
    T0,
    SealedLink,
    api,
    make_client,
    pair_client,
    raw_handshake,
    raw_link,
    raw_pair,
    stored,
    until,
)
from tests.hub_process import HubProcess, start_hub

LOOPBACK = ["127.0.0.1"]
FLOOD_RATE = 3000  # samples a second one link may send to the hub below
DIAL_ENV = {
    **HUB_ENV,
    "HUB_DEVICE_DIAL_MAX_BACKOFF": "1",
    "HUB_DEVICE_HANDSHAKE_TIMEOUT": "2",
    "HUB_DEVICE_MAX_SAMPLES_PER_SECOND": str(FLOOD_RATE),
}


@pytest.fixture(scope="module")
def dial_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    process = start_hub(tmp_path_factory.mktemp("dialing") / "data", env=DIAL_ENV)
    yield process
    process.stop()


def run(scenario: Any, timeout: float = 90) -> None:
    asyncio.run(asyncio.wait_for(scenario(), timeout))


def start_sim(tmp_path: Path, device_id: str, frames: int, speed: float) -> subprocess.Popen[str]:
    """A simulated watch serving its own endpoint on loopback (no --hub: the hub dials it)."""
    with (tmp_path / f"sim-{device_id}-{time.monotonic_ns()}.log").open("w") as log:
        return subprocess.Popen(
            [
                sys.executable, "-m", "devices.sim", "watch", "--id", device_id,
                "--interface", "127.0.0.1", "--state", str(tmp_path / device_id),
                "--frames", str(frames), "--speed", str(speed),
            ],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )  # fmt: skip


async def device_row(hub: HubProcess, device_id: str) -> dict[str, Any] | None:
    async with api(hub) as http:
        devices = (await http.get("/v1/devices")).json()["data"]
    return next((d for d in devices if d["id"] == device_id), None)


async def wait_row(hub: HubProcess, device_id: str, check: Any, what: str) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    async def matches() -> bool:
        seen["row"] = await device_row(hub, device_id)
        return bool(seen["row"] and check(seen["row"]))

    async with asyncio.timeout(30):
        while not await matches():
            await asyncio.sleep(0.1)
    assert seen["row"], what
    row: dict[str, Any] = seen["row"]
    return row


async def pair_when_dialed(hub: HubProcess, device_id: str, code: str) -> None:
    """Approve the code once the hub has dialed the device and heard its hello."""
    async with api(hub) as http, asyncio.timeout(30):
        while True:
            answer = await http.post(f"/v1/devices/{device_id}/pair", json={"code": code})
            if answer.status_code == 200:
                return
            assert answer.status_code == 404, answer.text  # not dialed yet
            await asyncio.sleep(0.2)


def check_every_seq_once(samples: list[dict[str, Any]], last_seq: int) -> None:
    assert {s["seq"] for s in samples} == set(range(1, last_seq + 1))
    assert len({(s["seq"], s["kind"], s["t"]) for s in samples}) == len(samples)


async def pairing_code(sim: subprocess.Popen[str]) -> str:
    assert sim.stdout is not None
    line = await asyncio.to_thread(sim.stdout.readline)
    assert line.startswith("pairing code: "), line
    return line.split()[2]


async def finished(sim: subprocess.Popen[str]) -> int:
    """The last seq a simulator reports acknowledged when it finishes."""
    out, _ = await asyncio.to_thread(sim.communicate, timeout=60)
    assert sim.returncode == 0, out
    done = next(line for line in out.splitlines() if line.startswith("done: "))
    return int(done.rsplit("seq ", 1)[1].rstrip(")"))


def test_hub_dials_a_simulator_found_by_mdns_and_redials_after_it_restarts(
    dial_hub: HubProcess, tmp_path: Path
) -> None:
    sims = [start_sim(tmp_path, "dial-watch", frames=30, speed=50)]

    async def scenario() -> None:
        code = await pairing_code(sims[0])
        await pair_when_dialed(dial_hub, "dial-watch", code)
        row = await wait_row(
            dial_hub, "dial-watch", lambda r: r["acked_seq"] >= 12, "frames acknowledged"
        )
        assert row["status"] == "paired"
        assert row["connected"] is True
        assert row["mdns"]["port"] > 0  # it serves an endpoint; the hub dialed it
        rates = row["rates"]
        assert rates["samples_per_s"]["heart_rate"] > 0
        assert rates["frames_per_s"]["sensor_batch"] > 0
        sims[0].kill()  # mid-stream, without a goodbye on mDNS
        await asyncio.to_thread(sims[0].wait)
        # The same device comes back (its outbox and secret kept) on a new port.
        sims.append(start_sim(tmp_path, "dial-watch", frames=30, speed=500))
        last_seq = await finished(sims[1])
        assert last_seq >= 30 + row["acked_seq"]
        row = await wait_row(dial_hub, "dial-watch", lambda r: True, "listed")
        assert row["acked_seq"] == last_seq
        check_every_seq_once(await stored(dial_hub, "dial-watch"), last_seq)

    try:
        run(scenario)
    finally:
        for sim in sims:
            if sim.poll() is None:
                sim.kill()
    env = {**os.environ, "HUB_PORT": dial_hub.base_url.rsplit(":", 1)[1]}
    listed = subprocess.run(
        [sys.executable, "-m", "hub", "devices", "list", "--data-dir", str(dial_hub.data_dir)],
        env={**env, "COLUMNS": "250"},
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "dial-watch" in listed.stdout
    assert "heart_rate" in listed.stdout  # the rates column


def outbox_size(state_db: Path) -> int:
    """Frames a simulator holds unacknowledged, read from its own state file."""
    with sqlite3.connect(f"file:{state_db}?mode=ro", uri=True, timeout=5) as conn:
        return int(conn.execute("SELECT count(*) FROM outbox").fetchone()[0])


@pytest.mark.slow
def test_simulator_catches_up_after_the_hub_was_away(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    hubs = [start_hub(data_dir, env=DIAL_ENV)]
    sim = start_sim(tmp_path, "away-watch", frames=40, speed=40)

    async def scenario() -> None:
        await pair_when_dialed(hubs[0], "away-watch", await pairing_code(sim))
        await wait_row(hubs[0], "away-watch", lambda r: r["acked_seq"] >= 5, "first acks")
        await asyncio.to_thread(hubs[0].stop)  # the hub goes away; the watch keeps measuring
        state_db = tmp_path / "away-watch" / "state.db"
        await until(lambda: outbox_size(state_db) >= 8, what="frames buffered while away")
        # Back on another port: it finds the watch on mDNS again and dials it.
        hubs.append(await asyncio.to_thread(start_hub, data_dir, DIAL_ENV))
        last_seq = await finished(sim)
        assert last_seq == 40
        check_every_seq_once(await stored(hubs[1], "away-watch"), last_seq)
        row = await wait_row(hubs[1], "away-watch", lambda r: True, "listed")
        assert row["acked_seq"] == 40

    try:
        run(scenario, timeout=120)
    finally:
        if sim.poll() is None:
            sim.kill()
        for hub in hubs:
            hub.stop()


class RawEndpoint:
    """A device endpoint driven by hand: every link the hub dials is queued for the test."""

    def __init__(self) -> None:
        self.links: asyncio.Queue[ServerConnection] = asyncio.Queue()

    async def handle(self, connection: ServerConnection) -> None:
        await self.links.put(connection)
        await connection.wait_closed()

    async def next_link(self) -> ServerConnection:
        return await asyncio.wait_for(self.links.get(), 30)


@asynccontextmanager
async def raw_endpoint(device_id: str, paired: bool) -> AsyncIterator[RawEndpoint]:
    """Serve a hand-driven endpoint on loopback and advertise it on mDNS."""
    endpoint = RawEndpoint()
    async with serve(endpoint.handle, "127.0.0.1", 0, max_size=None) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        advertiser = Advertiser(LOOPBACK)
        advert = DeviceAdvert(device_id, "watch", "TestWatch", ("heart_rate",), not paired)
        try:
            await advertiser.publish(
                DEVICE_SERVICE, device_id, "127.0.0.1", port, advert.properties()
            )
            yield endpoint
        finally:
            await advertiser.close()


async def authenticate(ws: ServerConnection, device_id: str, secret: bytes) -> SealedLink:
    """The device's side of the handshake on a dialed link; the sealed link (``acked``: the
    welcome's acked_seq)."""
    return await raw_handshake(ws, device_id, secret)


async def hub_error(ws: ServerConnection | SealedLink) -> ErrorMessage:
    """The hub's next frame is an error and then it closes the dialed link."""
    message = decode(await asyncio.wait_for(ws.recv(), 10))
    assert isinstance(message, ErrorMessage), message
    await asyncio.wait_for(ws.wait_closed(), 10)
    return message


def batch(seq: int, n: int = 3) -> SensorBatch:
    return SensorBatch.of(
        seq, tuple(Sample("heart_rate", T0 + seq + i / 10, 61.0) for i in range(n))
    )


async def acked_through(ws: Any, seq: int) -> None:
    while decode(await asyncio.wait_for(ws.recv(), 10)).to_wire().get("seq", 0) < seq:
        pass


def test_bad_frames_on_a_dialed_link_get_protocol_errors_and_the_hub_redials(
    dial_hub: HubProcess,
) -> None:
    async def scenario() -> None:
        device_id = "raw-dialed"
        secret = await raw_pair(dial_hub, device_id)  # paired once over a link it dialed
        async with raw_endpoint(device_id, paired=True) as endpoint:
            silent = await endpoint.next_link()  # says nothing: the handshake times out
            assert (await hub_error(silent)).code == "handshake_timeout"
            assert silent.close_code == 1002

            ws = await endpoint.next_link()  # redialed after a pause
            link = await authenticate(ws, device_id, secret)
            assert link.acked == 0
            await link.send(encode(batch(1)))
            await acked_through(link, 1)
            await link.send("{not json")
            assert (await hub_error(link)).code == "malformed_frame"

            ws = await endpoint.next_link()
            link = await authenticate(ws, device_id, secret)
            assert link.acked == 1
            header = MediaFrame("audio", 2, T0, b"").to_wire()
            await link.send(header + b"\x00" * (MAX_BINARY_FRAME + 2 - len(header)))
            error = await hub_error(link)
            assert error.code == "frame_too_large"
            assert ws.close_code == 1009

            ws = await endpoint.next_link()
            link = await authenticate(ws, device_id, secret)
            assert link.acked == 1
            await link.send(encode(batch(5)))  # gaps are allowed
            await acked_through(link, 5)
            await link.send(encode(batch(3)))  # out of order on this link
            error = await hub_error(link)
            assert (error.code, error.seq) == ("bad_sequence", 3)

            # The device dials in while the hub's link is up: the older link gives way, and
            # the hub dials again only once the device's own link has ended.
            ws = await endpoint.next_link()
            link = await authenticate(ws, device_id, secret)
            assert link.acked == 5
            async with raw_link(dial_hub, device_id, secret) as dialed_in:
                assert (await hub_error(link)).code == "replaced"
                await dialed_in.send(encode(batch(6)))
                await acked_through(dialed_in, 6)
                row = await device_row(dial_hub, device_id)
                assert row is not None and row["connected"] is True
            ws = await endpoint.next_link()
            link = await authenticate(ws, device_id, secret)
            assert link.acked == 6
            await link.send(encode(batch(7)))
            await acked_through(link, 7)
        samples = await stored(dial_hub, device_id)
        assert sorted({s["seq"] for s in samples}) == [1, 5, 6, 7]
        assert len(samples) == 12

    run(scenario)


def test_a_flood_from_one_device_is_throttled_without_hurting_another(
    dial_hub: HubProcess, tmp_path: Path
) -> None:
    async def scenario() -> None:
        secret = await raw_pair(dial_hub, "flood-dial")
        acks = {"flood": 0}
        async with raw_link(dial_hub, "flood-dial", secret) as flood:
            started = time.monotonic()

            async def pour() -> None:
                seq = 0
                while True:  # 1000 samples a frame, as fast as the link takes them
                    seq += 1
                    frame = SensorBatch.of(
                        seq,
                        tuple(Sample("heart_rate", T0 + seq + i / 1000, 70.0) for i in range(1000)),
                    )
                    await flood.send(encode(frame))

            async def read_acks() -> None:
                while True:
                    acks["flood"] = decode(await flood.recv()).to_wire()["seq"]

            pouring = asyncio.create_task(pour())
            reading = asyncio.create_task(read_acks())
            client = make_client(dial_hub.base_url, tmp_path / "calm" / "state.db", "calm-dial")
            link = asyncio.create_task(client.run_forever())
            try:
                await until(lambda: acks["flood"] >= 2, what="the flood's first acks")
                await pair_client(dial_hub, client)
                for i in range(20):
                    await client.send_samples([Sample("spo2", T0 + i, 97.0 + k) for k in range(3)])
                await until(lambda: client.state.unacked() == 0, what="the calm device's acks")
                assert client.acked == 20
                assert not pouring.done() and not reading.done()  # slowed, not cut off
                row = await device_row(dial_hub, "flood-dial")
                assert row is not None and row["connected"] is True
            finally:
                pouring.cancel()
                reading.cancel()
                link.cancel()
                await asyncio.gather(pouring, reading, link, return_exceptions=True)
                client.state.close()
                flood.connection.transport.abort()
            flood_samples = len(await stored(dial_hub, "flood-dial"))
            elapsed = time.monotonic() - started
        # Never more than a second's burst plus the rate over the time it poured.
        assert 2000 <= flood_samples <= FLOOD_RATE * (1 + elapsed)
        assert len(await stored(dial_hub, "calm-dial")) == 60

    run(scenario)


def test_stream_rates_are_listed_as_json(dial_hub: HubProcess) -> None:
    async def scenario() -> None:
        secret = await raw_pair(dial_hub, "rate-watch")
        async with raw_link(dial_hub, "rate-watch", secret) as ws:
            for seq in (1, 2, 3):
                await ws.send(encode(batch(seq, 10)))
            audio = MediaFrame("audio", 4, T0, b"\x00\x01" * 320)
            await ws.send(audio.to_wire())
            await acked_through(ws, 4)
        row = await device_row(dial_hub, "rate-watch")
        assert row is not None
        rates = row["rates"]
        window = rates["window_s"]
        assert 1 <= window <= 60
        assert rates["samples_per_s"] == {"heart_rate": round(30 / window, 2)}
        assert rates["frames_per_s"] == {
            "audio": round(1 / window, 2),
            "sensor_batch": round(3 / window, 2),
        }
        assert json.dumps(rates)

    run(scenario)
