"""OmiBridge: what the Omi webhooks need of one hub: exactly-once memories, and speech-to-text
for audio bytes (None when memory or voice is turned off)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from devices.perception.vad import SegmenterSettings
from hub.bridges.memories import BridgeMemories
from hub.bridges.omi_audio import OmiAudio
from hub.bridges.store import BridgeStore
from hub.voice.service import VoiceService
from hub.wearables.service import DeviceService
from memory.protocol import MemoryStore


def _working(bridges: BridgeStore) -> Callable[[str], bool]:
    """Whether a bridge still works (blocking): not revoked since its audio came."""

    def working(device_id: str) -> bool:
        record = bridges.get(device_id)
        return record is not None and record.status == "paired"

    return working


@dataclass(frozen=True)
class OmiBridge:
    """The Omi webhooks' services in one hub."""

    memories: BridgeMemories | None
    audio: OmiAudio | None

    @classmethod
    def create(
        cls, devices: DeviceService, store: MemoryStore | None, voice: VoiceService | None
    ) -> OmiBridge:
        """Build on the hub's device store, memory store and voice pipeline pieces."""
        memories = BridgeMemories(devices.store, store) if store is not None else None
        audio = None
        if voice is not None:
            audio = OmiAudio(
                voice.engines,
                voice.keeper,
                voice.vad.detector,
                SegmenterSettings(end_silence=voice.settings.voice_end_silence),
                still_working=_working(BridgeStore(devices.store)),
            )
        return cls(memories, audio)

    async def close(self) -> None:
        """Stop transcribing (before the voice pipeline it uses stops)."""
        if self.audio is not None:
            await self.audio.close()
