"""SatelliteLink: the hub drives one approved Wyoming satellite the way Home Assistant does:
describe, run-satellite, pings, run-pipeline, the audio stream, transcript, the spoken reply
(synthesize and audio), played; errors end the connection and it is tried again with backoff."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from wyoming.asr import Transcript
from wyoming.audio import AudioChunk, AudioChunkConverter, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Describe, Info
from wyoming.ping import Ping, Pong
from wyoming.pipeline import PipelineStage, RunPipeline
from wyoming.satellite import RunSatellite
from wyoming.snd import Played
from wyoming.tts import Synthesize
from wyoming.vad import VoiceStopped
from wyoming.wake import Detection

from devices.perception.pcm import SAMPLE_RATE
from devices.perception.vad import SegmenterSettings, SpeechProbability, SpeechSegmenter, Utterance
from hub.voice.assistant import VoiceAssistant
from hub.voice.engines import PerceptionEngines, SpeechBusyError
from hub.voice.satellite_store import Satellite
from hub.voice.transcripts import TranscriptKeeper
from hub.voice.wake import only_wake_phrase, request_after_wake_phrase
from hub.voice.wyoming_audio import AudioFormatError, converted_size

logger = logging.getLogger(__name__)

INFO_TIMEOUT = 10.0
MAX_BACKOFF = 10.0


class SatelliteError(RuntimeError):
    """The peer is not a usable satellite (it said so, or never described itself)."""


@dataclass(frozen=True)
class SatelliteVoice:
    """What every satellite link shares: models, assistant, transcripts, settings."""

    engines: PerceptionEngines
    assistant: VoiceAssistant
    keeper: TranscriptKeeper
    detector_factory: Callable[[], SpeechProbability]
    wake_phrase: str
    segmenter: SegmenterSettings


@dataclass
class LinkState:
    """What the person sees about one satellite link."""

    connected: bool = False
    last_error: str | None = None
    pipelines: int = 0
    requests: int = 0
    played: int = 0
    last_request: str | None = None


@dataclass
class _Pipeline:
    run: RunPipeline
    segmenter: SpeechSegmenter
    started: float = field(default_factory=time.time)
    samples: int = 0
    awaiting_command: bool = False  # the wake phrase was said alone: the next utterance asks
    busy: bool = False  # an utterance is being answered: audio meanwhile is the reply's echo
    ended: bool = False  # answered; the satellite starts the next pipeline
    refused: bool = False  # its audio format was refused (said once, not on every chunk)

    @property
    def listening(self) -> bool:
        """True while audio should go to the speech detector."""
        return not self.busy and not self.ended


class WyomingReplySink:
    """Speaks a reply on the satellite: synthesize (the sentence) and its audio, per sentence."""

    def __init__(self, client: AsyncTcpClient) -> None:
        self.client = client
        self.started = False

    async def sentence(self, index: int, text: str, pcm: bytes) -> None:
        """Send one sentence."""
        await self.client.write_event(Synthesize(text=text).event())
        if not self.started:
            await self.client.write_event(AudioStart(rate=SAMPLE_RATE, width=2, channels=1).event())
            self.started = True
        step = 2048
        for offset in range(0, len(pcm), step):
            chunk = AudioChunk(
                rate=SAMPLE_RATE, width=2, channels=1, audio=pcm[offset : offset + step]
            )
            await self.client.write_event(chunk.event())

    async def finished(self, text: str) -> None:
        """End the reply audio."""
        if self.started:
            await self.client.write_event(AudioStop().event())


class SatelliteLink:
    """Keeps one satellite connected while it is approved (cancel the task to stop)."""

    def __init__(self, satellite: Satellite, voice: SatelliteVoice) -> None:
        self.satellite = satellite
        self.voice = voice
        self.state = LinkState()
        self._converter = AudioChunkConverter(rate=SAMPLE_RATE, width=2, channels=1)
        self._work: set[asyncio.Task[None]] = set()

    async def run_forever(self) -> None:
        """Connect, serve, and reconnect after a pause that doubles up to 10 s."""
        pause = 0.5
        while True:
            try:
                await self.connect_once()
                pause = 0.5
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.state.last_error = str(exc) or type(exc).__name__
                logger.info("satellite %s: %s; retrying in %.1f s", self.satellite.id, exc, pause)
            finally:
                self.state.connected = False
                for task in list(self._work):
                    task.cancel()
            await asyncio.sleep(pause)
            pause = min(pause * 2, MAX_BACKOFF)

    async def connect_once(self) -> None:
        """One connection, until the satellite goes away."""
        async with AsyncTcpClient(self.satellite.host, self.satellite.port) as client:
            await client.write_event(Describe().event())
            info = await self._info(client)
            if info.satellite is None:
                raise SatelliteError("it describes itself without a satellite section")
            await client.write_event(RunSatellite().event())
            self.state.connected = True
            self.state.last_error = None
            logger.info("satellite %s connected", self.satellite.id)
            pipeline: _Pipeline | None = None
            while True:
                event = await client.read_event()
                if event is None:
                    raise ConnectionError("the satellite closed the connection")
                pipeline = await self._handle(client, event, pipeline)

    async def _info(self, client: AsyncTcpClient) -> Info:
        async with asyncio.timeout(INFO_TIMEOUT):
            while True:
                event = await client.read_event()
                if event is None:
                    raise ConnectionError("the satellite closed the connection")
                if Info.is_type(event.type):
                    return Info.from_event(event)

    def _new_pipeline(self, run: RunPipeline) -> _Pipeline:
        segmenter = SpeechSegmenter(self.voice.detector_factory(), self.voice.segmenter)
        self.state.pipelines += 1
        return _Pipeline(run, segmenter)

    async def _handle(
        self, client: AsyncTcpClient, event: Event, pipeline: _Pipeline | None
    ) -> _Pipeline | None:
        if Ping.is_type(event.type):
            await client.write_event(Pong(text=Ping.from_event(event).text).event())
        elif RunPipeline.is_type(event.type):
            run = RunPipeline.from_event(event)
            if run.start_stage not in (PipelineStage.WAKE, PipelineStage.ASR):
                await client.write_event(
                    Error(
                        text=f"this hub starts pipelines at wake or asr, not {run.start_stage}",
                        code="unsupported-pipeline",
                    ).event()
                )
                return pipeline
            return self._new_pipeline(run)
        elif AudioChunk.is_type(event.type) and pipeline is not None and pipeline.listening:
            received = AudioChunk.from_event(event)
            try:  # before converting: the size after resampling is the peer's to choose
                converted_size(received)
            except AudioFormatError as exc:
                if not pipeline.refused:
                    pipeline.refused = True
                    await client.write_event(Error(text=str(exc), code=exc.code).event())
                return pipeline
            chunk = self._converter.convert(received)
            t = pipeline.started + pipeline.samples / SAMPLE_RATE
            pipeline.samples += len(chunk.audio) // 2
            heard = await asyncio.to_thread(pipeline.segmenter.feed, chunk.audio, t)
            for utterance in heard:
                self._start_work(client, pipeline, utterance)
        elif AudioStop.is_type(event.type) and pipeline is not None and pipeline.listening:
            for utterance in await asyncio.to_thread(pipeline.segmenter.flush):
                self._start_work(client, pipeline, utterance)
        elif Played.is_type(event.type):
            self.state.played += 1
        elif Error.is_type(event.type):
            logger.warning(
                "satellite %s reports: %s", self.satellite.id, Error.from_event(event).text
            )
        return pipeline

    def _start_work(
        self, client: AsyncTcpClient, pipeline: _Pipeline, utterance: Utterance
    ) -> None:
        pipeline.busy = True
        task = asyncio.create_task(self._utterance(client, pipeline, utterance))
        self._work.add(task)
        task.add_done_callback(self._work.discard)

    async def _utterance(
        self, client: AsyncTcpClient, pipeline: _Pipeline, utterance: Utterance
    ) -> None:
        try:
            await self._answer(client, pipeline, utterance)
        except (ConnectionError, OSError) as exc:
            logger.info("satellite %s went away mid-answer: %s", self.satellite.id, exc)
        except SpeechBusyError as exc:
            await client.write_event(Error(text=str(exc), code="busy").event())
        except Exception:
            logger.exception("satellite %s: answering failed", self.satellite.id)
            await client.write_event(
                Error(text="the hub failed to answer", code="internal").event()
            )
        finally:
            pipeline.busy = False

    async def _answer(
        self, client: AsyncTcpClient, pipeline: _Pipeline, utterance: Utterance
    ) -> None:
        voice = self.voice
        wake_mode = pipeline.run.start_stage == PipelineStage.WAKE and not pipeline.awaiting_command
        await client.write_event(VoiceStopped().event())
        prompt = voice.wake_phrase.capitalize() + "," if wake_mode else None
        heard = await voice.engines.transcribe_async(utterance.pcm, prompt, not wake_mode)
        text = heard.text.strip()
        request: str | None = text or None
        if wake_mode:
            request = request_after_wake_phrase(text, voice.wake_phrase)
            if request is None:
                if only_wake_phrase(text, voice.wake_phrase):
                    pipeline.awaiting_command = True  # "hey hub" alone: the request comes next
                    await client.write_event(Detection(name=voice.wake_phrase).event())
                return  # not for the hub: a satellite's room talk is not kept
            await client.write_event(Detection(name=voice.wake_phrase).event())
        pipeline.awaiting_command = False
        if request is None:
            await client.write_event(
                Error(text="no speech was recognized", code="stt-no-text-recognized").event()
            )
            return
        await client.write_event(Transcript(text=request).event())
        self.state.requests += 1
        self.state.last_request = request
        if pipeline.run.end_stage != PipelineStage.ASR:
            await voice.assistant.answer(request, WyomingReplySink(client))
        await asyncio.to_thread(
            voice.keeper.keep, self.satellite.id, utterance, heard, "wyoming", True
        )
        if pipeline.run.restart_on_end:
            pipeline.segmenter = SpeechSegmenter(voice.detector_factory(), voice.segmenter)
        else:
            pipeline.ended = True
