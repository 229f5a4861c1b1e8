"""VoiceService: the perception engines, the audio and camera pipelines and the assistant of
one hub, built once by the composition root (hub.assembly) and started with it."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace

from devices.discovery import parse_interfaces
from devices.perception.speech_to_text import check_model_dir
from devices.perception.vad import SegmenterSettings
from devices.perception.vad_process import SileroProcess
from hub.chat.turns import ChatTurns
from hub.engine.activity import ModelActivity
from hub.settings import Settings
from hub.voice.assistant import VoiceAssistant
from hub.voice.audio_pipeline import AudioPipeline
from hub.voice.camera_pipeline import CameraPipeline
from hub.voice.engines import PerceptionEngines
from hub.voice.satellite_link import SatelliteVoice
from hub.voice.satellite_store import SatelliteStore
from hub.voice.satellites import SatelliteManager
from hub.voice.spoken_requests import SpokenRequests
from hub.voice.status import VoiceSetup, VoiceStatus
from hub.voice.transcripts import TranscriptKeeper
from hub.voice.wyoming_server import SpeechServer, hub_info
from hub.wearables.service import DeviceService, IngestListener
from memory.protocol import MemoryStore

logger = logging.getLogger(__name__)


@dataclass
class VoiceService:
    """Everything voice and perception in one hub."""

    settings: Settings
    engines: PerceptionEngines
    audio: AudioPipeline
    camera: CameraPipeline | None
    assistant: VoiceAssistant
    requests: SpokenRequests
    keeper: TranscriptKeeper
    vad: SileroProcess
    satellites: SatelliteManager
    speech_server: SpeechServer | None

    @classmethod
    def create(
        cls,
        settings: Settings,
        chat: ChatTurns,
        store: MemoryStore | None,
        devices: DeviceService,
        model_activity: ModelActivity,
    ) -> VoiceService:
        """Build (models load on first use, so a hub that hears nothing pays nothing)."""
        if settings.voice_whisper_model is not None:  # a wrong folder fails at start, not later
            check_model_dir(settings.voice_whisper_model)
        engines = PerceptionEngines(
            whisper_model=settings.voice_whisper_model,
            threads=settings.voice_threads,
            tts_voice=settings.voice_tts_voice,
            tts_rate=settings.voice_tts_rate,
            model_activity=model_activity,
            max_waiting=settings.voice_max_waiting_transcriptions,
        )
        engines.text_to_speech()  # a voice eSpeak NG lacks fails here, saying which it has
        model_name = (
            settings.voice_whisper_model.name if settings.voice_whisper_model else "whisper-tiny.en"
        )
        vad = SileroProcess()  # a child process: see devices/perception/vad_process.py
        keeper = TranscriptKeeper(store, settings.voice_conversation_gap, model_name)
        assistant = VoiceAssistant(chat, engines, settings.voice_reply_max_tokens)
        requests = SpokenRequests(devices, assistant, keeper)
        camera = CameraPipeline(engines, store) if settings.voice_ocr_enabled else None
        audio = AudioPipeline(
            engines,
            keeper,
            requests.heard,
            settings.voice_wake_phrase,
            SegmenterSettings(end_silence=settings.voice_end_silence),
            detector_factory=vad.detector,
            max_talk_bytes=settings.voice_push_to_talk_max_bytes,
            max_waiting_bytes=settings.voice_audio_queue_max_bytes,
        )
        satellites = SatelliteManager(
            SatelliteStore.open(settings.data_dir),
            SatelliteVoice(
                engines,
                assistant,
                keeper,
                vad.detector,
                settings.voice_wake_phrase,
                SegmenterSettings(end_silence=settings.voice_end_silence),
            ),
        )
        speech_server = None
        if settings.wyoming_server_port:
            info = hub_info(settings.voice_tts_voice, model_name)
            speech_server = SpeechServer(
                engines,
                settings.wyoming_server_host,
                settings.wyoming_server_port,
                info,
                settings.wyoming_max_audio_bytes,
            )
        return cls(
            settings,
            engines,
            audio,
            camera,
            assistant,
            requests,
            keeper,
            vad,
            satellites,
            speech_server,
        )

    def listeners(self) -> list[IngestListener]:
        """The ingest listeners to register with the device service."""
        listeners: list[IngestListener] = [self.audio]
        if self.camera is not None:
            listeners.append(self.camera)
        return listeners

    async def start(self) -> None:
        """Start the pipelines' worker threads, the speech service and the satellites."""
        self.requests.start()
        self.audio.start()
        if self.camera is not None:
            self.camera.start()
        if self.speech_server is not None:
            await self.speech_server.start()
        settings = self.settings
        await self.satellites.start(
            settings.wyoming_satellites_enabled and settings.mdns_enabled,
            parse_interfaces(settings.mdns_interfaces),
        )

    def status(self) -> VoiceStatus:
        """How voice is set up, and what it has done since the hub started."""
        settings = self.settings
        speech_server = (
            f"{settings.wyoming_server_host}:{settings.wyoming_server_port}"
            if self.speech_server is not None
            else None
        )
        return VoiceStatus(
            wake_phrase=settings.voice_wake_phrase,
            setup=VoiceSetup(
                speech_model=self.keeper.model_name,
                voice=settings.voice_tts_voice,
                words_per_minute=settings.voice_tts_rate,
                end_silence=settings.voice_end_silence,
                conversation_gap=settings.voice_conversation_gap,
                reading_text=self.camera is not None,
                wyoming_server=speech_server,
                finding_satellites=settings.wyoming_satellites_enabled and settings.mdns_enabled,
            ),
            audio=replace(self.audio.counts),
            stt_seconds=self.engines.stt_seconds,
            stt_audio_seconds=self.engines.stt_audio_seconds,
            replies=self.assistant.answered,
            recent_replies=tuple(self.assistant.recent),
            recent=tuple(self.audio.heard[-10:]),
            camera=replace(self.camera.counts) if self.camera is not None else None,
        )

    async def close(self) -> None:
        """Stop the satellites, the speech service and the pipelines; cut replies short."""
        await self.satellites.close()
        if self.speech_server is not None:
            await self.speech_server.stop()
        await asyncio.to_thread(self.audio.close)
        await asyncio.to_thread(self.vad.close)
        if self.camera is not None:
            await asyncio.to_thread(self.camera.close)
        self.requests.close()
