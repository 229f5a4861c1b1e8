"""Attacks on device links, tried with a real hub, real device clients and a man in the middle on
loopback: listening, relaying, altering, replaying, forging acks, guessing codes, flooding."""

from __future__ import annotations

import asyncio
import json
import resource
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed, InvalidStatus

from devices.client import link_url
from devices.endpoint import DeviceEndpoint
from devices.link_crypto import EphemeralKey
from devices.pake import DevicePake, HubPake
from devices.protocol import (
    Ack,
    ErrorMessage,
    PairingOffer,
    PairingPending,
    PairingRetry,
    decode,
    encode,
)
from devices.samples import Sample, SensorBatch
from tests.devices_support import (
    HUB_ENV,
    T0,
    api,
    expect_error,
    hello,
    make_client,
    pair_client,
    raw_link,
    raw_pair,
    receive,
    stored,
    until,
)
from tests.hub_process import HubProcess, start_hub
from tests.link_relay import Frame, Relay, bridge, relay_to_hub

pytestmark = pytest.mark.slow
ATTACK_ENV = {**HUB_ENV, "HUB_DEVICE_PAIRING_TIMEOUT": "4"}
MAX_SEQ = 2**53 - 1


@pytest.fixture(scope="module")
def attack_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    # A thousand sockets on each side: lift this process's (and so the hub's) file limit.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
    process = start_hub(tmp_path_factory.mktemp("attacks") / "data", env=ATTACK_ENV)
    yield process
    process.stop()
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def run(scenario: object) -> None:
    asyncio.run(asyncio.wait_for(scenario(), 180))  # type: ignore[operator]


def spo2(n: int) -> list[Sample]:
    return [Sample("spo2", T0 + i, 97.0) for i in range(n)]


async def seqs(hub: HubProcess, device_id: str) -> list[int]:
    return sorted(s["seq"] for s in await stored(hub, device_id))


def test_a_listener_on_the_link_learns_nothing(attack_hub: HubProcess, tmp_path: Path) -> None:
    async def scenario() -> None:
        relay = Relay()
        async with relay_to_hub(link_url(attack_hub.base_url), relay) as via:
            client = make_client(via, tmp_path / "state.db", "overheard")
            running = asyncio.create_task(client.run_forever())
            try:
                await until(lambda: client.pairing_code is not None, what="a pairing code")
                code = client.pairing_code
                await pair_client(attack_hub, client)
                await client.send_samples(spo2(5))
                await until(lambda: client.state.unacked() == 0, what="acks through the relay")
            finally:
                running.cancel()
                await asyncio.gather(running, return_exceptions=True)
        secret = client.state.secret()
        client.state.close()
        assert await seqs(attack_hub, "overheard") == [1] * 5
        seen = relay.captured()
        # Neither the code, the secret, nor anything the device measured crossed in the clear.
        assert code is not None and code.encode() not in seen
        assert secret is not None and secret not in seen
        for word in (b"spo2", b"sensor_batch", b"ack"):
            assert word not in seen

    run(scenario)


def test_a_relay_that_dials_the_device_cannot_inject_anything(
    attack_hub: HubProcess, tmp_path: Path
) -> None:
    """The review's attack: dial the device, pass its handshake to the hub, then inject."""

    async def scenario() -> None:
        client = make_client(attack_hub.base_url, tmp_path / "state.db", "relayed")
        client.state.set_secret(await raw_pair(attack_hub, "relayed"))
        endpoint = DeviceEndpoint(client, "127.0.0.1")
        port = await endpoint.start()
        relay = Relay()
        try:
            await client.send_samples(spo2(3))
            async with connect(f"ws://127.0.0.1:{port}/", proxy=None) as device:
                bridging = asyncio.create_task(bridge(relay, device, link_url(attack_hub.base_url)))
                await asyncio.wait_for(relay.sealed.wait(), 20)
                await until(lambda: client.state.unacked() == 0, what="the relayed frames")
                assert relay.hub_side is not None
                forged = SensorBatch.of(999, tuple(Sample("spo2", T0, 50.0) for _ in range(3)))
                await relay.hub_side.send(encode(forged))  # in the clear
                await asyncio.wait_for(bridging, 20)  # the hub cut the link
            # A sealed-looking frame the relay made up fares no better.
            relay2 = Relay()
            async with connect(f"ws://127.0.0.1:{port}/", proxy=None) as device:
                bridging = asyncio.create_task(
                    bridge(relay2, device, link_url(attack_hub.base_url))
                )
                await asyncio.wait_for(relay2.sealed.wait(), 20)
                assert relay2.hub_side is not None
                await relay2.hub_side.send(b"\x01" * 64)
                await asyncio.wait_for(bridging, 20)
            error = decode(relay.hub_frames[-1]) if isinstance(relay.hub_frames[-1], str) else None
            assert error is None  # the hub's refusal went out sealed, for the device alone
        finally:
            await endpoint.close()
            client.state.close()
        assert await seqs(attack_hub, "relayed") == [1, 1, 1]
        assert 999 not in await seqs(attack_hub, "relayed")

    run(scenario)


@pytest.mark.parametrize("attack", ["alter", "replay", "drop"])
def test_a_frame_altered_replayed_or_dropped_in_flight_is_refused_and_nothing_is_lost(
    attack_hub: HubProcess, tmp_path: Path, attack: str
) -> None:
    async def scenario() -> None:
        device_id = f"tampered-{attack}"
        done = {"tampered": False}

        def tamper(frame: Frame, index: int) -> list[Frame]:
            # The device's third sealed frame (its hello and proof are frames 0 and 1).
            if done["tampered"] or not isinstance(frame, bytes) or index < 3:
                return [frame]
            done["tampered"] = True
            if attack == "alter":
                return [frame[:10] + bytes([frame[10] ^ 0x40]) + frame[11:]]
            if attack == "replay":
                return [frame, frame]
            return []

        client = make_client(attack_hub.base_url, tmp_path / "state.db", device_id)
        client.state.set_secret(await raw_pair(attack_hub, device_id))
        relay = Relay(to_hub=tamper)
        async with relay_to_hub(link_url(attack_hub.base_url), relay) as via:
            client.hub = via
            running = asyncio.create_task(client.run_forever())
            try:
                for i in range(6):
                    await client.send_samples([Sample("spo2", T0 + i, 90.0 + i)])
                await until(lambda: client.state.unacked() == 0, 60, "every frame acked")
            finally:
                running.cancel()
                await asyncio.gather(running, return_exceptions=True)
                client.state.close()
        assert done["tampered"]
        assert relay.links >= 2  # the tampered link was cut; the device came back
        values = sorted(s["v"] for s in await stored(attack_hub, device_id))
        assert values == [90.0 + i for i in range(6)]  # each once, the altered one resent

    run(scenario)


def test_a_device_never_drops_its_outbox_on_a_forged_ack_or_error(
    attack_hub: HubProcess, tmp_path: Path
) -> None:
    async def scenario() -> None:
        holding = {"on": True}

        def hold_data(frame: Frame, index: int) -> list[Frame]:
            # Let the handshake through, keep the device's data from the hub.
            return [] if holding["on"] and isinstance(frame, bytes) else [frame]

        client = make_client(attack_hub.base_url, tmp_path / "state.db", "forged-ack")
        client.state.set_secret(await raw_pair(attack_hub, "forged-ack"))
        relay = Relay(to_hub=hold_data)
        async with relay_to_hub(link_url(attack_hub.base_url), relay) as via:
            client.hub = via
            await client.send_samples(spo2(3))
            running = asyncio.create_task(client.run_forever())
            try:
                await asyncio.wait_for(client.linked.wait(), 20)
                for forged in (
                    encode(Ack(MAX_SEQ)),
                    encode(ErrorMessage("invalid_field", "drop it", 1)),
                    b"\x00" * 40,
                ):
                    assert relay.device_side is not None
                    links = relay.links
                    await relay.device_side.send(forged)
                    await until(
                        lambda before=links: relay.links > before, 30, "the device to reconnect"
                    )
                    assert client.state.unacked() == 1  # the batch is still there
                    await asyncio.wait_for(client.linked.wait(), 20)
                holding["on"] = False
                assert relay.device_side is not None
                await relay.device_side.close()  # on its next link the device resends the batch
                await until(lambda: client.state.unacked() == 0, 60, "the real ack")
            finally:
                running.cancel()
                await asyncio.gather(running, return_exceptions=True)
                client.state.close()
        assert await seqs(attack_hub, "forged-ack") == [1, 1, 1]

    run(scenario)


def test_errors_in_the_clear_before_the_handshake_make_a_device_drop_nothing(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        async def rogue_hub(ws: ServerConnection) -> None:
            await ws.recv()  # the device's hello
            await ws.send(encode(ErrorMessage("invalid_field", "drop frame 1", 1)))

        async with serve(rogue_hub, "127.0.0.1", 0) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            client = make_client(f"http://127.0.0.1:{port}", tmp_path / "state.db", "kept")
            client.state.set_secret(b"s" * 32)
            await client.send_samples(spo2(2))
            with pytest.raises(Exception, match="invalid_field"):
                await client.connect_once()
            assert client.state.unacked() == 1
            client.state.close()

    run(scenario)


def test_a_relay_that_swaps_in_its_own_link_key_is_refused(
    attack_hub: HubProcess, tmp_path: Path
) -> None:
    async def scenario() -> None:
        def swap_key(frame: Frame, index: int) -> list[Frame]:
            if isinstance(frame, str) and '"type":"hello"' in frame:
                wire = json.loads(frame)
                wire["key"] = hello("x", key=EphemeralKey().public).to_wire()["key"]
                return [json.dumps(wire)]
            return [frame]

        client = make_client(attack_hub.base_url, tmp_path / "state.db", "swapped")
        client.state.set_secret(await raw_pair(attack_hub, "swapped"))
        await client.send_samples(spo2(2))
        relay = Relay(to_hub=swap_key)
        async with relay_to_hub(link_url(attack_hub.base_url), relay) as via:
            client.hub = via
            with pytest.raises(Exception, match="auth_failed"):
                await client.connect_once()
        client.state.close()
        assert await stored(attack_hub, "swapped") == []

    run(scenario)


def test_a_rogue_hub_cannot_guess_the_code_of_a_device_waiting_to_pair(tmp_path: Path) -> None:
    async def scenario() -> None:
        codes: list[str] = []
        client = make_client("http://127.0.0.1:9", tmp_path / "state.db", "guessed")
        client.on_code = codes.append
        endpoint = DeviceEndpoint(client, "127.0.0.1")
        port = await endpoint.start()
        offers = 0
        try:
            async with connect(f"ws://127.0.0.1:{port}/", proxy=None) as ws:
                first = decode(await ws.recv())
                assert first.TYPE == "hello" and first.pake is not None  # type: ignore[union-attr]
                message = first.pake  # type: ignore[union-attr]
                await ws.send(encode(PairingPending()))
                with pytest.raises(ConnectionClosed):
                    for guess in range(100):
                        offer = HubPake(f"{guess:06d}", "guessed", message)
                        await ws.send(encode(PairingOffer(offer.message, offer.confirm)))
                        answer = decode(await ws.recv())
                        assert isinstance(answer, PairingRetry), answer
                        message = answer.pake
                        offers += 1
        finally:
            await endpoint.close()
        assert offers == 4  # the fifth wrong offer made the device give up on that code
        assert len(codes) == 2  # and show a new one: guesses at the old one are worth nothing
        assert client.state.secret() is None
        client.state.close()

    run(scenario)


def test_pairing_links_are_one_per_id_bounded_in_time_and_never_from_a_web_page(
    attack_hub: HubProcess,
) -> None:
    async def scenario() -> None:
        url = link_url(attack_hub.base_url)
        async with connect(url) as first:
            await first.send(encode(hello("contested", DevicePake("111111", "contested").message)))
            assert isinstance(await receive(first), PairingPending)
            async with connect(url) as second:
                await second.send(
                    encode(hello("contested", DevicePake("222222", "contested").message))
                )
                await expect_error(second, "pairing_busy")
            # Nobody approves it: the wait ends with a clear error (HUB_DEVICE_PAIRING_TIMEOUT).
            await expect_error(first, "pairing_timeout")
        with pytest.raises(InvalidStatus) as info:
            async with connect(url, origin="http://evil.example"):  # type: ignore[arg-type]
                pass
        assert info.value.response.status_code == 403

    run(scenario)


def test_a_thousand_unauthenticated_pairing_sockets_leave_health_and_chat_answering(
    attack_hub: HubProcess,
) -> None:
    async def scenario() -> None:
        url = link_url(attack_hub.base_url)
        sockets = []
        refused = 0

        async def open_one(index: int) -> None:
            nonlocal refused
            try:
                ws = await connect(url, open_timeout=60, proxy=None)
            except (InvalidStatus, OSError, TimeoutError):
                refused += 1
                return
            sockets.append(ws)
            pake = DevicePake("123456", f"flood-{index}")
            try:
                await ws.send(encode(hello(f"flood-{index}", pake.message)))
            except ConnectionClosed:
                refused += 1

        try:
            for start in range(0, 1000, 100):
                await asyncio.gather(*(open_one(i) for i in range(start, start + 100)))
            async with api(attack_hub) as http:
                health = await http.get("/health")
                assert health.status_code == 200
                model = (await http.get("/v1/models")).json()["data"][0]["id"]
                answer = await http.post(
                    "/v1/chat/completions",
                    json={
                        "model": model,
                        "messages": [{"role": "user", "content": "Say hi."}],
                        "max_tokens": 8,
                    },
                    timeout=120,
                )
                assert answer.status_code == 200, answer.text
                assert answer.json()["choices"][0]["message"]["content"]
            assert refused + len(sockets) == 1000
        finally:
            await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
        async with httpx.AsyncClient(base_url=attack_hub.base_url) as http:
            assert (await http.get("/health")).status_code == 200

    run(scenario)


def test_huge_and_deeply_nested_frames_get_errors_before_and_after_the_handshake(
    attack_hub: HubProcess,
) -> None:
    async def scenario() -> None:
        url = link_url(attack_hub.base_url)
        deep = '{"a":' * 10_000 + "1" + "}" * 10_000
        async with connect(url) as ws:  # before the handshake nothing that large is parsed
            await ws.send(deep)
            await expect_error(ws, "frame_too_large")
        async with connect(url) as ws:  # deep enough for the parser, small enough to be read
            await ws.send("[" * 3000 + "]" * 3000)
            assert "nested too deeply" in (await expect_error(ws, "malformed_frame")).message
        async with connect(url) as ws:
            await ws.send(encode(hello("big"))[:-1] + ',"pad":"' + "x" * 100_000 + '"}')
            await expect_error(ws, "frame_too_large")
        secret = await raw_pair(attack_hub, "deep-after")
        async with raw_link(attack_hub, "deep-after", secret) as link:
            await link.send(deep)
            assert "nested too deeply" in (await expect_error(link, "malformed_frame")).message
        async with api(attack_hub) as http:
            assert (await http.get("/health")).status_code == 200

    run(scenario)
