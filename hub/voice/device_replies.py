"""Spoken replies to a device over its own link, as ``speech`` binary frames."""

from __future__ import annotations

import logging
import time
import uuid
from typing import Protocol, runtime_checkable

from devices.media import SpeechFrame
from hub.wearables.service import DeviceService

logger = logging.getLogger(__name__)


@runtime_checkable
class SpeakingLink(Protocol):
    """A device link that can carry binary frames to the device."""

    async def send_media(self, frame: bytes) -> None:
        """Send one binary frame."""


class DeviceReplySink:
    """Sends each sentence of one reply to the device's open link (dropped if it has none)."""

    def __init__(self, devices: DeviceService, device_id: str) -> None:
        self.devices = devices
        self.device_id = device_id
        self.reply_id = f"reply_{uuid.uuid4().hex[:12]}"
        self.frames_sent = 0
        self._next_index = 0

    async def _send(self, frame: SpeechFrame) -> None:
        link = self.devices.links.get(self.device_id)
        if not isinstance(link, SpeakingLink):
            logger.info(
                "device %s has no open link; reply %s not heard", self.device_id, self.reply_id
            )
            return
        try:
            await link.send_media(frame.to_wire())
            self.frames_sent += 1
        except Exception as exc:  # the device went away mid-reply; it asks again if it wants
            logger.info("could not send reply audio to %s: %s", self.device_id, exc)

    async def sentence(self, index: int, text: str, pcm: bytes) -> None:
        """Send one sentence's audio."""
        self._next_index = index + 1
        await self._send(SpeechFrame(self.reply_id, index, time.time(), pcm, text))

    async def finished(self, text: str) -> None:
        """Send the closing frame (no audio, ``final``)."""
        await self._send(SpeechFrame(self.reply_id, self._next_index, time.time(), b"", final=True))
