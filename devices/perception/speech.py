"""Text to speech with eSpeak NG, the library and voices shipped in espeakng-loader (ctypes)."""

from __future__ import annotations

import ctypes
import logging
import re
import threading
from collections.abc import Iterator

import numpy as np

from devices.perception.pcm import SAMPLE_RATE, FloatAudio, float_to_pcm16, resample

logger = logging.getLogger(__name__)

# espeak_AUDIO_OUTPUT and flags from speak_lib.h.
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_CHARS_UTF8 = 1
_RATE_PARAMETER = 1
_SynthCallback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)
# The C library keeps one global voice and callback per process: every call is serialized.
_LIBRARY_LOCK = threading.Lock()
_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+|\n+")
# Markup a chat answer may carry that should not be read aloud.
_UNSPOKEN = re.compile(r"[*_#`>|~\[\]]+")


class SpeechError(RuntimeError):
    """eSpeak NG could not be loaded or refused the voice."""


def split_sentences(text: str) -> list[str]:
    """Sentences (and lines) of ``text``, stripped of markup, empty ones dropped."""
    parts = (_UNSPOKEN.sub(" ", part).strip().lstrip("-•") for part in _SENTENCE_END.split(text))
    # A list number ("1.") or a lone symbol is not worth saying on its own.
    return [" ".join(part.split()) for part in parts if any(ch.isalpha() for ch in part)]


class EspeakSynthesizer:
    """eSpeak NG through its C API, making PCM16 mono 16 kHz audio."""

    def __init__(self, voice: str = "en-us", words_per_minute: int = 175) -> None:
        import espeakng_loader

        self.voice = voice
        self.words_per_minute = words_per_minute
        try:
            self._lib = ctypes.CDLL(espeakng_loader.get_library_path())
        except OSError as exc:
            raise SpeechError(f"cannot load eSpeak NG from espeakng-loader: {exc}") from exc
        self._lib.espeak_Initialize.restype = ctypes.c_int
        self._lib.espeak_Initialize.argtypes = [
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_char_p,
            ctypes.c_int,
        ]
        self._lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        self._lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        self._lib.espeak_Synth.argtypes = [
            ctypes.c_char_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        data = espeakng_loader.get_data_path().encode()
        with _LIBRARY_LOCK:
            self.native_rate = int(
                self._lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data, 0)
            )
        if self.native_rate <= 0:
            raise SpeechError("eSpeak NG failed to initialize with its packaged data")
        self._chunks: list[FloatAudio] = []
        # Kept on the instance: the C library holds a pointer to it.
        self._callback = _SynthCallback(self._collect)
        self._check_voice()

    def _collect(self, wav: ctypes._Pointer[ctypes.c_short], count: int, events: int) -> int:
        if count > 0 and wav:
            samples = np.ctypeslib.as_array(wav, shape=(count,))
            self._chunks.append((samples / np.float32(32768)).astype(np.float32))
        return 0

    def _check_voice(self) -> None:
        with _LIBRARY_LOCK:
            if self._lib.espeak_SetVoiceByName(self.voice.encode()) != 0:
                raise SpeechError(
                    f"eSpeak NG has no voice {self.voice!r}; try en-us, en-gb, de, fr, es, pt"
                )

    def synthesize(self, text: str) -> bytes:
        """Speak ``text``: PCM16 mono 16 kHz (empty for text with nothing to say)."""
        text = _UNSPOKEN.sub(" ", text).strip()
        if not text:
            return b""
        encoded = text.encode()
        with _LIBRARY_LOCK:
            self._chunks = []
            self._lib.espeak_SetSynthCallback(self._callback)
            self._lib.espeak_SetVoiceByName(self.voice.encode())
            self._lib.espeak_SetParameter(_RATE_PARAMETER, self.words_per_minute, 0)
            status = self._lib.espeak_Synth(
                encoded, len(encoded) + 1, 0, 0, 0, _CHARS_UTF8, None, None
            )
            self._lib.espeak_Synchronize()
            chunks, self._chunks = self._chunks, []
        if status != 0:
            raise SpeechError(f"eSpeak NG failed to speak (status {status})")
        if not chunks:
            return b""
        audio = resample(np.concatenate(chunks), self.native_rate, SAMPLE_RATE)
        return float_to_pcm16(audio)

    def synthesize_sentences(self, text: str) -> Iterator[tuple[str, bytes]]:
        """Each sentence of ``text`` with its audio, so playback can start after the first."""
        for sentence in split_sentences(text):
            audio = self.synthesize(sentence)
            if audio:
                yield sentence, audio
