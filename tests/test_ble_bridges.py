"""Bluetooth LE bridges on the hub, with a fake radio: `hub bridges ble scan|add` through the
real CLI, readings stored once in devices.db, Omi audio handed to the speech pipeline as 16 kHz
audio frames, and a revoked bridge's connection closed."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from devices.ble.bleak_backend import BleUnavailableError, ExplainedBleakClient
from devices.ble.connection import GattClient
from devices.ble.scan import Advert
from devices.media import MediaFrame
from devices.perception.speech_to_text import Transcription
from hub.api.app import create_app
from hub.bridges.ble import BleBridges, add_ble_bridge, working_ble_bridges
from hub.bridges.service import BridgeService
from hub.bridges.store import BridgeStore
from hub.cli import bridges_ble
from hub.cli.main import app as cli
from hub.settings import Settings
from hub.voice.audio_pipeline import AudioPipeline
from hub.voice.transcripts import TranscriptKeeper
from hub.wearables.service import DeviceService
from hub.wearables.store import DeviceStore, SampleQuery
from memory.fake_embedder import HashingEmbedder
from tests.ble_fakes import FakeRadio, Visit
from tests.fakes import FakeChatModel

STRAP = "C8:FD:19:4A:0B:21"
PENDANT = "D4:11:AB:60:2E:07"
HR = "0000180d-0000-1000-8000-00805f9b34fb"


def test_add_records_a_bridge_with_its_address(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "bridges",
            "ble",
            "add",
            STRAP.lower(),
            "--name",
            "Polar H10",
            "--data-dir",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    device_id = result.stdout.strip()
    assert device_id.startswith("ble-heart-rate-")
    assert "HUB_BLE_ENABLED=true" in result.stderr
    omi = CliRunner().invoke(
        cli, ["bridges", "ble", "add", PENDANT, "--kind", "omi", "--data-dir", str(tmp_path)]
    )
    assert omi.exit_code == 0, omi.output
    devices = DeviceStore.open(tmp_path)
    try:
        found = {
            b.record.id: (b.record.kind, b.record.name, b.address)
            for b in working_ble_bridges(BridgeStore(devices))
        }
    finally:
        devices.close()
    assert found[device_id] == ("ble-heart-rate", "Polar H10", STRAP)
    assert found[omi.stdout.strip()] == ("omi-ble", f"omi {PENDANT}", PENDANT)
    listed = CliRunner().invoke(cli, ["bridges", "list", "--data-dir", str(tmp_path)])
    assert "Polar H10" in listed.stdout


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["not-an-address"], 1, "is not a Bluetooth address"),
        (["C8:FD:19:4A:0B"], 1, "hub bridges ble scan"),
        ([STRAP, "--kind", "garmin"], 2, "heart-rate, omi"),
    ],
)
def test_add_refuses_a_bad_address_or_kind_saying_what_fits(
    tmp_path: Path, args: list[str], code: int, says: str
) -> None:
    result = CliRunner().invoke(cli, ["bridges", "ble", "add", *args, "--data-dir", str(tmp_path)])
    assert result.exit_code == code
    assert says in " ".join(result.stderr.split())


def test_scan_lists_heart_rate_devices_and_omi_pendants(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def radio(seconds: float) -> list[Advert]:
        return [
            Advert(STRAP, "Polar H10 7A1B2C", -61, (HR,)),
            Advert("11:22:33:44:55:66", "TV", -40, ()),
            Advert(PENDANT, "Omi", -72, ()),
        ]

    monkeypatch.setattr(bridges_ble, "bleak_scan", radio)
    result = CliRunner().invoke(cli, ["bridges", "ble", "scan", "--seconds", "2"])
    assert result.exit_code == 0, result.output
    assert STRAP in result.stdout and PENDANT in result.stdout
    assert "11:22:33:44:55:66" not in result.stdout
    assert f"hub bridges ble add {STRAP} --kind heart-rate" in result.stderr


def test_scan_without_a_radio_says_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    async def no_radio(seconds: float) -> list[Advert]:
        raise BleUnavailableError("cannot scan for Bluetooth LE devices: no adapter")

    monkeypatch.setattr(bridges_ble, "bleak_scan", no_radio)
    result = CliRunner().invoke(cli, ["bridges", "ble", "scan"])
    assert result.exit_code == 1
    assert "no adapter" in result.stderr


class HeardAudio:
    """Stands in for the speech pipeline: the audio frames it was handed."""

    def __init__(self) -> None:
        self.frames: list[tuple[str, MediaFrame]] = []

    def frames_stored(self, device_id: str, frames: Sequence[object]) -> None:
        self.frames += [(device_id, f) for f in frames if isinstance(f, MediaFrame)]


async def until(done: Callable[[], bool]) -> None:
    while not done():
        await asyncio.sleep(0.01)


def omi_notifications(pcm: bytes) -> list[bytes]:
    out = []
    for n, at in enumerate(range(0, len(pcm), 200)):
        out.append(bytes([n & 0xFF, n >> 8, 0]) + pcm[at : at + 200])
    return out


def test_the_hub_keeps_ble_bridges_connected_and_stops_a_revoked_one(tmp_path: Path) -> None:
    pcm = (np.sin(np.arange(16000) / 7) * 4000).astype("<i2").tobytes()
    radios = {
        STRAP: FakeRadio(
            [Visit(sends=[bytes([0x16, 0x48, 0x00, 0x04]), bytes([0x06, 0x4A])], stays=True)]
        ),
        PENDANT: FakeRadio([Visit(sends=omi_notifications(pcm))], codec=b"\x00"),
    }

    def connect(address: str, dropped: Callable[[object], None]) -> GattClient:
        return radios[address].client(address, dropped)

    async def scenario() -> None:
        devices = DeviceService.open(tmp_path)
        bridges = BridgeService(devices)
        strap = await asyncio.to_thread(add_ble_bridge, bridges.store, "heart-rate", "", STRAP)
        pendant = await asyncio.to_thread(add_ble_bridge, bridges.store, "omi", "", PENDANT)
        audio = HeardAudio()
        service = BleBridges(bridges, audio, connect, refresh_seconds=0.05)
        await service.begin()
        try:
            await asyncio.wait_for(
                until(lambda: sum(len(f.payload) for _, f in audio.frames) >= len(pcm)), 10
            )
            query = SampleQuery(strap.record.id, limit=10)
            await asyncio.wait_for(until(lambda: len(devices.store.samples(query)) == 3), 10)
            stored = devices.store.samples(query)
            assert sorted((s.kind, s.v) for s in stored) == [
                ("heart_rate", 72.0),
                ("heart_rate", 74.0),
                ("rr_interval", 1000.0),
            ]
            assert {d for d, _ in audio.frames} == {pendant.record.id}
            assert b"".join(f.payload for _, f in audio.frames) == pcm
            assert all(f.type == "audio" and f.sample_rate == 16000 for _, f in audio.frames)

            await asyncio.to_thread(devices.store.revoke, strap.record.id)
            await asyncio.wait_for(until(lambda: strap.record.id not in service.loops), 10)
            assert radios[STRAP].clients[0].disconnect_calls >= 1
            assert pendant.record.id in service.loops
        finally:
            await service.stop()
            await devices.close()
        assert service.loops == {}

    asyncio.run(scenario())


class ScriptedWhisper:
    """Stands in for the speech engines: one text per utterance."""

    def __init__(self, *texts: str) -> None:
        self.texts = list(texts)

    def transcribe(self, pcm: bytes, prompt: str | None = None, urgent: bool = False) -> Any:
        return Transcription(self.texts.pop(0), (), "en", len(pcm) / 32000)


def test_an_omi_pendants_speech_becomes_a_transcript_in_the_speech_pipeline(
    tmp_path: Path,
) -> None:
    quiet = b"\0" * 32000
    spoken = (np.sin(np.arange(24000) / 3) * 9000).astype("<i2").tobytes()  # 1.5 s
    radio = FakeRadio([Visit(sends=omi_notifications(quiet + spoken + quiet), stays=True)])
    pipeline = AudioPipeline(
        ScriptedWhisper("We need bread and coffee."),  # type: ignore[arg-type]
        TranscriptKeeper(None),
        lambda heard: None,
        "hey hub",
        detector_factory=lambda: lambda chunk: 1.0,  # anything not quiet is speech
    )

    async def scenario() -> None:
        devices = DeviceService.open(tmp_path)
        bridges = BridgeService(devices)
        pendant = await asyncio.to_thread(add_ble_bridge, bridges.store, "omi", "", PENDANT)
        service = BleBridges(bridges, pipeline, radio.client)
        pipeline.start()
        await service.begin()
        try:
            await asyncio.wait_for(until(lambda: bool(pipeline.heard)), 30)
        finally:
            await service.stop()
            await asyncio.to_thread(pipeline.close)
            await devices.close()
        heard = pipeline.heard[0]
        assert heard.source == pendant.record.id
        assert heard.transcription.text == "We need bread and coffee."
        assert heard.request is None  # talk, not a request to the assistant
        assert 1.0 < heard.utterance.end - heard.utterance.start < 2.5

    asyncio.run(scenario())


def test_a_hub_with_ble_on_and_no_radio_runs_and_says_why_it_cannot_connect(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    devices = DeviceStore.open(tmp_path)
    add_ble_bridge(BridgeStore(devices), "heart-rate", "strap", STRAP)
    devices.close()
    settings = Settings(
        data_dir=tmp_path,
        personalize_enabled=False,
        voice_enabled=False,
        mdns_enabled=False,
        ble_enabled=True,
    )
    app = create_app(settings, loader=lambda name: FakeChatModel(), embedder=HashingEmbedder())
    caplog.set_level(logging.INFO, logger="devices.ble.connection")
    with TestClient(app) as client:
        token = (tmp_path / "owner_token").read_text().strip()
        answer = client.get("/v1/bridges", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200
        asyncio.run(asyncio.wait_for(until(lambda: "could not connect" in caplog.text), 30))
    assert f"{STRAP}: could not connect" in caplog.text  # and the hub stopped cleanly


def test_a_machine_without_bluetooth_is_named_as_the_reason_a_connect_fails() -> None:
    class NoBluez:
        address = STRAP

        async def connect(self) -> None:
            raise FileNotFoundError(2, "No such file or directory")  # no system D-Bus socket

    client = ExplainedBleakClient(NoBluez())  # type: ignore[arg-type]
    with pytest.raises(BleUnavailableError, match="bluetoothd"):
        asyncio.run(client.connect())
