"""Wyoming against a real hub on loopback: a simulated satellite found on mDNS is ignored until
approved, then driven through a spoken request and reply; the hub's own speech service."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.event import Event
from wyoming.info import Describe, Info
from wyoming.pipeline import PipelineStage
from wyoming.tts import Synthesize

from devices.perception.pcm import read_wav, wav_bytes
from devices.perception.speech import EspeakSynthesizer
from hub.cli.main import app
from tests.devices_support import api
from tests.hub_process import HubProcess, free_port
from tests.voice_support import speech_in, start_voice_hub, wait_for_memory
from tests.wyoming_satellite import SatelliteScript, SimulatedSatellite

WYOMING_PORT = free_port()


@pytest.fixture(scope="module")
def wyoming_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    process = start_voice_hub(
        tmp_path_factory.mktemp("wyoming") / "data", HUB_WYOMING_SERVER_PORT=str(WYOMING_PORT)
    )
    yield process
    process.stop()


def run(scenario, timeout: float = 120) -> None:  # type: ignore[no-untyped-def]
    asyncio.run(asyncio.wait_for(scenario(), timeout))


async def satellites(hub: HubProcess) -> dict[str, dict[str, Any]]:
    async with api(hub) as http:
        answer = await http.get("/v1/voice/satellites")
        assert answer.status_code == 200, answer.text
        return {row["id"]: row for row in answer.json()["data"]}


async def poll(check, timeout: float = 30, what: str = "") -> Any:  # type: ignore[no-untyped-def]
    try:
        async with asyncio.timeout(timeout):
            while True:
                found = await check()
                if found:
                    return found
                await asyncio.sleep(0.2)
    except TimeoutError as exc:
        raise AssertionError(f"timed out waiting for {what}") from exc


def cli(hub: HubProcess, *args: str) -> str:
    """Run a `hub` command against the test hub; its output."""
    port = hub.base_url.rsplit(":", 1)[1]
    result = CliRunner().invoke(
        app, [*args, "--data-dir", str(hub.data_dir)], env={"HUB_PORT": port}
    )
    assert result.exit_code == 0, result.output
    return result.output


def speech(text: str) -> bytes:
    voice = EspeakSynthesizer(words_per_minute=150)
    silence = b"\0" * 16000
    return silence + voice.synthesize(text) + silence * 3


def test_a_satellite_is_heard_only_once_approved_and_gets_a_spoken_answer(
    wyoming_hub: HubProcess,
) -> None:
    async def scenario() -> None:
        script = SatelliteScript(speech("Hey hub, what do we need from the shop?"))
        satellite = SimulatedSatellite(script, free_port())
        await satellite.start()
        try:
            found = await poll(
                lambda: _has(wyoming_hub, "test-kitchen"), what="the satellite on mDNS"
            )
            assert found["status"] == "discovered" and found["port"] == satellite.port
            await asyncio.sleep(1.0)
            assert script.connections == 0  # never dialed before the person approves it

            async with api(wyoming_hub) as http:
                missing = await http.post("/v1/voice/satellites/nope/approve")
                assert missing.status_code == 404
                assert "hub voice satellites" in missing.json()["error"]["message"]
            listed = await asyncio.to_thread(cli, wyoming_hub, "voice", "satellites", "--json")
            assert [row["status"] for row in json.loads(listed) if row["id"] == "test-kitchen"] == [
                "discovered"
            ]
            approved = await asyncio.to_thread(cli, wyoming_hub, "voice", "approve", "test-kitchen")
            assert "approved test-kitchen" in approved

            await asyncio.wait_for(script.run_satellite.wait(), 20)
            await asyncio.wait_for(script.reply_done.wait(), 90)
            kinds = [event.type for event in script.received]
            assert kinds[0] == "run-satellite"
            assert "detection" in kinds and "transcript" in kinds
            assert kinds.index("detection") < kinds.index("transcript") < kinds.index("audio-start")
            said = Transcript.from_event(script.of_type("transcript")[0]).text
            assert "shop" in said.lower()
            assert script.of_type("synthesize")
            assert script.of_type("pong")  # the satellite's ping was answered
            reply = script.reply_audio()
            assert speech_in(reply) > 0.3
            kept = await wait_for_memory(wyoming_hub, "transcript", ("shop",))
            assert kept["metadata"]["via"] == "wyoming"
            assert kept["metadata"]["device_id"] == "test-kitchen"
            state = await poll(
                lambda: _played(wyoming_hub, "test-kitchen"), what="played noted by the hub"
            )
            assert state["connected"] and state["requests"] == 1

            # The satellite restarts: the hub reconnects on its own.
            await satellite.stop()
            await asyncio.wait_for(script.disconnected.wait(), 10)
            script.run_satellite.clear()
            satellite = SimulatedSatellite(script, satellite.port)
            await satellite.start(advertise=False)
            await asyncio.wait_for(script.run_satellite.wait(), 30)
            assert script.connections == 2

            # Revoked: the hub hangs up at once and stays away.
            script.disconnected.clear()
            async with api(wyoming_hub) as http:
                revoked = await http.post("/v1/voice/satellites/test-kitchen/revoke")
                assert revoked.json()["status"] == "revoked"
            await asyncio.wait_for(script.disconnected.wait(), 10)
            await asyncio.sleep(2.0)
            assert script.connections == 2
        finally:
            await satellite.stop()

    run(scenario, timeout=180)


async def _has(hub: HubProcess, satellite_id: str) -> dict[str, Any] | None:
    return (await satellites(hub)).get(satellite_id)


async def _played(hub: HubProcess, satellite_id: str) -> dict[str, Any] | None:
    row = (await satellites(hub)).get(satellite_id)
    return row if row and row["played"] >= 1 else None


def test_a_satellite_added_by_address_asks_without_a_wake_word(wyoming_hub: HubProcess) -> None:
    async def scenario() -> None:
        script = SatelliteScript(
            speech("What do we need from the shop?"),
            start_stage=PipelineStage.ASR,
            rate=22050,
            stop_after_speech=True,
        )
        satellite = SimulatedSatellite(script, free_port(), name="test-desk")
        await satellite.start(advertise=False)
        try:
            async with api(wyoming_hub) as http:
                added = await http.post(
                    "/v1/voice/satellites", json={"host": "127.0.0.1", "port": satellite.port}
                )
                assert added.status_code == 200, added.text
                assert added.json()["status"] == "approved"
            await asyncio.wait_for(script.reply_done.wait(), 90)
            kinds = [event.type for event in script.received]
            assert "detection" not in kinds
            said = Transcript.from_event(script.of_type("transcript")[0]).text
            assert "shop" in said.lower()
            assert speech_in(script.reply_audio()) > 0.3
        finally:
            await satellite.stop()

    run(scenario)


def test_the_hub_serves_its_speech_to_text_and_voice_over_wyoming(
    wyoming_hub: HubProcess,
) -> None:
    async def scenario() -> None:
        async with AsyncTcpClient("127.0.0.1", WYOMING_PORT) as client:
            await client.write_event(Describe().event())
            event = await asyncio.wait_for(client.read_event(), 10)
            assert event is not None and Info.is_type(event.type)
            info = Info.from_event(event)
            assert info.asr and info.tts and info.asr[0].models[0].languages == ["en"]

            await client.write_event(
                Synthesize(text="I left my keys in the blue drawer next to the fridge.").event()
            )
            audio = b""
            while True:
                event = await asyncio.wait_for(client.read_event(), 20)
                assert event is not None
                if AudioStart.is_type(event.type):
                    assert AudioStart.from_event(event).rate == 16000
                if AudioChunk.is_type(event.type):
                    audio += AudioChunk.from_event(event).audio
                if AudioStop.is_type(event.type):
                    break
            assert speech_in(audio) > 0.5

            # What it said, heard back through its own speech-to-text.
            await client.write_event(Transcribe(language="en").event())
            await client.write_event(AudioStart(rate=16000, width=2, channels=1).event())
            for offset in range(0, len(audio), 4096):
                chunk = AudioChunk(
                    rate=16000, width=2, channels=1, audio=audio[offset : offset + 4096]
                )
                await client.write_event(chunk.event())
            await client.write_event(AudioStop().event())
            while True:
                event = await asyncio.wait_for(client.read_event(), 30)
                assert event is not None
                if Transcript.is_type(event.type):
                    break
            assert "fridge" in Transcript.from_event(event).text.lower()

            # A malformed event gets an error, and the service goes on.
            await client.write_event(Event(type="synthesize", data={"voice": 3}))
            event = await asyncio.wait_for(client.read_event(), 10)
            assert event is not None and event.type == "error"
            assert "synthesize" in event.data["text"]
            await client.write_event(Describe().event())
            event = await asyncio.wait_for(client.read_event(), 10)
            assert event is not None and Info.is_type(event.type)

    run(scenario)


def test_voice_endpoints_transcribe_speak_and_refuse_bad_input(wyoming_hub: HubProcess) -> None:
    async def scenario() -> None:
        pcm = EspeakSynthesizer(words_per_minute=150).synthesize(
            "The dentist moved my appointment to Thursday afternoon."
        )
        async with api(wyoming_hub) as http:
            heard = await http.post("/v1/voice/transcriptions", content=wav_bytes(pcm))
            assert heard.status_code == 200, heard.text
            body = heard.json()
            assert "dentist" in body["text"].lower()
            assert body["words"] and body["words"][0]["end"] > body["words"][0]["start"] >= 0
            spoken = await http.post("/v1/voice/speech", json={"text": "Good night."})
            assert spoken.headers["content-type"] == "audio/wav"
            audio, rate = read_wav(spoken.content)
            assert rate == 16000 and speech_in(audio) > 0.3

            for content, fix in (
                (b"not a wav file", "WAV"),
                (wav_bytes(pcm, rate=8000), "16000 Hz"),
            ):
                refused = await http.post("/v1/voice/transcriptions", content=content)
                assert refused.status_code == 400, refused.text
                assert fix in refused.json()["error"]["message"]
            for payload in ({"text": ""}, {"text": "x" * 5000}, {"words": "hi"}):
                refused = await http.post("/v1/voice/speech", json=payload)
                assert 400 <= refused.status_code < 500, refused.text
            bad_address = {"host": "bad host!", "port": 70000}
            refused = await http.post("/v1/voice/satellites", json=bad_address)
            assert 400 <= refused.status_code < 500
        async with httpx.AsyncClient(base_url=wyoming_hub.base_url) as anonymous:
            assert (await anonymous.get("/v1/voice/status")).status_code == 401
            assert (await anonymous.get("/v1/voice/satellites")).status_code == 401

    run(scenario)
