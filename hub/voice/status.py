"""What voice reports about itself: how it is set up and what it has done since the hub started
(plain data, copied when asked, so the pipelines may go on counting)."""

from __future__ import annotations

from dataclasses import dataclass

from hub.voice.assistant import SpokenReply
from hub.voice.audio_pipeline import HeardUtterance, PipelineCounts
from hub.voice.camera_pipeline import CameraCounts


@dataclass(frozen=True)
class VoiceSetup:
    """The settings and models voice runs with."""

    speech_model: str
    voice: str
    words_per_minute: int
    end_silence: float
    conversation_gap: float
    reading_text: bool
    wyoming_server: str | None  # host:port of the speech service, None when it is off
    finding_satellites: bool


@dataclass(frozen=True)
class VoiceStatus:
    """How voice is set up, and what it has done since the hub started."""

    wake_phrase: str
    setup: VoiceSetup
    audio: PipelineCounts  # a copy
    stt_seconds: float  # time spent transcribing
    stt_audio_seconds: float  # audio transcribed in that time
    replies: int
    recent_replies: tuple[SpokenReply, ...]  # oldest first
    recent: tuple[HeardUtterance, ...]  # the last ten utterances heard, oldest first
    camera: CameraCounts | None  # a copy; None when reading text in frames is off
