"""The hub's own speech-to-text and text-to-speech as a Wyoming service, so Home Assistant (or
any Wyoming client) can use them: describe, transcribe + audio, synthesize."""

from __future__ import annotations

import asyncio
import logging

from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioChunkConverter, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import AsrModel, AsrProgram, Attribution, Describe, Info, TtsProgram, TtsVoice
from wyoming.ping import Ping, Pong
from wyoming.server import AsyncEventHandler, AsyncTcpServer
from wyoming.tts import Synthesize

from devices.perception.pcm import SAMPLE_RATE
from hub import __version__
from hub.voice.engines import PerceptionEngines, SpeechBusyError
from hub.voice.wyoming_audio import AudioFormatError, check_format, check_room

logger = logging.getLogger(__name__)

MAX_AUDIO_BYTES = 120 * SAMPLE_RATE * 2  # two minutes per transcription (the default)
SAMPLES_PER_CHUNK = 1024
ATTRIBUTION = Attribution(name="Walking NAS", url="")


def hub_info(voice: str, model: str) -> Info:
    """What the hub offers: Whisper speech-to-text and an eSpeak NG voice."""
    whisper = AsrModel(
        name=model,
        attribution=Attribution(name="OpenAI Whisper via faster-whisper", url=""),
        installed=True,
        description="speech to text on the hub",
        version=__version__,
        languages=["en"],
    )
    espeak = TtsVoice(
        name=voice,
        attribution=Attribution(name="eSpeak NG", url=""),
        installed=True,
        description="the hub's voice",
        version=__version__,
        languages=[voice.split("-")[0]],
    )
    return Info(
        asr=[
            AsrProgram(
                name="walking-nas-stt",
                attribution=ATTRIBUTION,
                installed=True,
                description="Walking NAS speech to text",
                version=__version__,
                models=[whisper],
            )
        ],
        tts=[
            TtsProgram(
                name="walking-nas-tts",
                attribution=ATTRIBUTION,
                installed=True,
                description="Walking NAS text to speech",
                version=__version__,
                voices=[espeak],
            )
        ],
    )


def speech_events(pcm: bytes) -> list[Event]:
    """audio-start, audio-chunk..., audio-stop for PCM16 mono 16 kHz audio."""
    events = [AudioStart(rate=SAMPLE_RATE, width=2, channels=1).event()]
    step = SAMPLES_PER_CHUNK * 2
    for offset in range(0, len(pcm), step):
        chunk = AudioChunk(rate=SAMPLE_RATE, width=2, channels=1, audio=pcm[offset : offset + step])
        events.append(chunk.event())
    events.append(AudioStop().event())
    return events


class SpeechServiceHandler(AsyncEventHandler):
    """One client connection to the hub's Wyoming speech service."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        engines: PerceptionEngines,
        info: Info,
        max_audio_bytes: int = MAX_AUDIO_BYTES,
    ) -> None:
        super().__init__(reader, writer)
        self.engines = engines
        self.info = info
        self.max_audio_bytes = max_audio_bytes
        self.converter = AudioChunkConverter(rate=SAMPLE_RATE, width=2, channels=1)
        self.audio: bytearray | None = None
        # The utterance at hand was refused: its remaining chunks are dropped, unconverted.
        self.refused = False

    async def handle_event(self, event: Event) -> bool:
        """Answer one event; unknown ones are ignored, as Wyoming peers do, and a malformed one
        gets an error event (the connection stays open)."""
        try:
            await self._answer(event)
        except AudioFormatError as exc:
            self.audio, self.refused = None, True
            await self.write_event(Error(text=str(exc), code=exc.code).event())
        except SpeechBusyError as exc:
            await self.write_event(Error(text=str(exc), code="busy").event())
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            self.audio = None
            await self.write_event(
                Error(text=f"malformed {event.type} event: {exc!r}", code="bad_event").event()
            )
        return True

    async def _answer(self, event: Event) -> None:
        if Describe.is_type(event.type):
            await self.write_event(self.info.event())
        elif Ping.is_type(event.type):
            await self.write_event(Pong(text=Ping.from_event(event).text).event())
        elif Transcribe.is_type(event.type) or AudioStart.is_type(event.type):
            self.refused = False
            if AudioStart.is_type(event.type):
                start = AudioStart.from_event(event)
                check_format(start.rate, start.width, start.channels)
            if self.audio is None or Transcribe.is_type(event.type):
                self.audio = bytearray()
        elif AudioChunk.is_type(event.type):
            if self.refused:
                return
            chunk = AudioChunk.from_event(event)
            # Checked before converting: the size after resampling is the peer's to choose.
            check_room(chunk, len(self.audio or b""), self.max_audio_bytes)
            if self.audio is None:
                self.audio = bytearray()
            self.audio.extend(self.converter.convert(chunk).audio)
        elif AudioStop.is_type(event.type):
            self.refused = False
            if self.audio is not None:
                pcm, self.audio = bytes(self.audio), None
                heard = await self.engines.transcribe_async(pcm, None, True)
                await self.write_event(Transcript(text=heard.text, language="en").event())
        elif Synthesize.is_type(event.type):
            text = Synthesize.from_event(event).text
            pcm = await asyncio.to_thread(self.engines.speak, text[:4000])
            for audio_event in speech_events(pcm):
                await self.write_event(audio_event)


class SpeechServer:
    """The Wyoming TCP server, started and stopped with the hub."""

    def __init__(
        self,
        engines: PerceptionEngines,
        host: str,
        port: int,
        info: Info,
        max_audio_bytes: int = MAX_AUDIO_BYTES,
    ) -> None:
        self.engines = engines
        self.info = info
        self.max_audio_bytes = max_audio_bytes
        self._server = AsyncTcpServer(host, port)

    async def start(self) -> bool:
        """Listen; False (with a warning) when the address is taken."""
        try:
            await self._server.start(
                lambda reader, writer: SpeechServiceHandler(
                    reader, writer, self.engines, self.info, self.max_audio_bytes
                )
            )
        except OSError as exc:
            logger.warning(
                "Wyoming speech service not started on %s:%d (%s); set HUB_WYOMING_SERVER_PORT "
                "to a free port, or 0 to turn it off",
                self._server.host,
                self._server.port,
                exc,
            )
            return False
        logger.info("Wyoming speech service on %s:%d", self._server.host, self._server.port)
        return True

    async def stop(self) -> None:
        """Stop listening and close the connections."""
        await self._server.stop()
        server = getattr(self._server, "_server", None)
        if server is not None:
            server.close()
