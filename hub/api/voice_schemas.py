"""Request and answer bodies of the voice endpoints: requests are validated at the edge;
answers are built from the voice service's dataclasses (``from_domain``)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Literal

from pydantic import BaseModel, Field

from devices.perception.speech_to_text import Transcription
from hub.api.response_base import ResponseModel
from hub.voice.assistant import SpokenReply
from hub.voice.audio_pipeline import HeardUtterance, PipelineCounts
from hub.voice.camera_pipeline import CameraCounts
from hub.voice.satellite_store import Satellite
from hub.voice.satellites import SatelliteStatus
from hub.voice.status import VoiceSetup, VoiceStatus

MAX_SPEECH_CHARS = 4000


class SpeakIn(BaseModel):
    """Text to say."""

    text: str = Field(min_length=1, max_length=MAX_SPEECH_CHARS)


class SatelliteIn(BaseModel):
    """A satellite by address (for networks without mDNS)."""

    host: str = Field(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9.:\-\[\]]+$")
    port: int = Field(ge=1, le=65535)
    name: str | None = Field(default=None, max_length=100)


class VoiceSetupOut(ResponseModel):
    """The settings and models voice runs with."""

    speech_model: str = Field(description="The Whisper model that transcribes.")
    voice: str = Field(description="The eSpeak NG voice of spoken answers.")
    words_per_minute: int
    end_silence: float = Field(description="Seconds of quiet that end an utterance.")
    conversation_gap: float = Field(description="Seconds of silence that end a conversation.")
    reading_text: bool = Field(description="Whether text seen by glasses is read and kept.")
    wyoming_server: str | None = Field(
        description="host:port of the Wyoming speech service; null when it is off."
    )
    finding_satellites: bool = Field(description="Whether satellites are looked for on mDNS.")

    @classmethod
    def from_domain(cls, setup: VoiceSetup) -> VoiceSetupOut:
        """The answer for the voice setup."""
        return cls(**asdict(setup))


class AudioCountsOut(ResponseModel):
    """What the audio pipeline has done since the hub started."""

    seconds_heard: float = Field(description="Device audio received, to 3 decimals.")
    utterances: int
    transcripts: int = Field(description="Utterances transcribed and kept.")
    requests: int = Field(description="Utterances that asked the assistant.")
    dropped_frames: int = Field(description="Audio frames dropped while the hub was busy.")
    failures: int

    @classmethod
    def from_domain(cls, counts: PipelineCounts) -> AudioCountsOut:
        """The answer for the pipeline's counts."""
        return cls(
            seconds_heard=round(counts.audio_seconds, 3),
            utterances=counts.utterances,
            transcripts=counts.transcripts,
            requests=counts.requests,
            dropped_frames=counts.dropped_frames,
            failures=counts.failures,
        )


class SpeechToTextOut(ResponseModel):
    """Time spent transcribing against the audio it covered, to 3 decimals."""

    seconds: float
    audio_seconds: float


class SpokenReplyOut(ResponseModel):
    """One answered request."""

    request: str
    text: str = Field(description="What the hub said.")
    citations: list[str] = Field(description="Ids of the memories the answer drew on.")
    sentences: int = Field(description="Sentences spoken.")

    @classmethod
    def from_domain(cls, reply: SpokenReply) -> SpokenReplyOut:
        """The answer for one spoken reply."""
        return cls(
            request=reply.request,
            text=reply.text,
            citations=list(reply.citations),
            sentences=reply.sentences,
        )


class HeardOut(ResponseModel):
    """One utterance heard."""

    device_id: str
    text: str
    request: str | None = Field(description="What it asked the assistant, if it asked.")
    started_at: float = Field(description="Seconds into the device's audio stream.")
    ended_by: str = Field(description='Why it ended: "silence", "max_length", "gap" and so on.')

    @classmethod
    def from_domain(cls, heard: HeardUtterance) -> HeardOut:
        """The answer for one utterance."""
        return cls(
            device_id=heard.source,
            text=heard.transcription.text,
            request=heard.request,
            started_at=heard.utterance.start,
            ended_by=heard.utterance.ended_by,
        )


class CameraCountsOut(ResponseModel):
    """What reading text in glasses frames has done since the hub started."""

    frames: int
    superseded: int = Field(description="Frames replaced by a newer one before being read.")
    read: int
    kept: int = Field(description="Texts remembered.")
    same_scene: int = Field(description="Frames skipped as the same view as the last one.")
    same_text: int = Field(description="Texts skipped as seen recently.")
    no_text: int
    failures: int

    @classmethod
    def from_domain(cls, counts: CameraCounts) -> CameraCountsOut:
        """The answer for the camera pipeline's counts."""
        return cls(**asdict(counts))


class VoiceStatusOut(ResponseModel):
    """GET /v1/voice/status."""

    enabled: bool = Field(default=True, description="Always true: with voice off, 503.")
    wake_phrase: str
    setup: VoiceSetupOut
    audio: AudioCountsOut
    speech_to_text: SpeechToTextOut
    replies: int = Field(description="Spoken answers given.")
    recent_replies: list[SpokenReplyOut] = Field(description="The latest few, oldest first.")
    recent: list[HeardOut] = Field(description="The last ten utterances heard, oldest first.")
    camera: CameraCountsOut | None = Field(
        default=None,
        exclude_if=lambda value: value is None,
        description="Present only when text in glasses frames is read.",
    )

    @classmethod
    def from_domain(cls, status: VoiceStatus) -> VoiceStatusOut:
        """The answer for the voice service's status."""
        return cls(
            wake_phrase=status.wake_phrase,
            setup=VoiceSetupOut.from_domain(status.setup),
            audio=AudioCountsOut.from_domain(status.audio),
            speech_to_text=SpeechToTextOut(
                seconds=round(status.stt_seconds, 3),
                audio_seconds=round(status.stt_audio_seconds, 3),
            ),
            replies=status.replies,
            recent_replies=[SpokenReplyOut.from_domain(r) for r in status.recent_replies],
            recent=[HeardOut.from_domain(heard) for heard in status.recent],
            camera=None if status.camera is None else CameraCountsOut.from_domain(status.camera),
        )


class WordOut(ResponseModel):
    """One recognized word."""

    word: str
    start: float = Field(description="Seconds from the start of the audio.")
    end: float
    probability: float


class TranscriptionOut(ResponseModel):
    """POST /v1/voice/transcriptions."""

    text: str
    language: str
    duration: float = Field(description="Seconds of audio.")
    words: list[WordOut]

    @classmethod
    def from_domain(cls, heard: Transcription) -> TranscriptionOut:
        """The answer for one transcription."""
        return cls(
            text=heard.text,
            language=heard.language,
            duration=heard.audio_seconds,
            words=[
                WordOut(word=w.text, start=w.start, end=w.end, probability=w.probability)
                for w in heard.words
            ],
        )


class SatelliteOut(ResponseModel):
    """A Wyoming satellite the hub knows of."""

    id: str
    name: str
    host: str
    port: int
    status: str = Field(description='"discovered", "approved" or "revoked".')
    source: str = Field(description='"mdns" (found on the network) or "address" (typed in).')
    approved_at: float | None = Field(description="Unix time of the approval; null if none.")
    last_seen: float | None = Field(description="Unix time it was last seen on mDNS.")

    @classmethod
    def from_domain(cls, satellite: Satellite) -> SatelliteOut:
        """The answer for one satellite."""
        return cls(**asdict(satellite))


class SatelliteStateOut(SatelliteOut):
    """A satellite with its link's state."""

    connected: bool
    last_error: str | None = Field(description="Why the link last failed; null once connected.")
    pipelines: int = Field(description="Listening sessions the satellite started.")
    requests: int = Field(description="Requests it asked the assistant.")
    played: int = Field(description="Spoken answers it played.")
    last_request: str | None

    @classmethod
    def from_status(cls, row: SatelliteStatus) -> SatelliteStateOut:
        """The answer for one satellite and its link."""
        return cls(**asdict(row.satellite), **asdict(row.link))


class SatelliteListOut(ResponseModel):
    """GET /v1/voice/satellites: every satellite, by id."""

    object: Literal["list"] = "list"
    data: list[SatelliteStateOut]
