"""SpokenRequests: a request heard in a device's audio, answered aloud on that device's link.

The audio pipeline calls it from its worker thread; the answer runs on the hub's event loop,
which ``start`` binds when the hub starts.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging

from hub.voice.assistant import SpokenReply, VoiceAssistant
from hub.voice.audio_pipeline import HeardUtterance
from hub.voice.device_replies import DeviceReplySink
from hub.voice.transcripts import TranscriptKeeper
from hub.wearables.service import DeviceService

logger = logging.getLogger(__name__)


class SpokenRequests:
    """Answers device requests and keeps each request as a transcript once answered."""

    def __init__(
        self, devices: DeviceService, assistant: VoiceAssistant, keeper: TranscriptKeeper
    ) -> None:
        self.devices = devices
        self.assistant = assistant
        self.keeper = keeper
        self._loop: asyncio.AbstractEventLoop | None = None
        self._replies: set[concurrent.futures.Future[SpokenReply]] = set()

    def start(self) -> None:
        """Answer on the running event loop from now on."""
        self._loop = asyncio.get_running_loop()

    def heard(self, heard: HeardUtterance) -> None:
        """A device asked something (called from the audio thread): answer on its link."""
        loop = self._loop
        if loop is None or heard.request is None:
            return
        sink = DeviceReplySink(self.devices, heard.source)
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

    def close(self) -> None:
        """Cut replies still being spoken short."""
        self._loop = None
        for reply in list(self._replies):
            reply.cancel()
