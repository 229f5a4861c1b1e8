"""A paired device cannot fill the hub's disk or outlive retention: a nearly full disk refuses
its frames without an ack (the device keeps them and they are stored once there is room), and a
frame timed days ahead is refused by seq with a message to set the clock (real hubs, a real
device client, raw links)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from devices.client import LinkRefusedError
from devices.protocol import encode
from devices.samples import Sample, SensorBatch
from tests.devices_support import (
    HUB_ENV,
    T0,
    expect_error,
    make_client,
    pair_client,
    raw_link,
    raw_pair,
    start_device_hub,
    stored,
    until,
)
from tests.hub_process import start_hub

BATCHES = 5
PER_BATCH = 4


def reading(i: int, k: int) -> Sample:
    return Sample("heart_rate", T0 + i * 60 + k, 60.0 + k)


@pytest.mark.slow
def test_a_full_disk_keeps_frames_on_the_device_until_there_is_room(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    state_path = tmp_path / "device" / "state.db"
    # More free space asked for than any disk has: the guard trips on the real disk.
    full = {**HUB_ENV, "HUB_MIN_FREE_DISK_MB": str(10**12)}
    hub = start_hub(data_dir, env=full)

    async def scenario() -> None:
        nonlocal hub
        secret = await raw_pair(hub, "raw-watch")
        async with raw_link(hub, "raw-watch", secret) as ws:
            await ws.send(encode(SensorBatch.of(1, [reading(0, 0)])))
            error = await expect_error(ws, "disk_full")
        assert error.seq is None  # about no one frame: the device keeps them all
        assert "nearly full" in error.message and "HUB_MIN_FREE_DISK_MB" in error.message

        client = make_client(hub.base_url, state_path, "full-watch")
        refusals: list[str] = []
        react = client.refused

        async def refused(exc: LinkRefusedError, trusted: bool) -> None:
            refusals.append(exc.error.code)
            await react(exc, trusted)

        client.refused = refused  # type: ignore[method-assign]
        link = asyncio.create_task(client.run_forever())
        try:
            await pair_client(hub, client)
            for i in range(BATCHES):
                await client.send_samples([reading(i, k) for k in range(PER_BATCH)])
            await until(lambda: len(refusals) >= 2, what="the hub refusing the frames twice")
            assert set(refusals) == {"disk_full"}
            assert client.acked == 0 and client.state.unacked() == BATCHES
            assert await stored(hub, "full-watch") == []
        finally:
            link.cancel()
            await asyncio.gather(link, return_exceptions=True)
            client.state.close()
        # The owner makes room (here: the hub restarts with the default minimum); the device,
        # restarted too, still has every frame and they are stored exactly once.
        hub.stop()
        hub = await asyncio.to_thread(start_device_hub, data_dir)
        client = make_client(hub.base_url, state_path, "full-watch")
        link = asyncio.create_task(client.run_forever())
        try:
            await until(lambda: client.state.unacked() == 0, timeout=30, what="all acked")
        finally:
            link.cancel()
            await asyncio.gather(link, return_exceptions=True)
            client.state.close()
        samples = await stored(hub, "full-watch")
        assert len(samples) == BATCHES * PER_BATCH
        assert {s["seq"] for s in samples} == set(range(1, BATCHES + 1))

    try:
        asyncio.run(asyncio.wait_for(scenario(), 120))
    finally:
        hub.stop()


@pytest.mark.slow
def test_a_frame_timed_days_ahead_is_refused_and_dropped(tmp_path: Path) -> None:
    hub = start_device_hub(tmp_path / "data")

    async def scenario() -> None:
        secret = await raw_pair(hub, "future-watch")
        ahead = time.time() + 3 * 86_400
        async with raw_link(hub, "future-watch", secret) as ws:
            await ws.send(encode(SensorBatch.of(1, [Sample("heart_rate", ahead, 61.0)])))
            error = await expect_error(ws, "invalid_field")
        assert error.seq == 1  # the device drops this frame and sends the rest
        assert "ahead of the hub's clock" in error.message
        assert "set the device's clock" in error.message
        # A real client drops the refused frame and goes on with the next ones.
        client = make_client(hub.base_url, tmp_path / "device.db", "clock-watch")
        link = asyncio.create_task(client.run_forever())
        try:
            await pair_client(hub, client)
            await client.send_samples([Sample("heart_rate", ahead, 70.0)])
            await client.send_samples([reading(1, 0)])
            await until(lambda: client.state.unacked() == 0, timeout=30, what="all settled")
        finally:
            link.cancel()
            await asyncio.gather(link, return_exceptions=True)
            client.state.close()
        assert [s["t"] for s in await stored(hub, "clock-watch")] == [reading(1, 0).t]

    try:
        asyncio.run(asyncio.wait_for(scenario(), 120))
    finally:
        hub.stop()
