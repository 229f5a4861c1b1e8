"""OmiAudio: the Omi app's audio bytes webhook through the hub's speech pipeline. Each bridge's
chunks (raw PCM16 every few seconds) are joined into one stream, cut into utterances by voice
activity detection and transcribed by Whisper, one utterance at a time, into transcripts as a
paired device's audio is; each bridge's audio waiting for that is bounded."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from devices.perception.pcm import SAMPLE_RATE, SAMPLE_WIDTH, float_to_pcm16, pcm16_to_float
from devices.perception.pcm import resample as resample_audio
from devices.perception.speech_to_text import Transcription
from devices.perception.vad import SegmenterSettings, SpeechProbability, SpeechSegmenter, Utterance
from hub.errors import HubError
from hub.voice.engines import PerceptionEngines, SpeechBusyError
from hub.voice.transcripts import TranscriptKeeper

logger = logging.getLogger(__name__)

# The rates Omi devices record at (8 kHz: DevKit1 v1.0.2; 16 kHz: every later one), and the
# others microphones commonly use.
SAMPLE_RATES = frozenset({8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000})
# One webhook call holds at most this much audio (the app's "every x seconds", 5 by default).
MAX_CHUNK_SECONDS = 60.0
# Audio of one bridge waiting for speech-to-text (16 kHz): past it, new chunks are refused.
MAX_BUFFERED_SECONDS = 120.0
OUT_BYTES_PER_SECOND = SAMPLE_RATE * SAMPLE_WIDTH
# A chunk starting this close to where the last one ended continues it (the app sends them
# back to back, late by however long the network took).
CONTINUES_WITHIN = 3.0
# No new chunk for this long past when the next was due: what was said so far is an utterance.
QUIET_SLACK = 3.0


class BadAudioError(HubError):
    """Audio bytes the hub cannot take; the message says what to send."""

    error_code = "bad_audio"


class AudioTooLongError(HubError):
    """One webhook call held more audio than the hub takes at once."""

    http_status = 413
    error_code = "audio_too_long"


class AudioBacklogError(HubError):
    """Too much of this bridge's audio already waits for speech-to-text."""

    http_status = 429
    error_code = "audio_backlog"
    error_type = "rate_limit_error"

    def __init__(self, waiting_seconds: float, retry_after: int) -> None:
        super().__init__(
            f"{waiting_seconds:.0f} s of this bridge's audio already wait for speech-to-text; "
            f"send again in about {retry_after} s"
        )
        self.retry_after = retry_after

    def http_headers(self) -> dict[str, str]:
        """When to try again."""
        return {"Retry-After": str(self.retry_after)}


def check_audio(body: bytes, sample_rate: int) -> float:
    """Seconds of audio in ``body``; refuse what is not mono PCM16 at a known rate or is more
    than one call may hold."""
    if sample_rate not in SAMPLE_RATES:
        rates = ", ".join(str(rate) for rate in sorted(SAMPLE_RATES))
        raise BadAudioError(
            f"sample_rate {sample_rate} is not one the hub takes; send one of {rates} "
            "(Omi devices send 16000 or 8000)"
        )
    if not body:
        raise BadAudioError("the body holds no audio; send raw PCM16 mono bytes")
    if len(body) % SAMPLE_WIDTH:
        raise BadAudioError(
            f"{len(body)} bytes is not a whole number of 16-bit samples; send raw PCM16 "
            "little-endian mono"
        )
    seconds = len(body) / (SAMPLE_WIDTH * sample_rate)
    if seconds > MAX_CHUNK_SECONDS:
        raise AudioTooLongError(
            f"{seconds:.0f} s of audio in one call; the hub takes at most "
            f"{MAX_CHUNK_SECONDS:.0f} s: in the Omi app, set the audio bytes webhook's "
            "'every x seconds' lower (the URL ends ',5' for every 5 s)"
        )
    return seconds


def to_16k(body: bytes, sample_rate: int) -> bytes:
    """PCM16 mono at ``sample_rate`` as PCM16 mono at 16 kHz (blocking: numpy)."""
    if sample_rate == SAMPLE_RATE:
        return body
    return float_to_pcm16(resample_audio(pcm16_to_float(body), sample_rate, SAMPLE_RATE))


@dataclass(frozen=True)
class AcceptedAudio:
    """What the hub made of one webhook call."""

    seconds: float
    waiting_seconds: float  # this bridge's audio not yet through speech-to-text, this one too


@dataclass
class _BridgeStream:
    segmenter: SpeechSegmenter
    chunks: deque[tuple[bytes, float]] = field(default_factory=deque)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    waiting_bytes: int = 0
    stream_end: float | None = None  # stream time (Unix seconds) the last chunk ended at
    last_chunk_seconds: float = 0.0
    worker: asyncio.Task[None] | None = None


@dataclass
class AudioCounts:
    """What the Omi audio has done since the hub started (for tests and status)."""

    audio_seconds: float = 0.0
    utterances: int = 0
    transcripts: int = 0
    refused_busy: int = 0
    failures: int = 0


class OmiAudio:
    """Per bridge: a queue of chunks, and a worker that runs them through voice activity
    detection and speech-to-text while there are any; one utterance in speech-to-text per
    bridge at a time, so a flooding bridge waits for its own backlog, not others'."""

    def __init__(
        self,
        engines: PerceptionEngines,
        keeper: TranscriptKeeper,
        detector_factory: Callable[[], SpeechProbability],
        segmenter: SegmenterSettings | None = None,
        max_buffered_seconds: float = MAX_BUFFERED_SECONDS,
        clock: Callable[[], float] = time.time,
        still_working: Callable[[str], bool] = lambda device_id: True,
    ) -> None:
        self.engines = engines
        self.keeper = keeper
        self.detector_factory = detector_factory
        self.segmenter_settings = segmenter or SegmenterSettings()
        self.max_buffered_bytes = int(max_buffered_seconds * OUT_BYTES_PER_SECOND)
        self.clock = clock
        # Blocking: is the bridge still working (not revoked since its audio came)?
        self.still_working = still_working
        self.counts = AudioCounts()
        self._streams: dict[str, _BridgeStream] = {}
        self._closing = False

    async def accept(self, device_id: str, body: bytes, sample_rate: int) -> AcceptedAudio:
        """Queue one webhook call's audio (checked with ``check_audio`` first) for the bridge's
        worker; refused with AudioBacklogError while the bridge's backlog is full."""
        seconds = check_audio(body, sample_rate)
        stream = self._stream(device_id)
        size = math.ceil(seconds * SAMPLE_RATE) * SAMPLE_WIDTH  # before converting: never more
        if stream.waiting_bytes + size > self.max_buffered_bytes:
            self.counts.refused_busy += 1
            waiting = stream.waiting_bytes / OUT_BYTES_PER_SECOND
            retry = max(1, min(60, math.ceil(seconds or 1.0)))
            raise AudioBacklogError(waiting, retry)
        stream.waiting_bytes += size  # held before the await: a burst cannot all pass the check
        try:
            pcm = await asyncio.to_thread(to_16k, body, sample_rate)
        except BaseException:
            stream.waiting_bytes -= size
            raise
        stream.waiting_bytes += len(pcm) - size
        stream.chunks.append((pcm, self._place(stream, seconds)))
        stream.arrived.set()
        if (stream.worker is None or stream.worker.done()) and not self._closing:
            stream.worker = asyncio.create_task(self._work(device_id, stream))
        return AcceptedAudio(seconds, stream.waiting_bytes / OUT_BYTES_PER_SECOND)

    def waiting_seconds(self, device_id: str) -> float:
        """Seconds of the bridge's audio not yet through speech-to-text."""
        stream = self._streams.get(device_id)
        return 0.0 if stream is None else stream.waiting_bytes / OUT_BYTES_PER_SECOND

    async def close(self) -> None:
        """Stop every worker; audio still waiting is dropped (it was never stored)."""
        self._closing = True
        workers = [s.worker for s in self._streams.values() if s.worker is not None]
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)

    def _stream(self, device_id: str) -> _BridgeStream:
        stream = self._streams.get(device_id)
        if stream is None:
            segmenter = SpeechSegmenter(self.detector_factory(), self.segmenter_settings)
            stream = self._streams[device_id] = _BridgeStream(segmenter)
        return stream

    def _place(self, stream: _BridgeStream, seconds: float) -> float:
        """Where a chunk starts in the bridge's stream: right after the last one when it
        arrived about when that one was due to be followed, else when it was recorded."""
        start = self.clock() - seconds
        if stream.stream_end is not None and start - stream.stream_end < CONTINUES_WITHIN:
            start = stream.stream_end
        stream.stream_end = start + seconds
        stream.last_chunk_seconds = seconds
        return start

    async def _work(self, device_id: str, stream: _BridgeStream) -> None:
        """Hear the bridge's chunks in order; once it has been quiet for longer than its
        chunks come, what it said so far is an utterance, and the worker ends."""
        while True:
            if not stream.chunks:
                stream.arrived.clear()
                quiet = stream.last_chunk_seconds + QUIET_SLACK
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stream.arrived.wait(), quiet)
            pcm = b""
            try:
                if stream.chunks:
                    pcm, start = stream.chunks.popleft()
                    utterances = await asyncio.to_thread(stream.segmenter.feed, pcm, start)
                    self.counts.audio_seconds += len(pcm) / OUT_BYTES_PER_SECOND
                else:
                    utterances = await asyncio.to_thread(stream.segmenter.flush)
                await self._hear(device_id, utterances)
            except Exception:
                self.counts.failures += 1
                logger.exception("Omi audio from bridge %s failed", device_id)
            finally:
                stream.waiting_bytes -= len(pcm)
            if not pcm and not stream.chunks:
                stream.worker = None
                return

    async def _hear(self, device_id: str, utterances: list[Utterance]) -> None:
        for utterance in utterances:
            self.counts.utterances += 1
            heard = await self._transcribe(utterance.pcm)
            if not heard.text.strip():
                continue
            if not await asyncio.to_thread(self.still_working, device_id):
                continue  # revoked while its audio waited: what it sent is not kept
            kept = await asyncio.to_thread(self.keeper.keep, device_id, utterance, heard, via="omi")
            if kept is not None:
                self.counts.transcripts += 1

    async def _transcribe(self, pcm: bytes) -> Transcription:
        # Others (devices, Wyoming peers) may fill the speech thread's queue: this bridge's
        # utterance waits its turn, and its backlog, bounded, refuses new chunks meanwhile.
        while True:
            try:
                return await self.engines.transcribe_async(pcm)
            except SpeechBusyError:
                await asyncio.sleep(0.5)
