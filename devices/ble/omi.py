"""The Omi pendant's audio over Bluetooth LE, as PCM16 mono at 16 kHz for the speech pipeline.

From Omi's public protocol notes (docs "App-device protocol", sdks/device/PROTOCOL.md) and its
firmware's transport: the audio service ``19B10000-E8F2-537E-4F6C-D104768A1214`` has an audio
data characteristic (…0001, notify) and a codec characteristic (…0002, read: its first byte is
the codec id). Each notification is a 3-byte header, then payload: a little-endian 16-bit
counter the pendant increments for every notification (wrapping after 65535), and the index of
this notification within the codec frame it carries (0 starts a frame, a frame larger than the
link's MTU continues in 1, 2, ...). Nothing marks a frame's end: a frame is whole when the next
one starts with no counter missing in between. (The protocol page's example gives a frame's two
pieces the same counter; the firmware counts each piece. Either is taken for a continuation.)
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from devices.perception.pcm import SAMPLE_RATE, float_to_pcm16, pcm16_to_float, resample

logger = logging.getLogger(__name__)

OMI_SERVICE = "19b10000-e8f2-537e-4f6c-d104768a1214"
OMI_AUDIO_DATA = "19b10001-e8f2-537e-4f6c-d104768a1214"
OMI_AUDIO_CODEC = "19b10002-e8f2-537e-4f6c-d104768a1214"
OMI_NAMES = ("Omi", "Friend")  # what the pendant advertises; the app finds it by name
HEADER_BYTES = 3
COUNTER_WRAP = 1 << 16
# The most samples one Opus packet may hold at 16 kHz (120 ms): the decoder's buffer bound.
OPUS_MAX_FRAME_SAMPLES = 1920


class OmiAudioError(ValueError):
    """Omi audio the hub cannot use: a short notification, an unknown codec, a broken frame."""


@dataclass(frozen=True)
class OmiCodec:
    """One codec id the pendant may announce, and how its frames become PCM16."""

    id: int
    name: str
    encoding: str  # "pcm16", "pcm8" (unsigned 8-bit), "mulaw" or "opus"
    rate: int  # samples per second on the wire


# Ids 0, 1, 10, 11 and 20 are in Omi's protocol notes; 21 is the Omi CV1 firmware's Opus with
# 20 ms frames. Its app and backend read id 1 ("pcm8") as unsigned 8-bit samples at 16 kHz,
# which this follows (the older protocol page calls it 16-bit at 8 kHz).
CODECS: dict[int, OmiCodec] = {
    codec.id: codec
    for codec in (
        OmiCodec(0, "pcm16", "pcm16", 16000),
        OmiCodec(1, "pcm8", "pcm8", 16000),
        OmiCodec(10, "mulaw16", "mulaw", 16000),
        OmiCodec(11, "mulaw8", "mulaw", 8000),
        OmiCodec(20, "opus", "opus", 16000),
        OmiCodec(21, "opus_fs320", "opus", 16000),
    )
}


def codec_for(value: bytes | int) -> OmiCodec:
    """The codec the codec characteristic's value (its first byte) names."""
    if isinstance(value, bytes | bytearray):
        if not value:
            raise OmiAudioError("the Omi codec characteristic was empty: expected a codec id")
        value = value[0]
    codec = CODECS.get(value)
    if codec is None:
        known = ", ".join(f"{c.id} ({c.name})" for c in CODECS.values())
        raise OmiAudioError(
            f"the pendant announces codec id {value}, which the hub cannot decode; it decodes "
            f"{known}: update the hub, or the pendant's firmware to one of those"
        )
    return codec


@dataclass(frozen=True, slots=True)
class Notification:
    """One notification of the audio data characteristic, its header read."""

    counter: int
    index: int
    payload: bytes


def read_notification(data: bytes) -> Notification:
    """The header and payload of one audio notification."""
    if len(data) <= HEADER_BYTES:
        raise OmiAudioError(
            f"Omi audio notification of {len(data)} bytes: expected a {HEADER_BYTES}-byte "
            "header and some audio"
        )
    return Notification(data[0] | data[1] << 8, data[2], bytes(data[HEADER_BYTES:]))


class FrameAssembler:
    """Whole codec frames out of audio notifications; a frame with a piece missing is dropped
    (half an Opus packet does not decode), and counted in ``lost``."""

    def __init__(self) -> None:
        self._frame = bytearray()
        self._whole = False  # the frame being gathered has every piece so far
        self._last: Notification | None = None
        self.lost = 0

    def feed(self, data: bytes) -> list[bytes]:
        """The frames ``data`` completes (at most one), oldest first."""
        note = read_notification(data)
        last, self._last = self._last, note
        follows = last is not None and note.counter == (last.counter + 1) % COUNTER_WRAP
        done: list[bytes] = []
        if note.index == 0:
            if self._frame and self._whole and follows:
                done.append(bytes(self._frame))
            elif self._frame:
                self.lost += 1  # its end, or what came after it, went missing
            self._frame = bytearray(note.payload)
            self._whole = True
            return done
        continues = (
            last is not None
            and note.index == last.index + 1
            and (follows or note.counter == last.counter)
        )
        if self._whole and continues:
            self._frame.extend(note.payload)
        elif self._whole and self._frame:
            self._whole = False  # a piece went missing: this frame will not decode
        return done

    def flush(self) -> list[bytes]:
        """The frame being gathered, when the stream ends (a disconnect)."""
        frame, whole = bytes(self._frame), self._whole
        self._frame, self._whole, self._last = bytearray(), False, None
        return [frame] if frame and whole else []


FrameDecoder = Callable[[bytes], bytes]
"""One codec frame in, PCM16 mono samples at the codec's rate out."""


def opus_decoder(rate: int) -> FrameDecoder:
    """Decode Opus packets with libopus (through ``opuslib``, part of the extra ``ble``)."""
    try:
        import opuslib
    except Exception as exc:  # ImportError, or opuslib's own error when libopus is missing
        raise OmiAudioError(
            "the pendant sends Opus audio, which needs the `opuslib` package and the system's "
            "libopus: pip install 'walking-nas[ble]' and apt-get install libopus0 "
            f"(or set the pendant to a PCM codec) ({exc})"
        ) from exc
    decoder = opuslib.Decoder(rate, 1)

    def decode(frame: bytes) -> bytes:
        try:
            return bytes(decoder.decode(frame, OPUS_MAX_FRAME_SAMPLES))
        except opuslib.OpusError as exc:
            raise OmiAudioError(
                f"an Opus frame of {len(frame)} bytes did not decode: {exc}"
            ) from exc

    return decode


def _pcm16(frame: bytes) -> bytes:
    if len(frame) % 2:
        raise OmiAudioError(f"a PCM16 frame of {len(frame)} bytes: expected whole 2-byte samples")
    return frame


def _pcm8(frame: bytes) -> bytes:
    samples = np.frombuffer(frame, dtype=np.uint8).astype(np.int16)
    return ((samples - 128) << 8).astype("<i2").tobytes()


def _mulaw_table() -> npt.NDArray[np.int16]:
    """ITU-T G.711 mu-law: every byte's linear 16-bit sample."""
    codes = ~np.arange(256, dtype=np.int32) & 0xFF
    exponent = (codes >> 4) & 0x07
    magnitude = ((((codes & 0x0F) << 3) + 0x84) << exponent) - 0x84
    return np.where(codes & 0x80, -magnitude, magnitude).astype(np.int16)


def frame_decoder(
    codec: OmiCodec, opus: Callable[[int], FrameDecoder] = opus_decoder
) -> FrameDecoder:
    """The decoder of ``codec``'s frames (Opus through ``opus``)."""
    if codec.encoding == "pcm16":
        return _pcm16
    if codec.encoding == "pcm8":
        return _pcm8
    if codec.encoding == "mulaw":
        table = _mulaw_table()
        return lambda frame: table[np.frombuffer(frame, dtype=np.uint8)].astype("<i2").tobytes()
    return opus(codec.rate)


class OmiAudioDecoder:
    """Audio notifications in, PCM16 mono at the hub's 16 kHz out; a frame that does not decode
    is dropped and counted in ``bad_frames``, never raised."""

    def __init__(self, codec: OmiCodec, opus: Callable[[int], FrameDecoder] = opus_decoder) -> None:
        self.codec = codec
        self.frames = FrameAssembler()
        self._decode = frame_decoder(codec, opus)
        self.bad_frames = 0

    def feed(self, data: bytes) -> bytes:
        """The PCM of the frames ``data`` completes (often none yet: b"")."""
        return self._pcm(self.frames.feed(data))

    def flush(self) -> bytes:
        """The PCM of the last frame, when the stream ends."""
        return self._pcm(self.frames.flush())

    def _pcm(self, frames: list[bytes]) -> bytes:
        out = bytearray()
        for frame in frames:
            try:
                pcm = self._decode(frame)
            except OmiAudioError as exc:
                self.bad_frames += 1
                if self.bad_frames % 500 == 1:
                    logger.warning("Omi audio: %s (%d bad frames so far)", exc, self.bad_frames)
                continue
            if self.codec.rate != SAMPLE_RATE:
                pcm = float_to_pcm16(resample(pcm16_to_float(pcm), self.codec.rate, SAMPLE_RATE))
            out.extend(pcm)
        return bytes(out)
