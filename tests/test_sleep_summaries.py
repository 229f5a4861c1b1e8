"""Sleep summaries: sleep_stage minutes become one sensor_summary memory per night or nap.

Checked exactly on real SQLite stores (devices.db, memory.db) with the hashing test embedder, in
a time zone away from UTC and in one whose clocks go back during the night; the last test
imports an Apple Health export through the API and asks how the night went.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from devices.samples import Sample
from devices.sensor_kinds import SLEEP_STAGE_CODES
from hub.api.app import create_app
from hub.settings import Settings
from hub.summaries.sleep import SLEEP_OVER_S
from hub.summaries.summarize import summarize_device
from hub.summaries.worker import SensorSummaryWorker
from memory.fake_embedder import HashingEmbedder
from memory.types import MemoryItem
from tests.fakes import FakeChatModel
from tests.imports_support import apple_record, write_apple_export
from tests.test_sensor_summaries import ZONE, ZONE_NAME, Stores, at, batches, by_summary

CODES = SLEEP_STAGE_CODES
THURSDAY, FRIDAY = (2026, 11, 19), (2026, 11, 20)

# The night of Thursday 19 November, as a watch tells it: (minutes, stage) from 23:40.
HYPNOGRAM = [
    (60, "light"), (65, "deep"), (90, "light"), (50, "rem"), (10, "awake"),
    (60, "light"), (50, "rem"), (8, "awake"), (52, "light"),
]  # fmt: skip


def zone_fixture(monkeypatch: pytest.MonkeyPatch, name: str) -> Iterator[None]:
    monkeypatch.setenv("TZ", name)
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def sao_paulo(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The hub's local zone is UTC-3 (no daylight saving) for the test."""
    yield from zone_fixture(monkeypatch, ZONE_NAME)


@pytest.fixture
def stores(tmp_path: Path, sao_paulo: None) -> Iterator[Stores]:
    opened = Stores(tmp_path)
    yield opened
    opened.close()


def stage_samples(start: float, spans: list[tuple[int, str]], offset: float = 0.0) -> list[Sample]:
    """One sleep_stage sample a minute, ``offset`` seconds into it, for each (minutes, stage)."""
    samples, t = [], start
    for length, stage in spans:
        for _ in range(length):
            samples.append(Sample("sleep_stage", t + offset, float(CODES[stage])))
            t += 60
    return samples


def the_night() -> list[Sample]:
    """The watch's stages from 23:40 to 07:05, under a phone's in-bed from 23:25 (the phone
    writes its minutes 30 s in, so most minutes hold both: the told stage wins)."""
    watch = stage_samples(at(23, 40, THURSDAY), HYPNOGRAM)
    phone = stage_samples(at(23, 25, THURSDAY), [(460, "in_bed")], offset=30)
    return sorted(watch + phone, key=lambda s: s.t)


def sleeps(stores: Stores) -> list[MemoryItem]:
    return by_summary(stores.summaries(), "sleep")


def test_a_night_of_stages_is_one_memory_with_its_times_and_stages(stores: Stores) -> None:
    stores.devices.commit("cgm-1", batches(the_night(), size=200))
    stores.summarize()
    (night,) = sleeps(stores)
    assert (night.kind, night.source) == ("sensor_summary", "device")
    assert night.text == (
        "Sleep on the night of Thursday 19 November: 7 h 7 min asleep from 23:40 to 07:05, in "
        "bed from 23:25 to 07:05 (7 h 40 min); deep 1 h 5 min, REM 1 h 40 min, light 4 h 22 "
        "min, awake 18 min. Device: cgm-1."
    )
    assert datetime.fromisoformat(night.happened_at).timestamp() == at(23, 40, THURSDAY)
    meta = night.metadata
    assert (meta["start"], meta["end"]) == (at(23, 40, THURSDAY), at(7, 5, FRIDAY))
    assert (meta["in_bed_from"], meta["in_bed_until"]) == (at(23, 25, THURSDAY), at(7, 5, FRIDAY))
    assert (meta["minutes_asleep"], meta["minutes_in_bed"], meta["nap"]) == (427, 460, False)
    assert meta["stages"] == {"awake": 18, "rem": 100, "light": 262, "deep": 65, "asleep": 0}
    assert meta["key"] == f"cgm-1/sleep/{int(at(23, 40, THURSDAY))}"


def test_a_fragmented_night_is_one_session_and_a_doze_is_none(stores: Stores) -> None:
    # Asleep (no stages told) from 00:00, 20 minutes without data, woken 10 minutes, then
    # 45 minutes without data before a 15-minute doze: too short to tell.
    night = stage_samples(at(0, 0), [(120, "asleep")])
    night += stage_samples(at(2, 20), [(100, "asleep"), (10, "awake"), (110, "asleep")])
    night += stage_samples(at(6, 45), [(15, "asleep")])
    stores.devices.commit("cgm-1", batches(night, size=200))
    stores.summarize()
    (one,) = sleeps(stores)
    assert one.text == (
        "Sleep on the night of Thursday 19 November: 5 h 30 min asleep from 00:00 to 06:00, "
        "in bed from 00:00 to 06:00 (6 h). Device: cgm-1."
    )
    assert one.metadata["stages"] == {"asleep": 330}


def test_a_nap_is_told_as_a_nap(stores: Stores) -> None:
    nap = stage_samples(at(14, 0), [(10, "in_bed"), (35, "light"), (5, "in_bed")])
    nap += stage_samples(at(16, 0), [(10, "asleep")])  # a 10-minute doze: nothing to tell
    stores.devices.commit("cgm-1", batches(nap, size=200))
    stores.summarize()
    (one,) = sleeps(stores)
    assert one.text == (
        "A nap on Friday 20 November after lunch time: 35 min of sleep from 14:10 to 14:45, "
        "in bed from 14:00 to 14:50 (50 min); light 35 min. Device: cgm-1."
    )
    assert (one.metadata["nap"], one.metadata["minutes_asleep"]) == (True, 35)


def test_a_night_not_over_yet_waits_and_is_told_once(stores: Stores) -> None:
    samples = the_night()
    until_five = [s for s in samples if s.t < at(5, 0, FRIDAY)]
    first = batches(until_five, size=200)
    stores.devices.commit("cgm-1", first)
    # At 05:10 the night may go on: nothing is told; the pass says when to look again.
    early = summarize_device(stores.ledger, stores.memory, "cgm-1", now=at(5, 10, FRIDAY))
    assert (early.stored, early.look_again_at) == (0, at(6, 0, FRIDAY))
    assert sleeps(stores) == []
    # The rest of the night, then a heart rate from 08:10: the device has moved on.
    rest = [s for s in samples if s.t >= at(5, 0, FRIDAY)]
    rest.append(Sample("heart_rate", at(8, 10, FRIDAY), 64.0))
    second = batches(rest, first_seq=100, size=200)
    stores.devices.commit("cgm-1", second)
    assert summarize_device(stores.ledger, stores.memory, "cgm-1", now=at(8, 11, FRIDAY)).stored
    (night,) = sleeps(stores)
    assert "7 h 7 min asleep from 23:40 to 07:05" in night.text

    # Passes, a resend, a lost mark and a restart tell it no second time.
    assert stores.devices.commit_new("cgm-1", first + second)[1] == []
    stores.summarize()
    stores.ledger.save_marks("cgm-1", 0.0, 0.0)
    stores.close()
    stores.open()
    stores.summarize()
    assert len(sleeps(stores)) == 1


def test_sleep_written_after_the_night_is_still_told(stores: Stores) -> None:
    # A phone app sends heart rates as they come, and the night's stages only after waking.
    heart = [Sample("heart_rate", at(22, 0, THURSDAY) + 300 * i, 60.0) for i in range(130)]
    stores.devices.commit("cgm-1", batches(heart))
    stores.summarize()
    assert stores.ledger.marks("cgm-1")[0] > at(7, 5, FRIDAY)  # the events mark moved past it
    stores.devices.commit("cgm-1", batches(the_night(), first_seq=50, size=200))
    stores.summarize()
    (night,) = sleeps(stores)
    assert night.metadata["start"] == at(23, 40, THURSDAY)
    stores.summarize()
    assert len(sleeps(stores)) == 1


def test_the_worker_looks_again_when_a_night_sent_alone_is_over(stores: Stores) -> None:
    # A source that sends nothing but sleep: the night is over an hour after its last minute,
    # about two seconds from now, and nothing more comes to wake the worker.
    end = time.time() - SLEEP_OVER_S + 2
    night = stage_samples(end - 3 * 3600, [(180, "asleep")])
    stores.devices.commit("cgm-1", batches(night, size=200))

    async def scenario() -> None:
        worker = SensorSummaryWorker(stores.ledger, stores.memory, settle_s=0.05)
        task = asyncio.create_task(worker.run())
        try:
            async with asyncio.timeout(30):
                while not sleeps(stores):
                    await asyncio.sleep(0.1)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            worker.forget_timers()

    asyncio.run(scenario())
    (night_told,) = sleeps(stores)
    assert night_told.metadata["minutes_asleep"] == 180


@pytest.fixture
def berlin(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The hub's local zone is Europe/Berlin, whose clocks go back at 03:00 on 25 October."""
    yield from zone_fixture(monkeypatch, "Europe/Berlin")


def test_the_night_the_clocks_go_back_is_an_hour_longer(tmp_path: Path, berlin: None) -> None:
    zone = ZoneInfo("Europe/Berlin")
    start = datetime(2026, 10, 24, 23, 0, tzinfo=zone).timestamp()
    opened = Stores(tmp_path)
    try:
        opened.devices.commit("cgm-1", batches(stage_samples(start, [(540, "asleep")]), size=200))
        opened.summarize()
        (night,) = sleeps(opened)
    finally:
        opened.close()
    assert night.text == (
        "Sleep on the night of Saturday 24 October: 9 h asleep from 23:00 to 07:00, in bed "
        "from 23:00 to 07:00 (9 h). Device: cgm-1."
    )
    assert night.metadata["end"] == datetime(2026, 10, 25, 7, 0, tzinfo=zone).timestamp()


# ----- end to end: an Apple Health export uploaded to the hub's API -------------------------

SLEEP = "HKCategoryTypeIdentifierSleepAnalysis"
APPLE_STAGES = {
    "light": "HKCategoryValueSleepAnalysisAsleepCore",
    "deep": "HKCategoryValueSleepAnalysisAsleepDeep",
    "rem": "HKCategoryValueSleepAnalysisAsleepREM",
    "awake": "HKCategoryValueSleepAnalysisAwake",
}


def apple_time(t: float) -> str:
    """Unix seconds as the export writes them, with the local offset."""
    return datetime.fromtimestamp(t, ZONE).strftime("%Y-%m-%d %H:%M:%S %z")


def apple_night() -> list[str]:
    """The night as the Health app exports it: the watch's stages and the phone's in-bed."""
    records = [
        apple_record(
            SLEEP,
            "HKCategoryValueSleepAnalysisInBed",
            apple_time(at(23, 25, THURSDAY) + 30),
            apple_time(at(7, 5, FRIDAY)),
            source="iPhone",
        )
    ]
    t = at(23, 40, THURSDAY)
    for minutes, stage in HYPNOGRAM:
        records.append(
            apple_record(SLEEP, APPLE_STAGES[stage], apple_time(t), apple_time(t + 60 * minutes))
        )
        t += 60 * minutes
    return records


@pytest.fixture
def api(tmp_path: Path, sao_paulo: None) -> Iterator[TestClient]:
    settings = Settings(
        data_dir=tmp_path / "data",
        personalize_enabled=False,
        voice_enabled=False,
        mdns_enabled=False,
    )
    app = create_app(settings, loader=lambda name: FakeChatModel(), embedder=HashingEmbedder())
    with TestClient(app) as client:
        token = (tmp_path / "data" / "owner_token").read_text().strip()
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


def settled(api: TestClient, path: str, done: Any, **params: Any) -> Any:
    """GET ``path`` until ``done`` holds for the answer (the test waits for what it settles to)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        answer = api.get(path, params=params).json()
        if done(answer):
            return answer
        time.sleep(0.1)
    raise AssertionError(f"{path} did not settle: {answer}")


def test_an_imported_apple_night_answers_how_did_i_sleep(api: TestClient, tmp_path: Path) -> None:
    body = write_apple_export(tmp_path / "export.zip", apple_night()).read_bytes()
    sent = api.post(
        "/v1/bridges/imports",
        params={"kind": "apple-health", "file_name": "export.zip"},
        content=body,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert sent.status_code == 202, sent.text
    job = settled(
        api, f"/v1/bridges/imports/{sent.json()['id']}", lambda j: j["state"] in ("done", "failed")
    )
    assert job["state"] == "done", job
    memories = settled(api, "/v1/memory", lambda a: a["data"], kind="sensor_summary", limit=100)[
        "data"
    ]
    (night,) = memories
    assert night["text"] == (
        "Sleep on the night of Thursday 19 November: 7 h 7 min asleep from 23:40 to 07:05, in "
        "bed from 23:25 to 07:05 (7 h 40 min); deep 1 h 5 min, REM 1 h 40 min, light 4 h 22 "
        "min, awake 18 min. Device: Apple Health export."
    )
    found = api.post("/v1/memory/search", json={"query": "how did I sleep", "k": 3}).json()
    assert found["results"][0]["id"] == night["id"]
