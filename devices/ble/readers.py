"""What each kind of Bluetooth LE bridge does with its notifications: heart-rate readings to a
sample sink, Omi audio to an audio sink."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from devices.ble.connection import GattClient
from devices.ble.heart_rate import HEART_RATE_MEASUREMENT, heart_rate_samples
from devices.ble.omi import (
    OMI_AUDIO_CODEC,
    OMI_AUDIO_DATA,
    FrameDecoder,
    OmiAudioDecoder,
    codec_for,
    opus_decoder,
)
from devices.bridge_samples import BridgeSample
from devices.perception.pcm import SAMPLE_RATE, SAMPLE_WIDTH

SampleSink = Callable[[Sequence[BridgeSample]], Awaitable[object]]
"""Where readings go (the hub's bridge store)."""

# Audio is handed on in pieces of this many bytes of 16 kHz PCM16 (a quarter second).
BYTES_PER_SECOND = SAMPLE_RATE * SAMPLE_WIDTH
AUDIO_CHUNK_BYTES = BYTES_PER_SECOND // 4
# Audio arriving this much later (or earlier) than the stream so far says was lost (or the
# clocks drifted): its time starts afresh from when it arrived.
RESYNC_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class AudioChunk:
    """PCM16 mono at 16 kHz, starting at ``t`` (Unix seconds)."""

    t: float
    pcm: bytes


AudioSink = Callable[[AudioChunk], Awaitable[object]]
"""Where decoded audio goes (the hub's speech pipeline)."""


class HeartRateReader:
    """Heart Rate Measurement notifications to samples, stored as they come."""

    characteristic = HEART_RATE_MEASUREMENT

    def __init__(self, address: str, sink: SampleSink) -> None:
        self.address = address
        self.sink = sink

    async def prepare(self, client: GattClient) -> None:
        """Nothing to read first: the measurement characteristic says everything."""

    async def take(self, data: bytes, t: float) -> None:
        """Parse one measurement (ValueError when malformed) and store its samples."""
        samples = heart_rate_samples(data, self.address, t)
        if samples:
            await self.sink(samples)

    async def end(self) -> None:
        """Nothing is held between notifications."""


class OmiAudioReader:
    """The pendant's audio notifications, decoded and handed on a quarter second at a time."""

    characteristic = OMI_AUDIO_DATA

    def __init__(
        self,
        sink: AudioSink,
        opus: Callable[[int], FrameDecoder] = opus_decoder,
        chunk_bytes: int = AUDIO_CHUNK_BYTES,
    ) -> None:
        self.sink = sink
        self.opus = opus
        self.chunk_bytes = chunk_bytes
        self.decoder: OmiAudioDecoder | None = None
        self._pcm = bytearray()
        self._start = 0.0
        self._next_t: float | None = None
        self._heard_at = 0.0

    async def prepare(self, client: GattClient) -> None:
        """Read the codec the pendant uses now (OmiAudioError when the hub cannot decode it)."""
        codec = codec_for(bytes(await client.read_gatt_char(OMI_AUDIO_CODEC)))
        self.decoder = OmiAudioDecoder(codec, self.opus)

    async def take(self, data: bytes, t: float) -> None:
        """Decode one notification; hand on a chunk once a quarter second has gathered."""
        if self.decoder is None:
            raise RuntimeError("OmiAudioReader.take before prepare")
        self._heard_at = t
        pcm = self.decoder.feed(data)
        if not pcm:
            return
        if not self._pcm:
            self._start = self._stream_time(t - len(pcm) / BYTES_PER_SECOND)
        self._pcm.extend(pcm)
        if len(self._pcm) >= self.chunk_bytes:
            await self._hand_on()

    async def end(self) -> None:
        """Hand on the last frame and what gathered before it."""
        if self.decoder is not None:
            last = self.decoder.flush()
            if last and not self._pcm:
                self._start = self._stream_time(self._heard_at - len(last) / BYTES_PER_SECOND)
            self._pcm.extend(last)
        if self._pcm:
            await self._hand_on()
        self._next_t = None  # the next connection starts a new stream

    def _stream_time(self, heard_at: float) -> float:
        """When audio received at ``heard_at`` was said: right after the audio before it, so
        the radio's jitter does not look like a pause; anew after audio went missing."""
        expected = self._next_t
        if expected is None or abs(heard_at - expected) > RESYNC_SECONDS:
            return heard_at
        return expected

    async def _hand_on(self) -> None:
        chunk = AudioChunk(self._start, bytes(self._pcm))
        self._next_t = self._start + len(chunk.pcm) / BYTES_PER_SECOND
        self._pcm.clear()
        await self.sink(chunk)
