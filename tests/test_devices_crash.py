"""The hub killed mid-stream (SIGKILL) and the device restarted: nothing lost, nothing twice."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from devices.samples import Sample
from tests.devices_support import T0, api, make_client, pair_client, start_device_hub, stored, until

BATCHES = 300
PER_BATCH = 10


@pytest.mark.slow
def test_hub_killed_mid_stream_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    state_path = tmp_path / "device" / "state.db"
    hub = start_device_hub(data_dir)

    async def produce(client, first: int, last: int) -> None:  # type: ignore[no-untyped-def]
        for i in range(first, last):
            await client.send_samples(
                [Sample("glucose", T0 + i * 60 + k, 90.0 + k) for k in range(PER_BATCH)]
            )
            await asyncio.sleep(0.002)

    async def scenario() -> None:
        nonlocal hub
        client = make_client(hub.base_url, state_path, "crash-cgm")
        link = asyncio.create_task(client.run_forever())
        await pair_client(hub, client)
        producer = asyncio.create_task(produce(client, 0, BATCHES // 2))
        await until(lambda: client.acked >= 40, what="some frames acked")
        hub.process.kill()  # SIGKILL while frames are in flight
        await asyncio.to_thread(hub.process.wait, 30)
        acked_before_kill = client.acked
        await producer
        # The device restarts too: only its outbox file carries over.
        link.cancel()
        await asyncio.gather(link, return_exceptions=True)
        client.state.close()
        hub = await asyncio.to_thread(start_device_hub, data_dir)
        client = make_client(hub.base_url, state_path, "crash-cgm")
        assert client.state.unacked() > 0
        link = asyncio.create_task(client.run_forever())
        try:
            await produce(client, BATCHES // 2, BATCHES)
            await until(lambda: client.state.unacked() == 0, timeout=60, what="all acked")
            assert client.acked == BATCHES >= acked_before_kill
        finally:
            link.cancel()
            await asyncio.gather(link, return_exceptions=True)
            client.state.close()
        samples = await stored(hub, "crash-cgm")
        async with api(hub) as http:
            rollups = await http.get(
                "/v1/devices/crash-cgm/samples", params={"resolution": "1m", "limit": 100000}
            )
        # Rollups are updated with the samples, so they too count every sample exactly once.
        assert sum(row["count"] for row in rollups.json()["data"]) == BATCHES * PER_BATCH
        assert len({s["seq"] for s in samples}) == BATCHES
        assert len(samples) == BATCHES * PER_BATCH
        assert len({(s["seq"], s["t"]) for s in samples}) == BATCHES * PER_BATCH

    try:
        asyncio.run(asyncio.wait_for(scenario(), 120))
    finally:
        hub.stop()
