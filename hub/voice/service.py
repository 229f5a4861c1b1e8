"""VoiceService: the perception engines, the audio and camera pipelines and the assistant of
one hub, built once in create_app and started with it."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from dataclasses import dataclass, field
from typing import Any

from devices.discovery import parse_interfaces
from devices.perception.speech_to_text import check_model_dir
from devices.perception.vad import SegmenterSettings
from devices.perception.vad_process import SileroProcess
from hub.api.services import HubServices
from hub.settings import Settings
from hub.voice.assistant import SpokenReply, VoiceAssistant
from hub.voice.audio_pipeline import AudioPipeline, HeardUtterance
from hub.voice.camera_pipeline import CameraPipeline
from hub.voice.device_replies import DeviceReplySink
from hub.voice.engines import PerceptionEngines
from hub.voice.satellite_link import SatelliteVoice
from hub.voice.satellite_store import SatelliteStore
from hub.voice.satellites import SatelliteManager
from hub.voice.transcripts import TranscriptKeeper
from hub.voice.wyoming_server import SpeechServer, hub_info
from hub.wearables.service import IngestListener

logger = logging.getLogger(__name__)


@dataclass
class VoiceService:
    """Everything voice and perception in one hub."""

    settings: Settings
    services: HubServices
    engines: PerceptionEngines
    audio: AudioPipeline
    camera: CameraPipeline | None
    assistant: VoiceAssistant
    keeper: TranscriptKeeper
    vad: SileroProcess
    satellites: SatelliteManager
    speech_server: SpeechServer | None
    _loop: asyncio.AbstractEventLoop | None = None
    _replies: set[concurrent.futures.Future[SpokenReply]] = field(default_factory=set)

    @classmethod
    def create(cls, settings: Settings, services: HubServices) -> VoiceService:
        """Build (models load on first use, so a hub that hears nothing pays nothing)."""
        if settings.voice_whisper_model is not None:  # a wrong folder fails at start, not later
            check_model_dir(settings.voice_whisper_model)
        engines = PerceptionEngines(
            whisper_model=settings.voice_whisper_model,
            threads=settings.voice_threads,
            tts_voice=settings.voice_tts_voice,
            tts_rate=settings.voice_tts_rate,
            model_activity=services.runner.activity,
        )
        engines.text_to_speech()  # a voice eSpeak NG lacks fails here, saying which it has
        store = services.memory.store if services.memory is not None else None
        model_name = (
            settings.voice_whisper_model.name if settings.voice_whisper_model else "whisper-tiny.en"
        )
        vad = SileroProcess()  # a child process: see devices/perception/vad_process.py
        keeper = TranscriptKeeper(store, settings.voice_conversation_gap, model_name)
        assistant = VoiceAssistant(services, engines, settings.voice_reply_max_tokens)
        camera = CameraPipeline(engines, store) if settings.voice_ocr_enabled else None
        audio = AudioPipeline(
            engines,
            keeper,
            lambda heard: None,  # replaced below, once the service exists
            settings.voice_wake_phrase,
            SegmenterSettings(end_silence=settings.voice_end_silence),
            detector_factory=vad.detector,
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
                engines, settings.wyoming_server_host, settings.wyoming_server_port, info
            )
        voice = cls(
            settings,
            services,
            engines,
            audio,
            camera,
            assistant,
            keeper,
            vad,
            satellites,
            speech_server,
        )
        audio.on_request = voice.request_from_device
        return voice

    def listeners(self) -> list[IngestListener]:
        """The ingest listeners to register with the device service."""
        listeners: list[IngestListener] = [self.audio]
        if self.camera is not None:
            listeners.append(self.camera)
        return listeners

    async def start(self) -> None:
        """Start the pipelines' worker threads, the speech service and the satellites."""
        self._loop = asyncio.get_running_loop()
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

    def request_from_device(self, heard: HeardUtterance) -> None:
        """A device asked something (called from the audio thread): answer on its link."""
        loop = self._loop
        if loop is None or self.services.devices is None or heard.request is None:
            return
        sink = DeviceReplySink(self.services.devices, heard.source)
        future = asyncio.run_coroutine_threadsafe(self._answer(heard, heard.request, sink), loop)
        self._replies.add(future)
        future.add_done_callback(self._reply_done)

    def _reply_done(self, future: concurrent.futures.Future[SpokenReply]) -> None:
        self._replies.discard(future)
        if not future.cancelled() and future.exception() is not None:
            logger.error("a voice reply failed", exc_info=future.exception())

    async def _answer(
        self, heard: HeardUtterance, request: str, sink: DeviceReplySink
    ) -> SpokenReply:
        reply = await self.assistant.answer(request, sink)
        await asyncio.to_thread(
            self.keeper.keep, heard.source, heard.utterance, heard.transcription, "device", True
        )
        return reply

    def status(self) -> dict[str, Any]:
        """How voice is set up, and what it has done since the hub started."""
        audio = self.audio.counts
        settings = self.settings
        speech_server = (
            f"{settings.wyoming_server_host}:{settings.wyoming_server_port}"
            if self.speech_server is not None
            else None
        )
        status: dict[str, Any] = {
            "enabled": True,
            "wake_phrase": settings.voice_wake_phrase,
            "setup": {
                "speech_model": self.keeper.model_name,
                "voice": settings.voice_tts_voice,
                "words_per_minute": settings.voice_tts_rate,
                "end_silence": settings.voice_end_silence,
                "conversation_gap": settings.voice_conversation_gap,
                "reading_text": self.camera is not None,
                "wyoming_server": speech_server,
                "finding_satellites": settings.wyoming_satellites_enabled and settings.mdns_enabled,
            },
            "audio": {
                "seconds_heard": round(audio.audio_seconds, 3),
                "utterances": audio.utterances,
                "transcripts": audio.transcripts,
                "requests": audio.requests,
                "dropped_frames": audio.dropped_frames,
                "failures": audio.failures,
            },
            "speech_to_text": {
                "seconds": round(self.engines.stt_seconds, 3),
                "audio_seconds": round(self.engines.stt_audio_seconds, 3),
            },
            "replies": self.assistant.answered,
            "recent_replies": [
                {
                    "request": reply.request,
                    "text": reply.text,
                    "citations": list(reply.citations),
                    "sentences": reply.sentences,
                }
                for reply in self.assistant.recent
            ],
            "recent": [
                {
                    "device_id": heard.source,
                    "text": heard.transcription.text,
                    "request": heard.request,
                    "started_at": heard.utterance.start,
                    "ended_by": heard.utterance.ended_by,
                }
                for heard in self.audio.heard[-10:]
            ],
        }
        if self.camera is not None:
            status["camera"] = vars(self.camera.counts).copy()
        return status

    async def close(self) -> None:
        """Stop the satellites, the speech service and the pipelines; cut replies short."""
        await self.satellites.close()
        if self.speech_server is not None:
            await self.speech_server.stop()
        await asyncio.to_thread(self.audio.close)
        await asyncio.to_thread(self.vad.close)
        if self.camera is not None:
            await asyncio.to_thread(self.camera.close)
        for reply in list(self._replies):
            reply.cancel()
