"""A simulated Home Assistant voice satellite, written with the wyoming package: it advertises
`_wyoming._tcp.local.` on 127.0.0.1, describes itself, and on run-satellite starts a pipeline and
streams speech; it records every event the hub sends and answers the reply audio with played."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from wyoming.audio import AudioChunk, AudioChunkConverter, AudioStart, AudioStop
from wyoming.event import Event
from wyoming.info import Attribution, Describe, Info, Satellite
from wyoming.ping import Ping
from wyoming.pipeline import PipelineStage, RunPipeline
from wyoming.satellite import RunSatellite
from wyoming.server import AsyncEventHandler, AsyncTcpServer
from wyoming.snd import Played

from devices.discovery import Advertiser

WYOMING_SERVICE = "_wyoming._tcp.local."


@dataclass
class SatelliteScript:
    """What the satellite says once the hub runs it, and what it heard back."""

    speech: bytes
    start_stage: PipelineStage = PipelineStage.WAKE
    rate: int = 16000  # the microphone's rate; the hub converts
    stop_after_speech: bool = False  # a satellite with its own VAD ends the audio itself
    received: list[Event] = field(default_factory=list)
    connections: int = 0
    run_satellite: asyncio.Event = field(default_factory=asyncio.Event)
    reply_done: asyncio.Event = field(default_factory=asyncio.Event)
    disconnected: asyncio.Event = field(default_factory=asyncio.Event)

    def of_type(self, kind: str) -> list[Event]:
        """Events of one type the hub sent, oldest first."""
        return [event for event in self.received if event.type == kind]

    def reply_audio(self) -> bytes:
        """Every audio chunk the hub sent."""
        return b"".join(AudioChunk.from_event(e).audio for e in self.of_type("audio-chunk"))


class SatelliteHandler(AsyncEventHandler):
    """One connection from the hub."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, script: SatelliteScript
    ) -> None:
        super().__init__(reader, writer)
        self.script = script
        script.connections += 1
        self._streaming: asyncio.Task[None] | None = None

    async def handle_event(self, event: Event) -> bool:
        script = self.script
        if Describe.is_type(event.type):
            info = Info(
                satellite=Satellite(
                    name="test-kitchen",
                    attribution=Attribution(name="test", url=""),
                    installed=True,
                    description="a simulated satellite",
                    version="1",
                )
            )
            await self.write_event(info.event())
            return True
        script.received.append(event)
        if RunSatellite.is_type(event.type):
            script.run_satellite.set()
            self._streaming = asyncio.create_task(self._stream())
        elif AudioStop.is_type(event.type):
            await self.write_event(Played().event())
            script.reply_done.set()
        return True

    async def _stream(self) -> None:
        await self.write_event(
            RunPipeline(start_stage=self.script.start_stage, end_stage=PipelineStage.TTS).event()
        )
        script = self.script
        await self.write_event(AudioStart(rate=script.rate, width=2, channels=1).event())
        converter = AudioChunkConverter(rate=script.rate, width=2, channels=1)
        step = 2048
        for offset in range(0, len(script.speech), step):
            chunk = AudioChunk(
                rate=16000, width=2, channels=1, audio=script.speech[offset : offset + step]
            )
            await self.write_event(converter.convert(chunk).event())
            await asyncio.sleep(0.01)  # about six times faster than spoken
        if script.stop_after_speech:
            await self.write_event(AudioStop().event())
        await self.write_event(Ping(text="are you there").event())

    async def disconnect(self) -> None:
        if self._streaming is not None:
            self._streaming.cancel()
        self.script.disconnected.set()


class SimulatedSatellite:
    """The satellite's server and its mDNS advert."""

    def __init__(self, script: SatelliteScript, port: int, name: str = "test-kitchen") -> None:
        self.script = script
        self.port = port
        self.name = name
        self._server = AsyncTcpServer("127.0.0.1", port)
        self._advertiser: Advertiser | None = None

    async def start(self, advertise: bool = True) -> None:
        await self._server.start(lambda r, w: SatelliteHandler(r, w, self.script))
        if advertise:
            self._advertiser = Advertiser(["127.0.0.1"])
            await self._advertiser.publish(WYOMING_SERVICE, self.name, "127.0.0.1", self.port, {})

    async def stop(self) -> None:
        await self._server.stop()
        server = getattr(self._server, "_server", None)
        if server is not None:
            server.close()
            await server.wait_closed()
        if self._advertiser is not None:
            await self._advertiser.close()
            self._advertiser = None
