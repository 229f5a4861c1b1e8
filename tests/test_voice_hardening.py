"""A hostile Wyoming peer and a flood of audio: formats that would blow up on conversion are
refused before converting, with an error that says what to send, and the service goes on;
transcription queues on its own thread, so other blocking work never waits behind it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable

import pytest
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.event import Event
from wyoming.info import Describe, Info

from devices.perception.speech import EspeakSynthesizer
from devices.perception.speech_to_text import Transcription
from hub.voice.engines import PerceptionEngines, SpeechBusyError
from hub.voice.wyoming_audio import AudioFormatError, check_room
from hub.voice.wyoming_server import SpeechServer, hub_info
from tests.hub_process import free_port

SECOND = 32_000  # bytes of 16 kHz 16-bit mono audio


def run(scenario: Callable[[], Awaitable[None]], timeout: float = 120) -> None:
    async def bounded() -> None:
        await asyncio.wait_for(scenario(), timeout)

    asyncio.run(bounded())


async def next_event(client: AsyncTcpClient) -> Event:
    event = await asyncio.wait_for(client.read_event(), 60)
    assert event is not None, "the speech service closed the connection"
    return event


async def send_audio(client: AsyncTcpClient, pcm: bytes, rate: int = 16000) -> None:
    await client.write_event(Transcribe(language="en").event())
    await client.write_event(AudioStart(rate=rate, width=2, channels=1).event())
    for offset in range(0, len(pcm), 4096):
        chunk = AudioChunk(rate=rate, width=2, channels=1, audio=pcm[offset : offset + 4096])
        await client.write_event(chunk.event())
    await client.write_event(AudioStop().event())


def test_sizes_are_checked_before_any_conversion() -> None:
    # 2 KB declared at 1 Hz would become 32 MB at 16 kHz: refused, whatever room is left.
    with pytest.raises(AudioFormatError, match="8000-48000 Hz"):
        check_room(AudioChunk(rate=1, width=2, channels=1, audio=b"\0" * 2048), 0, 10**9)
    with pytest.raises(AudioFormatError, match="width 2"):
        check_room(AudioChunk(rate=16000, width=4, channels=1, audio=b"\0" * 2048), 0, 10**9)
    with pytest.raises(AudioFormatError, match="mono"):
        check_room(AudioChunk(rate=16000, width=2, channels=9, audio=b"\0" * 18), 0, 10**9)
    with pytest.raises(AudioFormatError, match="whole samples"):
        check_room(AudioChunk(rate=16000, width=2, channels=2, audio=b"\0" * 6), 0, 10**9)
    with pytest.raises(AudioFormatError) as refused:
        check_room(AudioChunk(rate=8000, width=2, channels=1, audio=b"\0" * SECOND), SECOND, SECOND)
    assert refused.value.code == "too_long" and "HUB_WYOMING_MAX_AUDIO_BYTES" in str(refused.value)
    # 48 kHz stereo shrinks six-fold; 8 kHz mono doubles: counted, never under-counted.
    stereo = AudioChunk(rate=48000, width=2, channels=2, audio=b"\0" * 6 * SECOND)
    assert SECOND <= check_room(stereo, 0, 10 * SECOND) <= SECOND + 2
    narrow = AudioChunk(rate=8000, width=2, channels=1, audio=b"\0" * SECOND)
    assert 2 * SECOND <= check_room(narrow, 0, 10 * SECOND) <= 2 * SECOND + 2


def test_a_rate_1_chunk_gets_an_error_and_the_service_still_transcribes() -> None:
    engines = PerceptionEngines()
    speech = EspeakSynthesizer(words_per_minute=150).synthesize(
        "I left my keys in the blue drawer next to the fridge."
    )
    limit = len(speech) + 2 * SECOND

    async def scenario() -> None:
        port = free_port()
        server = SpeechServer(engines, "127.0.0.1", port, hub_info("en-us", "tiny"), limit)
        assert await server.start()
        try:
            async with AsyncTcpClient("127.0.0.1", port) as client:
                # The attack: a small chunk declaring 1 Hz, inside a proper audio-start.
                await client.write_event(Transcribe(language="en").event())
                await client.write_event(AudioStart(rate=16000, width=2, channels=1).event())
                hostile = AudioChunk(rate=1, width=2, channels=1, audio=b"\x01\x02" * 1024)
                await client.write_event(hostile.event())
                await client.write_event(hostile.event())  # the rest of it: dropped quietly
                await client.write_event(AudioStop().event())  # nothing to transcribe
                error = await next_event(client)
                assert error.type == "error", error
                assert error.data["code"] == "bad_audio_format"
                assert "8000-48000 Hz" in error.data["text"]

                # A format refused at audio-start.
                await client.write_event(AudioStart(rate=16000, width=1, channels=1).event())
                error = await next_event(client)
                assert error.type == "error" and "16-bit" in error.data["text"]

                # Longer than the setting allows: refused before it is all buffered.
                await send_audio(client, b"\0" * (limit + SECOND))
                error = await next_event(client)
                assert error.type == "error" and error.data["code"] == "too_long"

                # The same connection still serves: describe, and a proper request.
                await client.write_event(Describe().event())
                assert Info.is_type((await next_event(client)).type)
                await send_audio(client, speech)
                heard = await next_event(client)
                assert Transcript.is_type(heard.type), heard
                assert "fridge" in Transcript.from_event(heard).text.lower()
        finally:
            await server.stop()

    try:
        run(scenario)
    finally:
        engines.close()


class BlockedEngines(PerceptionEngines):
    """Whisper stand-in whose transcriptions wait until the test lets them go."""

    def __init__(self, max_waiting: int) -> None:
        super().__init__(max_waiting=max_waiting)
        self.release = threading.Event()
        self.entered = threading.Semaphore(0)
        self.running = 0
        self.most_running = 0
        self._count = threading.Lock()

    def transcribe(
        self, pcm: bytes, prompt: str | None = None, urgent: bool = False
    ) -> Transcription:
        with self._count:
            self.running += 1
            self.most_running = max(self.most_running, self.running)
        self.entered.release()
        try:
            self.release.wait(60)
            return Transcription("done", (), "en", len(pcm) / SECOND)
        finally:
            with self._count:
                self.running -= 1


def test_queued_transcriptions_never_hold_the_threads_other_work_needs() -> None:
    # More transcriptions than asyncio's default executor has threads (min(32, cpus + 4)).
    flood = 40
    engines = BlockedEngines(max_waiting=flood)

    async def scenario() -> None:
        work = [asyncio.create_task(engines.transcribe_async(b"\0" * 320)) for _ in range(flood)]
        assert await asyncio.to_thread(engines.entered.acquire, True, 30)  # one is running
        # A device commit, a session check: plain to_thread work, done while all 40 wait.
        committed = await asyncio.wait_for(asyncio.to_thread(lambda: "committed"), 30)
        assert committed == "committed"
        # One more than the setting allows is refused at once, saying to try again.
        with pytest.raises(SpeechBusyError, match="try again"):
            await engines.transcribe_async(b"\0" * 320)
        engines.release.set()
        heard = await asyncio.gather(*work)
        assert [h.text for h in heard] == ["done"] * flood
        assert engines.most_running == 1  # one speech thread, however many callers

    try:
        run(scenario)
    finally:
        engines.release.set()
        engines.close()
