"""mDNS on loopback: the hub advertises itself and lists devices as they appear, change, leave."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from zeroconf import DNSAddress, DNSOutgoing
from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf
from zeroconf.const import _CLASS_IN, _FLAGS_AA, _FLAGS_QR_RESPONSE, _MAX_CACHE_RECORDS, _TYPE_A

from devices.discovery import (
    DEVICE_SERVICE,
    Advertiser,
    DeviceAdvert,
    DeviceBrowser,
    find_hub,
    open_zeroconf,
)
from hub.wearables.service import MAX_DISCOVERED
from tests.devices_support import api, start_device_hub
from tests.hub_process import HubProcess

LOOPBACK = ["127.0.0.1"]


@pytest.fixture(scope="module")
def mdns_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    process = start_device_hub(tmp_path_factory.mktemp("mdns") / "data")
    yield process
    process.stop()


async def listed(hub: HubProcess, device_id: str) -> dict[str, Any] | None:
    async with api(hub) as client:
        devices = (await client.get("/v1/devices")).json()["data"]
    return next((d for d in devices if d["id"] == device_id), None)


async def wait_listed(hub: HubProcess, device_id: str, check: Any) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    async def poll() -> None:
        async with asyncio.timeout(20):
            while True:
                row = await listed(hub, device_id)
                if check(row):
                    seen["row"] = row
                    return
                await asyncio.sleep(0.1)

    await poll()
    return seen.get("row") or {}


def test_hub_is_found_and_devices_appear_change_and_leave(mdns_hub: HubProcess) -> None:
    async def scenario() -> None:
        # Other hubs of this test session advertise on loopback too.
        found = await find_hub(LOOPBACK, accept=lambda address: address == mdns_hub.base_url)
        assert found == mdns_hub.base_url
        advertiser = Advertiser(LOOPBACK)
        advert = DeviceAdvert("mdns-ring", "watch", "Ring 2", ("heart_rate",), True)
        try:
            await advertiser.publish(
                DEVICE_SERVICE, "mdns-ring", "127.0.0.1", 0, advert.properties()
            )
            row = await wait_listed(mdns_hub, "mdns-ring", lambda r: r and r["mdns"])
            assert row["status"] == "waiting_to_pair"
            assert row["model"] == "Ring 2"
            assert row["mdns"]["address"] == "127.0.0.1"
            changed = DeviceAdvert("mdns-ring", "watch", "Ring 2", ("heart_rate",), False)
            await advertiser.publish(
                DEVICE_SERVICE, "mdns-ring", "127.0.0.1", 0, changed.properties()
            )
            await wait_listed(mdns_hub, "mdns-ring", lambda r: r and r["status"] == "discovered")
        finally:
            await advertiser.close()
        await wait_listed(mdns_hub, "mdns-ring", lambda r: r is None)

    asyncio.run(asyncio.wait_for(scenario(), 60))


def test_simulator_is_listed_by_mdns_until_it_leaves(mdns_hub: HubProcess, tmp_path: Path) -> None:
    sim = subprocess.Popen(
        [
            sys.executable, "-m", "devices.sim", "watch", "--id", "mdns-watch",
            "--hub", mdns_hub.base_url,  # other hubs of this session are on mDNS too
            "--interface", "127.0.0.1", "--state", str(tmp_path / "sim"),
            "--frames", "3", "--speed", "1000000",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip

    async def scenario() -> None:
        assert sim.stdout is not None
        line = await asyncio.to_thread(sim.stdout.readline)
        assert line.startswith("pairing code: "), line
        row = await wait_listed(mdns_hub, "mdns-watch", lambda r: r and r["mdns"])
        assert row["status"] == "waiting_to_pair"
        async with api(mdns_hub) as client:
            answer = await client.post(
                "/v1/devices/mdns-watch/pair", json={"code": line.split()[2]}
            )
            assert answer.status_code == 200, answer.text
        out = await asyncio.to_thread(sim.communicate, timeout=60)
        assert "done: 3 frames acknowledged" in out[0]
        await wait_listed(mdns_hub, "mdns-watch", lambda r: r and r["mdns"] is None)

    try:
        asyncio.run(asyncio.wait_for(scenario(), 90))
    finally:
        if sim.poll() is None:
            sim.kill()
    assert sim.returncode == 0


def flood_packet(first: int, last: int, ttl: int) -> DNSOutgoing:
    """One unsolicited mDNS answer announcing made-up devices first..last-1 (ttl 0: goodbye)."""
    out = DNSOutgoing(_FLAGS_QR_RESPONSE | _FLAGS_AA)
    for i in range(first, last):
        name = f"flood-{i:03d}"
        info = AsyncServiceInfo(
            DEVICE_SERVICE,
            f"{name}.{DEVICE_SERVICE}",
            addresses=[socket.inet_aton("127.0.0.1")],
            port=0,
            properties=DeviceAdvert(name, "watch", "Fake", (), False).properties(),
            server=f"{name}.local.",
            host_ttl=ttl,
            other_ttl=ttl,
        )
        for record in (info.dns_pointer(), info.dns_service(), info.dns_text()):
            out.add_answer_at_time(record, 0)
        for record in info.dns_addresses():
            out.add_answer_at_time(record, 0)
    return out


def test_a_flood_of_made_up_adverts_cannot_grow_the_device_table(mdns_hub: HubProcess) -> None:
    count = MAX_DISCOVERED + 44
    most = 0

    async def advertised() -> set[str]:
        nonlocal most
        async with api(mdns_hub) as client:
            devices = (await client.get("/v1/devices")).json()["data"]
        with_advert = {d["id"] for d in devices if d["mdns"]}
        most = max(most, len(with_advert))
        return with_advert

    async def scenario() -> None:
        attacker = AsyncZeroconf(interfaces=LOOPBACK)
        await attacker.zeroconf.async_wait_for_start()
        try:
            for first in range(0, count, 50):  # each packet's lookups done before the next
                last = min(first + 50, count)
                attacker.zeroconf.async_send(flood_packet(first, last, 120))
                async with asyncio.timeout(30):
                    while f"flood-{last - 1:03d}" not in await advertised():
                        await asyncio.sleep(0.1)
            listed = await advertised()
            assert most <= MAX_DISCOVERED == len(listed)
            # The oldest were forgotten to make room; the newest are all listed.
            assert "flood-000" not in listed
            assert {f"flood-{i:03d}" for i in range(count - 50, count)} <= listed
        finally:
            attacker.zeroconf.async_send(flood_packet(0, count, 0))
            await attacker.async_close()

    asyncio.run(asyncio.wait_for(scenario(), 120))


def address_flood(first: int, last: int, ttl: int) -> DNSOutgoing:
    """One unsolicited mDNS answer with made-up host addresses first..last-1 (ttl 0: goodbye)."""
    out = DNSOutgoing(_FLAGS_QR_RESPONSE | _FLAGS_AA)
    for i in range(first, last):
        address = socket.inet_aton(f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}")
        out.add_answer_at_time(DNSAddress(f"flood-{i}.local.", _TYPE_A, _CLASS_IN, ttl, address), 0)
    return out


def test_a_flood_of_made_up_records_cannot_grow_discoverys_cache_and_devices_are_still_found() -> (
    None
):
    # Every record a LAN peer multicasts is cached by the zeroconf instance discovery opens
    # (open_zeroconf); zeroconf bounds that cache since 0.149.7, the floor in pyproject.toml.
    count = _MAX_CACHE_RECORDS + 2_000
    seen: list[str] = []

    def cached(zeroconf: AsyncZeroconf) -> int:
        return sum(len(records) for records in zeroconf.zeroconf.cache.cache.values())

    async def scenario() -> None:
        listener = open_zeroconf(LOOPBACK)
        attacker = AsyncZeroconf(interfaces=LOOPBACK)
        browser = DeviceBrowser(LOOPBACK, lambda name, advert: seen.append(name), lambda _: None)
        device = Advertiser(LOOPBACK)
        await asyncio.gather(
            listener.zeroconf.async_wait_for_start(), attacker.zeroconf.async_wait_for_start()
        )
        try:
            for first in range(0, count, 200):
                attacker.zeroconf.async_send(address_flood(first, min(first + 200, count), 4500))
                await asyncio.sleep(0.01)
            async with asyncio.timeout(30):  # every record arrived: the cache is full
                while f"flood-{count - 1}.local." not in listener.zeroconf.cache.cache:
                    await asyncio.sleep(0.1)
            assert cached(listener) <= _MAX_CACHE_RECORDS
            advert = DeviceAdvert("after-flood", "watch", "Fake", (), False).properties()
            await device.publish(DEVICE_SERVICE, "after-flood", "127.0.0.1", 9, advert)
            async with asyncio.timeout(30):
                while not any(name.startswith("after-flood") for name in seen):
                    await asyncio.sleep(0.1)
        finally:
            attacker.zeroconf.async_send(address_flood(0, count, 0))
            await device.close()
            await browser.close()
            await asyncio.gather(listener.async_close(), attacker.async_close())

    asyncio.run(asyncio.wait_for(scenario(), 90))
