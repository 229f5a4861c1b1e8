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
AUDIO_CHUNK_BYTES = SAMPLE_RATE * SAMPLE_WIDTH // 4


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

    async def prepare(self, client: GattClient) -> None:
        """Read the codec the pendant uses now (OmiAudioError when the hub cannot decode it)."""
        codec = codec_for(bytes(await client.read_gatt_char(OMI_AUDIO_CODEC)))
        self.decoder = OmiAudioDecoder(codec, self.opus)

    async def take(self, data: bytes, t: float) -> None:
        """Decode one notification; hand on a chunk once a quarter second has gathered."""
        if self.decoder is None:
            raise RuntimeError("OmiAudioReader.take before prepare")
        pcm = self.decoder.feed(data)
        if not pcm:
            return
        if not self._pcm:
            self._start = t - len(pcm) / (SAMPLE_RATE * SAMPLE_WIDTH)
        self._pcm.extend(pcm)
        if len(self._pcm) >= self.chunk_bytes:
            await self._hand_on()

    async def end(self) -> None:
        """Hand on the last frame and what gathered before it."""
        if self.decoder is not None:
            self._pcm.extend(self.decoder.flush())
        if self._pcm:
            await self._hand_on()

    async def _hand_on(self) -> None:
        chunk = AudioChunk(self._start, bytes(self._pcm))
        self._pcm.clear()
        await self.sink(chunk)
