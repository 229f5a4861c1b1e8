"""PerceptionEngines: speech-to-text, text-to-speech and OCR, each loaded on first use, with
heavy steps run one at a time and only while the chat model is idle (two compute-bound thread
pools on two cores spin against each other and both crawl)."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from devices.perception.ocr import SeenText, TextReader
from devices.perception.speech import EspeakSynthesizer
from devices.perception.speech_to_text import Transcription, WhisperTranscriber
from hub.engine.activity import ModelActivity

logger = logging.getLogger(__name__)

# Longest a perception step waits for the chat model before running anyway.
MAX_WAIT_FOR_MODEL = 30.0


@dataclass
class PerceptionEngines:
    """The perception models of one hub."""

    whisper_model: Path | None = None
    threads: int = 2
    tts_voice: str = "en-us"
    tts_rate: int = 175
    model_activity: ModelActivity = field(default_factory=ModelActivity)
    _load_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _compute: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _stt: WhisperTranscriber | None = field(default=None, repr=False)
    _tts: EspeakSynthesizer | None = field(default=None, repr=False)
    _ocr: TextReader | None = field(default=None, repr=False)
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

    def speak(self, text: str) -> bytes:
        """Text to PCM16 mono 16 kHz (blocking; eSpeak is light, so it never waits)."""
        return self.text_to_speech().synthesize(text)

    def read_text(self, image: bytes) -> SeenText:
        """The text in an image (blocking)."""
        reader = self.text_reader()
        with self._compute:
            self._wait_for_model()
            return reader.read(image)
