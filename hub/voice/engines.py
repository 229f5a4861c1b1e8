"""PerceptionEngines: speech-to-text, text-to-speech and OCR, each loaded on first use, with
heavy steps run one at a time and only while the chat model is idle (two compute-bound thread
pools on two cores spin against each other and both crawl).

Callers on the event loop use ``transcribe_async``: it runs on the engines' own one-thread
executor, never asyncio's default one, so a flood of audio queues here while device commits,
session checks and every other ``asyncio.to_thread`` call keep their threads."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from devices.perception.ocr import SeenText, TextReader
from devices.perception.speech import EspeakSynthesizer
from devices.perception.speech_to_text import Transcription, WhisperTranscriber
from hub.engine.activity import ModelActivity
from hub.errors import HubError

logger = logging.getLogger(__name__)

# Longest a perception step waits for the chat model before running anyway.
MAX_WAIT_FOR_MODEL = 30.0
# Transcriptions that may wait for the speech thread; more are refused as busy.
DEFAULT_MAX_WAITING = 4


class SpeechBusyError(HubError):
    """Too many transcriptions already wait for the hub's speech-to-text."""

    http_status = 503
    error_code = "voice_busy"
    error_type = "server_error"

    def __init__(self, waiting: int) -> None:
        super().__init__(
            f"speech-to-text is busy ({waiting} transcriptions are waiting); try again in a "
            "few seconds"
        )


def _speech_executor() -> ThreadPoolExecutor:
    # One worker: transcriptions run one at a time anyway (the compute lock), and on 2 cores
    # a second one would only queue inside Whisper.
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="speech")


@dataclass
class PerceptionEngines:
    """The perception models of one hub."""

    whisper_model: Path | None = None
    threads: int = 2
    tts_voice: str = "en-us"
    tts_rate: int = 175
    model_activity: ModelActivity = field(default_factory=ModelActivity)
    max_waiting: int = DEFAULT_MAX_WAITING
    _load_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _compute: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _stt: WhisperTranscriber | None = field(default=None, repr=False)
    _tts: EspeakSynthesizer | None = field(default=None, repr=False)
    _ocr: TextReader | None = field(default=None, repr=False)
    _executor: ThreadPoolExecutor = field(default_factory=_speech_executor, repr=False)
    _waiting: int = field(default=0, repr=False)
    # Time spent in speech-to-text, and the audio it covered (status and benchmark).
    stt_seconds: float = 0.0
    stt_audio_seconds: float = 0.0

    def speech_to_text(self) -> WhisperTranscriber:
        """The Whisper model (loaded now if it was not)."""
        with self._load_lock:
            if self._stt is None:
                logger.info("loading Whisper from %s", self.whisper_model or "the package")
                self._stt = WhisperTranscriber(self.whisper_model, self.threads)
            return self._stt

    def text_to_speech(self) -> EspeakSynthesizer:
        """The eSpeak NG voice (loaded now if it was not)."""
        with self._load_lock:
            if self._tts is None:
                self._tts = EspeakSynthesizer(self.tts_voice, self.tts_rate)
            return self._tts

    def text_reader(self) -> TextReader:
        """The OCR models (loaded now if they were not)."""
        with self._load_lock:
            if self._ocr is None:
                logger.info("loading the OCR models")
                self._ocr = TextReader(self.threads)
            return self._ocr

    def _wait_for_model(self) -> None:
        self.model_activity.wait_idle_blocking(timeout=MAX_WAIT_FOR_MODEL)

    def transcribe(
        self, pcm: bytes, prompt: str | None = None, urgent: bool = False
    ) -> Transcription:
        """Speech to text (blocking); ``urgent`` (a person waits for the answer) skips waiting
        for the chat model."""
        model = self.speech_to_text()
        with self._compute:
            if not urgent:
                self._wait_for_model()
            started = time.perf_counter()
            heard = model.transcribe(pcm, prompt)
            self.stt_seconds += time.perf_counter() - started
            self.stt_audio_seconds += heard.audio_seconds
            return heard

    async def transcribe_async(
        self, pcm: bytes, prompt: str | None = None, urgent: bool = False
    ) -> Transcription:
        """``transcribe`` on the speech thread; refused with SpeechBusyError when
        ``max_waiting`` transcriptions are already queued or running."""
        if self._waiting >= self.max_waiting:
            raise SpeechBusyError(self._waiting)
        self._waiting += 1  # only touched on the event loop: no lock needed
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._executor, self.transcribe, pcm, prompt, urgent)
        finally:
            self._waiting -= 1

    def close(self) -> None:
        """Stop the speech thread after the transcription at hand; queued ones are dropped."""
        self._executor.shutdown(wait=True, cancel_futures=True)

    def speak(self, text: str) -> bytes:
        """Text to PCM16 mono 16 kHz (blocking; eSpeak is light, so it never waits)."""
        return self.text_to_speech().synthesize(text)

    def read_text(self, image: bytes) -> SeenText:
        """The text in an image (blocking)."""
        reader = self.text_reader()
        with self._compute:
            self._wait_for_model()
            return reader.read(image)
