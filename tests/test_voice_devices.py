"""Voice and perception through simulated earbuds and glasses against a real hub on loopback:
eSpeak NG speech in, transcripts in memory, spoken replies out, printed text read from frames."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from devices.media import MediaFrame
from devices.perception.pcm import SAMPLE_RATE, float_to_pcm16, read_wav
from devices.perception.speech import EspeakSynthesizer
from devices.sim.earbuds import EarbudScript, send_audio
from devices.sim.glasses import GlassesCamera, camera_frame, render_text
from tests.conftest import DEFAULT_MODEL
from tests.devices_support import api, until
from tests.hub_process import HubProcess
from tests.voice_support import (
    linked_device,
    memories,
    speech_in,
    start_voice_hub,
    voice_status,
    wait_for_memory,
)


@pytest.fixture(scope="module")
def voice_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    process = start_voice_hub(tmp_path_factory.mktemp("voice") / "data")
    yield process
    process.stop()


@pytest.fixture(scope="module")
def voice() -> EspeakSynthesizer:
    return EspeakSynthesizer(words_per_minute=150)


def run(scenario, timeout: float = 120) -> None:  # type: ignore[no-untyped-def]
    asyncio.run(asyncio.wait_for(scenario(), timeout))


def assert_spoken(pcm: bytes) -> None:
    """Valid PCM16 audio that a voice detector takes for speech."""
    assert len(pcm) % 2 == 0 and len(pcm) > SAMPLE_RATE  # whole samples, over half a second
    assert speech_in(pcm) > 0.3


def test_earbud_speech_becomes_transcripts_and_a_spoken_answer(
    voice_hub: HubProcess, voice: EspeakSynthesizer, tmp_path: Path
) -> None:
    async def scenario() -> None:
        client, player, link = await linked_device(voice_hub, tmp_path, "buds-1", "earbuds")
        try:
            script = EarbudScript(
                (
                    "I left my keys in the blue drawer next to the fridge.",
                    "Hey hub, where did I leave my keys?",
                ),
                pause=1.5,
                voice=voice,
            )
            await send_audio(client, script.frames(time.time() - 30), speed=4.0)
            said = await wait_for_memory(voice_hub, "transcript", ("keys", "blue drawer", "fridge"))
            meta = said["metadata"]
            assert said["source"] == "device"
            assert meta["device_id"] == "buds-1" and meta["conversation_id"].startswith("conv_")
            words = [word for word, _, _ in meta["words"]]
            assert "key" in " ".join(words).lower()
            starts = [start for _, start, _ in meta["words"]]
            assert starts == sorted(starts) and meta["ended_at"] > meta["started_at"]
            await until(lambda: player.finished, timeout=180, what="a spoken reply")
            reply = player.finished[0]
            frames = player.replies[reply]
            assert any(frame.text for frame in frames)
            assert_spoken(player.audio(reply))
            # The request went to the chat with memory, which drew on the transcript ...
            status = await voice_status(voice_hub)
            asked = [r for r in status["recent_replies"] if "leave my keys" in r["request"].lower()]
            assert asked and said["id"] in asked[-1]["citations"], status["recent_replies"]
            assert asked[-1]["text"]
            # ... and, once answered, what was asked is kept too, marked as a request.
            asked_kept = await wait_for_memory(voice_hub, "transcript", ("leave my keys",))
            assert asked_kept["metadata"]["request"] is True
            assert said["metadata"]["request"] is False
        finally:
            link.cancel()
            await asyncio.gather(link, return_exceptions=True)

    run(scenario)


def test_push_to_talk_needs_no_wake_phrase(
    voice_hub: HubProcess, voice: EspeakSynthesizer, tmp_path: Path
) -> None:
    async def scenario() -> None:
        client, player, link = await linked_device(voice_hub, tmp_path, "buds-ptt", "earbuds")
        try:
            pcm = voice.synthesize("What do we need from the shop?")
            chunk = 3200
            t0 = time.time()
            pieces = [pcm[i : i + chunk] for i in range(0, len(pcm), chunk)]
            for index, piece in enumerate(pieces):
                talk = "end" if index == len(pieces) - 1 else "hold"
                t = t0 + index * 0.1
                await client.send_media(
                    lambda seq, t=t, piece=piece, talk=talk: MediaFrame(
                        "audio", seq, t, piece, talk=talk
                    )
                )
            await until(lambda: player.finished, timeout=180, what="a spoken reply")
            assert_spoken(player.audio(player.finished[0]))
            status = await voice_status(voice_hub)
            asked = [r for r in status["recent"] if r["device_id"] == "buds-ptt"]
            assert asked and "shop" in asked[0]["request"].lower()
            assert asked[0]["ended_by"] == "push_to_talk"
        finally:
            link.cancel()
            await asyncio.gather(link, return_exceptions=True)

    run(scenario)


def test_silence_and_noise_make_no_transcripts(voice_hub: HubProcess, tmp_path: Path) -> None:
    async def scenario() -> None:
        client, _, link = await linked_device(voice_hub, tmp_path, "buds-quiet", "earbuds")
        try:
            before = await voice_status(voice_hub)
            rng = np.random.default_rng(7)
            seconds = 3.0
            silence = b"\0" * int(seconds * SAMPLE_RATE * 2)
            hiss = float_to_pcm16(rng.normal(0, 0.1, int(seconds * SAMPLE_RATE)).astype(np.float32))
            hum_t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
            hum = float_to_pcm16((0.2 * np.sin(2 * np.pi * 120 * hum_t)).astype(np.float32))
            stream = silence + hiss + hum
            frames = (
                (time.time() + i / 32000, stream[i : i + 3200]) for i in range(0, len(stream), 3200)
            )
            await send_audio(client, iter(frames), speed=10.0)
            heard = before["audio"]["seconds_heard"] + 3 * seconds - 0.01

            async def processed() -> bool:
                return (await voice_status(voice_hub))["audio"]["seconds_heard"] >= heard

            async with asyncio.timeout(180):  # ends when done; generous for a busy host
                while not await processed():
                    await asyncio.sleep(0.1)
            await asyncio.sleep(2.0)  # past the stall timeout: an open utterance would end now
            after = await voice_status(voice_hub)
            assert after["audio"]["utterances"] == before["audio"]["utterances"]
            assert not [r for r in after["recent"] if r["device_id"] == "buds-quiet"]
        finally:
            link.cancel()
            await asyncio.gather(link, return_exceptions=True)

    run(scenario)


def test_a_stream_that_stops_mid_sentence_keeps_what_was_said(
    voice_hub: HubProcess, voice: EspeakSynthesizer, tmp_path: Path
) -> None:
    async def scenario() -> None:
        client, _, link = await linked_device(voice_hub, tmp_path, "buds-cut", "earbuds")
        try:
            pcm = voice.synthesize("The dentist moved my appointment to Thursday afternoon.")
            cut = pcm[: int(len(pcm) * 0.6) // 2 * 2]
            stream = b"\0" * 16000 + cut
            t0 = time.time() - 10
            frames = ((t0 + i / 32000, stream[i : i + 3200]) for i in range(0, len(stream), 3200))
            await send_audio(client, iter(frames), speed=5.0)
            link.cancel()  # the earbuds go away mid-sentence
            said = await wait_for_memory(voice_hub, "transcript", ("dentist",))
            assert said["metadata"]["device_id"] == "buds-cut"
            assert said["metadata"]["ended_by"] == "stream_end"
        finally:
            link.cancel()
            await asyncio.gather(link, return_exceptions=True)

    run(scenario)


def test_glasses_frames_become_image_text_without_duplicates(
    voice_hub: HubProcess, tmp_path: Path
) -> None:
    async def scenario() -> None:
        client, _, link = await linked_device(voice_hub, tmp_path, "glasses-1", "glasses")
        try:
            camera = GlassesCamera(
                (("Platform 4", "Lisbon 10:45"), ("Pharmacy", "Open until 8 pm")),
                frames_per_scene=3,
            )
            for _ in range(6):
                _, jpeg = camera.next_frame()
                t = time.time()
                await client.send_media(lambda seq, t=t, jpeg=jpeg: camera_frame(seq, t, jpeg))
                await asyncio.sleep(0.5)  # a frame every half second, as glasses would
            first = await wait_for_memory(voice_hub, "image_text", ("Platform 4", "Lisbon"))
            await wait_for_memory(voice_hub, "image_text", ("Pharmacy", "Open until"))
            assert first["metadata"]["device_id"] == "glasses-1"
            assert first["source"] == "device"

            async def settled(sent: int) -> dict[str, int]:
                async with asyncio.timeout(180):  # ends when done; generous for a busy host
                    while True:
                        counts: dict[str, int] = (await voice_status(voice_hub))["camera"]
                        done = counts["read"] + counts["same_scene"] + counts["superseded"]
                        if counts["frames"] >= sent and done + counts["failures"] >= sent:
                            return counts
                        await asyncio.sleep(0.2)

            def kept(items: list[dict[str, object]]) -> list[str]:
                return [
                    str(item["text"])
                    for item in items
                    if item["metadata"]["device_id"] == "glasses-1"  # type: ignore[index]
                ]

            counts = await settled(6)
            assert counts["failures"] == 0
            assert counts["same_scene"] + counts["same_text"] + counts["superseded"] >= 3
            assert len(kept(await memories(voice_hub, "image_text"))) == 2
            # The first sign seen again a moment later is not stored again.
            jpeg = render_text(("Platform 4", "Lisbon 10:45"), seed=99)
            await client.send_media(lambda seq: camera_frame(seq, time.time(), jpeg))
            await settled(7)
            assert len(kept(await memories(voice_hub, "image_text"))) == 2
        finally:
            link.cancel()
            await asyncio.gather(link, return_exceptions=True)

    run(scenario)


def test_earbuds_simulator_speaks_and_saves_the_spoken_reply(
    voice_hub: HubProcess, tmp_path: Path
) -> None:
    replies = tmp_path / "replies"
    sim = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "devices.sim",
            "earbuds",
            "--id",
            "sim-buds",
            "--hub",
            voice_hub.base_url,
            "--no-mdns",
            "--state",
            str(tmp_path / "sim"),
            "--speed",
            "4",
            "--say",
            "We need oat milk, bread and coffee beans.",
            "--say",
            "Hey hub, what do we need from the shop?",
            "--replies",
            str(replies),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )

    async def scenario() -> None:
        assert sim.stdout is not None
        line = await asyncio.to_thread(sim.stdout.readline)
        assert line.startswith("pairing code: "), line
        async with api(voice_hub) as http:
            answer = await http.post("/v1/devices/sim-buds/pair", json={"code": line.split()[2]})
            assert answer.status_code == 200, answer.text
        said = await wait_for_memory(voice_hub, "transcript", ("oat milk", "coffee"))
        assert said["metadata"]["device_id"] == "sim-buds"
        await until(lambda: list(replies.glob("*.wav")), timeout=90, what="a saved reply")
        audio, rate = read_wav(next(replies.glob("*.wav")).read_bytes())
        assert rate == SAMPLE_RATE
        assert_spoken(audio)
        printed = await asyncio.to_thread(sim.stdout.readline)
        assert printed.startswith("hub says: "), printed

    try:
        run(scenario)
    finally:
        sim.kill()
        sim.wait()


def test_a_spoken_request_is_answered_while_a_long_answer_streams(
    voice_hub: HubProcess, voice: EspeakSynthesizer, tmp_path: Path
) -> None:
    # The hub's default serves several requests at once: the person speaking is not kept
    # waiting for the end of an answer streaming to someone else.
    async def scenario() -> None:
        client, player, link = await linked_device(voice_hub, tmp_path, "buds-busy", "earbuds")
        streaming, ended = asyncio.Event(), asyncio.Event()

        async def long_answer() -> None:
            body = {
                "model": DEFAULT_MODEL,
                "prompt": "1, 2, 3, 4, 5, 6, 7, 8, 9, 10,",
                "max_tokens": 1500,
                "temperature": 0,
                "stream": True,
            }
            async with (
                api(voice_hub) as http,
                http.stream("POST", "/v1/completions", json=body, timeout=600) as answer,
            ):
                assert answer.status_code == 200
                async for _ in answer.aiter_lines():
                    streaming.set()
            ended.set()

        answering = asyncio.create_task(long_answer())
        try:
            await asyncio.wait_for(streaming.wait(), 120)
            pcm = voice.synthesize("What do we need from the shop?")
            pieces = [pcm[i : i + 3200] for i in range(0, len(pcm), 3200)]
            t0 = time.time()
            for index, piece in enumerate(pieces):
                talk = "end" if index == len(pieces) - 1 else "hold"
                await client.send_media(
                    lambda seq, t=t0 + index * 0.1, piece=piece, talk=talk: MediaFrame(
                        "audio", seq, t, piece, talk=talk
                    )
                )
            await until(lambda: player.finished or ended.is_set(), 240, "a reply or the end")
            # The whole spoken reply came while the long answer was still streaming.
            assert player.finished and not ended.is_set(), "the spoken reply waited"
            assert_spoken(player.audio(player.finished[0]))
        finally:
            answering.cancel()  # leaving the stream stops the long answer
            link.cancel()
            await asyncio.gather(answering, link, return_exceptions=True)

    run(scenario, timeout=280)
