"""The audio formats the hub accepts from Wyoming peers, checked before any conversion: a peer
declares rate, width and channels itself, and resampling trusts them (a 2 KB chunk declared at
1 Hz becomes 32 MB at 16 kHz), so a declaration outside what real microphones send is refused."""

from __future__ import annotations

from wyoming.audio import AudioChunk

from devices.perception.pcm import SAMPLE_RATE

MIN_RATE = 8_000
MAX_RATE = 48_000
WIDTH = 2  # 16-bit samples: what Home Assistant and every Wyoming satellite send
MAX_CHANNELS = 2
OUT_BYTES_PER_SECOND = SAMPLE_RATE * WIDTH  # after conversion: 16 kHz, 16-bit, mono


class AudioFormatError(ValueError):
    """A peer's audio the hub will not convert; the message says what to send instead."""

    def __init__(self, message: str, code: str = "bad_audio_format") -> None:
        super().__init__(message)
        self.code = code


def check_format(rate: object, width: object, channels: object) -> None:
    """Refuse a declared format the speech pipeline cannot take."""
    if isinstance(rate, bool) or not isinstance(rate, int) or not MIN_RATE <= rate <= MAX_RATE:
        raise AudioFormatError(
            f"audio rate {rate!r} Hz is not supported; send {MIN_RATE}-{MAX_RATE} Hz "
            f"({SAMPLE_RATE} is best)"
        )
    if width != WIDTH:
        raise AudioFormatError(f"audio width {width!r} is not supported; send 16-bit (width 2)")
    if (
        isinstance(channels, bool)
        or not isinstance(channels, int)
        or not 1 <= channels <= MAX_CHANNELS
    ):
        raise AudioFormatError(
            f"{channels!r} audio channels are not supported; send mono (1) or stereo (2)"
        )


def converted_size(chunk: AudioChunk) -> int:
    """Bytes ``chunk`` becomes at 16 kHz 16-bit mono, after checking its format and framing
    (nothing is converted here)."""
    check_format(chunk.rate, chunk.width, chunk.channels)
    frame = chunk.width * chunk.channels
    if len(chunk.audio) % frame:
        raise AudioFormatError(
            f"an audio chunk of {len(chunk.audio)} bytes does not hold whole samples of "
            f"{frame} bytes (width x channels); send whole samples"
        )
    frames = len(chunk.audio) // frame
    # ratecv may emit one sample more than the exact ratio: count it, never under-count.
    return (frames * SAMPLE_RATE // chunk.rate + 1) * WIDTH


def check_room(chunk: AudioChunk, buffered: int, limit: int) -> int:
    """Bytes ``chunk`` adds to an utterance already ``buffered`` bytes long; refused (before
    converting) when the utterance would pass ``limit``."""
    size = converted_size(chunk)
    if buffered + size > limit:
        seconds = limit / OUT_BYTES_PER_SECOND
        raise AudioFormatError(
            f"at most {seconds:.0f} s of audio per transcription; send shorter utterances "
            "(the hub's HUB_WYOMING_MAX_AUDIO_BYTES setting sets the limit)",
            code="too_long",
        )
    return size
