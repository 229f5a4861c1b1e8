"""PCM16 mono audio helpers: bytes to floats and back, resampling, and short WAV files."""

from __future__ import annotations

import io
import wave

import numpy as np
import numpy.typing as npt

SAMPLE_RATE = 16000
SAMPLE_WIDTH = 2
FloatAudio = npt.NDArray[np.float32]


def pcm16_to_float(pcm: bytes) -> FloatAudio:
    """Little-endian signed 16-bit samples as floats in [-1, 1]."""
    samples = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype="<i2")
    return (samples / np.float32(32768)).astype(np.float32)


def float_to_pcm16(audio: FloatAudio) -> bytes:
    """Floats in [-1, 1] as little-endian signed 16-bit samples (clipped)."""
    return bytes((np.clip(audio, -1.0, 1.0) * 32767).astype("<i2").tobytes())


def resample(audio: FloatAudio, from_rate: int, to_rate: int) -> FloatAudio:
    """Linear-interpolation resampling; plenty for speech going into or out of a voice."""
    if from_rate == to_rate or len(audio) == 0:
        return audio
    duration = len(audio) / from_rate
    count = max(1, round(duration * to_rate))
    positions = np.arange(count, dtype=np.float64) * (from_rate / to_rate)
    source = np.arange(len(audio), dtype=np.float64)
    return np.interp(positions, source, audio).astype(np.float32)


def seconds(pcm: bytes, rate: int = SAMPLE_RATE) -> float:
    """Duration of PCM16 mono audio."""
    return len(pcm) / (SAMPLE_WIDTH * rate)


def wav_bytes(pcm: bytes, rate: int = SAMPLE_RATE) -> bytes:
    """A WAV file holding PCM16 mono audio."""
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(SAMPLE_WIDTH)
        wav.setframerate(rate)
        wav.writeframes(pcm)
    return out.getvalue()


def read_wav(data: bytes) -> tuple[bytes, int]:
    """PCM16 mono samples and rate of a WAV file (ValueError for other layouts)."""
    try:
        with wave.open(io.BytesIO(data), "rb") as wav:
            if wav.getnchannels() != 1 or wav.getsampwidth() != SAMPLE_WIDTH:
                raise ValueError("expected a mono 16-bit WAV file")
            return wav.readframes(wav.getnframes()), wav.getframerate()
    except (wave.Error, EOFError) as exc:
        raise ValueError(f"not a WAV file: {exc}") from exc
