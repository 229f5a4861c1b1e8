"""Helpers for device tests: a hub without memory, raw protocol links, polling with timeouts."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.connection import Connection

from devices.client import DeviceClient, DeviceIdentity, link_url
from devices.link_auth import VerifierKeys, auth_message, make_proof
from devices.link_crypto import EphemeralKey, FrameOpener, FrameSealer, LinkKeys
from devices.outbox import DeviceState
from devices.pake import DevicePake
from devices.protocol import (
    Challenge,
    ErrorMessage,
    Hello,
    Message,
    PairingConfirm,
    PairingOffer,
    PairingPending,
    Proof,
    Welcome,
    decode,
    encode,
)
from devices.sealed_connection import SealedConnection
from tests.hub_process import HubProcess, start_hub

# Recent, so the hub's retention pass (30 days by default) keeps these samples.
T0 = float(int(time.time()) - 3 * 3600)
HUB_ENV = {"HUB_MEMORY_ENABLED": "false"}


def start_device_hub(data_dir: Path) -> HubProcess:
    """A real hub without the embedder (devices do not need it)."""
    return start_hub(data_dir, env=HUB_ENV)


async def until(condition: Callable[[], Any], timeout: float = 20, what: str = "") -> None:
    """Poll ``condition`` until true, failing after ``timeout`` seconds."""
    try:
        async with asyncio.timeout(timeout):
            while not condition():
                await asyncio.sleep(0.05)
    except TimeoutError as exc:
        raise AssertionError(f"timed out waiting for {what or condition}") from exc


def api(hub: HubProcess) -> httpx.AsyncClient:
    """An async client with the owner's token."""
    return httpx.AsyncClient(base_url=hub.base_url, headers=hub.headers(), timeout=20)


class Link(Protocol):
    """A raw link as the tests drive it: a plain WebSocket, or a sealed one after the handshake."""

    async def send(self, frame: str | bytes) -> None: ...

    async def recv(self) -> str | bytes: ...

    async def wait_closed(self) -> None: ...


async def receive(ws: Link) -> Message:
    """The next frame from the hub, decoded, within 10 s."""
    return decode(await asyncio.wait_for(ws.recv(), 10))


async def expect_error(ws: Link, code: str) -> ErrorMessage:
    """The hub's next frame is an error with ``code``, and the link then closes."""
    message = await receive(ws)
    assert isinstance(message, ErrorMessage), message
    assert message.code == code, message
    await asyncio.wait_for(ws.wait_closed(), 10)
    return message


def hello(
    device_id: str, pake: bytes | None = None, nonce: bytes | None = None, key: bytes | None = None
) -> Hello:
    """A hello for a test watch (``pake``: its pairing message while waiting to pair)."""
    return Hello(
        device_id,
        "watch",
        "TestWatch",
        ("heart_rate",),
        nonce or b"n" * 16,
        key or EphemeralKey().public,
        pake,
    )


async def answer_offer(ws: ClientConnection, pake: DevicePake) -> bytes:
    """Confirm the hub's pairing offer made with the device's code; returns the secret."""
    offer = await receive(ws)
    assert isinstance(offer, PairingOffer), offer
    keys = pake.accept(offer.pake, offer.confirm)
    assert keys is not None, "the hub's offer was not made with the device's code"
    await ws.send(encode(PairingConfirm(keys.device_confirm)))
    return keys.secret


async def raw_pair(hub: HubProcess, device_id: str) -> bytes:
    """Pair a device by hand over a raw link; returns its secret."""
    code = "424242"
    pake = DevicePake(code, device_id)
    async with connect(link_url(hub.base_url)) as ws:
        await ws.send(encode(hello(device_id, pake.message)))
        assert isinstance(await receive(ws), PairingPending)
        async with api(hub) as client:
            approving = asyncio.create_task(
                client.post(f"/v1/devices/{device_id}/pair", json={"code": code})
            )
            secret = await answer_offer(ws, pake)
            answer = await approving
            assert answer.status_code == 200, answer.text
        return secret


class SealedLink(SealedConnection):
    """A sealed link for tests: waits for the close like the WebSocket it wraps."""

    acked = 0

    async def wait_closed(self) -> None:
        """Wait until the WebSocket is closed."""
        await self.connection.wait_closed()

    @property
    def close_code(self) -> int | None:
        """The WebSocket's close code, once closed."""
        return self.connection.close_code


async def raw_handshake(ws: Connection, device_id: str, secret: bytes) -> SealedLink:
    """Say hello, prove ``secret`` and open the sealed welcome; the sealed link (its
    ``acked`` is the welcome's acked_seq)."""
    nonce = secrets.token_bytes(16)
    key = EphemeralKey()
    await ws.send(encode(hello(device_id, nonce=nonce, key=key.public)))
    challenge = await receive(ws)
    assert isinstance(challenge, Challenge), challenge
    signed = auth_message(device_id, nonce, challenge.nonce, key.public, challenge.key)
    await ws.send(encode(Proof(make_proof(secret, signed))))
    keys = LinkKeys.derive(
        key.shared(challenge.key), VerifierKeys.from_secret(secret).stored_key, signed
    )
    link = SealedLink(ws, FrameSealer(keys.device_to_hub), FrameOpener(keys.hub_to_device))
    sealed = await asyncio.wait_for(ws.recv(), 10)
    assert isinstance(sealed, bytes), decode(sealed)  # a refusal comes in the clear
    welcome = decode(link.open(sealed))
    assert isinstance(welcome, Welcome), welcome
    link.acked = welcome.acked_seq
    return link


@asynccontextmanager
async def raw_link(hub: HubProcess, device_id: str, secret: bytes) -> AsyncIterator[SealedLink]:
    """An authenticated, sealed raw link, for sending hand-made frames."""
    async with connect(link_url(hub.base_url)) as ws:
        yield await raw_handshake(ws, device_id, secret)


def make_client(hub_url: str, state_path: Path, device_id: str) -> DeviceClient:
    """A simulated device's client with its outbox at ``state_path``."""
    identity = DeviceIdentity(device_id, "watch", "TestWatch", ("heart_rate",))
    return DeviceClient(identity, DeviceState(state_path), hub_url, max_backoff=0.5)


async def pair_client(hub: HubProcess, client: DeviceClient) -> None:
    """Approve a running client's pairing code and wait for its link."""
    await until(lambda: client.pairing_code is not None, what="a pairing code")
    async with api(hub) as http:
        # As a person would: the code is typed once the hub lists the device as waiting (its
        # hello may still be on the way, through a relay, when the device shows its code).
        # A revoked device that asks again keeps its status and shows that it asks.
        for _ in range(300):
            listed = (await http.get("/v1/devices")).json()["data"]
            if any(d["id"] == client.identity.device_id and d["waiting_to_pair"] for d in listed):
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError(f"the hub never listed the device as waiting to pair: {listed}")
        answer = await http.post(
            f"/v1/devices/{client.identity.device_id}/pair", json={"code": client.pairing_code}
        )
        assert answer.status_code == 200, answer.text
    await asyncio.wait_for(client.linked.wait(), 10)


async def stored(hub: HubProcess, device_id: str) -> list[dict[str, Any]]:
    """Every sample the hub stored for the device."""
    async with api(hub) as client:
        answer = await client.get(f"/v1/devices/{device_id}/samples", params={"limit": 100000})
        assert answer.status_code == 200, answer.text
        data: list[dict[str, Any]] = answer.json()["data"]
        return data
