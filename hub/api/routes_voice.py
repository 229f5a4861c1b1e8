"""/v1/voice: what voice and perception have done, and speech in and out for programs."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from devices.perception.pcm import SAMPLE_RATE, read_wav, wav_bytes
from hub.api.auth import require_owner
from hub.api.deps import VoiceDep
from hub.api.errors import HubAPIError

router = APIRouter(prefix="/v1/voice", tags=["voice"], dependencies=[Depends(require_owner)])

MAX_SPEECH_CHARS = 4000
MAX_AUDIO_SECONDS = 120


class SpeakIn(BaseModel):
    """Text to say."""

    text: str = Field(min_length=1, max_length=MAX_SPEECH_CHARS)


class SatelliteIn(BaseModel):
    """A satellite by address (for networks without mDNS)."""

    host: str = Field(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9.:\-\[\]]+$")
    port: int = Field(ge=1, le=65535)
    name: str | None = Field(default=None, max_length=100)


@router.get("/status")
async def read_voice_status(voice: VoiceDep) -> dict[str, Any]:
    """Counts of audio heard, transcripts, requests, replies and frames read."""
    return voice.status()


@router.post("/speech")
async def create_speech(body: SpeakIn, voice: VoiceDep) -> Response:
    """Say ``text`` with the hub's voice: a 16 kHz mono WAV file."""
    pcm = await asyncio.to_thread(voice.engines.speak, body.text)
    return Response(wav_bytes(pcm), media_type="audio/wav")


@router.post("/transcriptions")
async def create_transcription(request: Request, voice: VoiceDep) -> dict[str, Any]:
    """Transcribe a mono 16-bit 16 kHz WAV file (the request body), with word timestamps."""
    try:
        pcm, rate = read_wav(await request.body())
    except (ValueError, EOFError) as exc:
        raise HubAPIError(400, f"send a mono 16-bit WAV file as the body ({exc})") from exc
    if rate != SAMPLE_RATE:
        raise HubAPIError(400, f"the WAV file is {rate} Hz; send 16000 Hz audio")
    if len(pcm) > MAX_AUDIO_SECONDS * SAMPLE_RATE * 2:
        raise HubAPIError(413, f"at most {MAX_AUDIO_SECONDS} s of audio per request")
    heard = await asyncio.to_thread(voice.engines.transcribe, pcm, None, True)
    return {
        "text": heard.text,
        "language": heard.language,
        "duration": heard.audio_seconds,
        "words": [
            {"word": w.text, "start": w.start, "end": w.end, "probability": w.probability}
            for w in heard.words
        ],
    }


@router.get("/satellites")
async def read_satellites(voice: VoiceDep) -> dict[str, Any]:
    """Wyoming satellites found or added, approved or not, with their link's state."""
    return {"object": "list", "data": await voice.satellites.list()}


@router.post("/satellites")
async def create_satellite(body: SatelliteIn, voice: VoiceDep) -> dict[str, Any]:
    """Add a satellite by address; it is approved, since the person typed it."""
    satellite = await voice.satellites.add(
        body.name or f"{body.host}:{body.port}", body.host, body.port
    )
    return satellite.to_dict()


@router.post("/satellites/{satellite_id}/approve")
async def approve_satellite(satellite_id: str, voice: VoiceDep) -> dict[str, Any]:
    """Let the hub listen to this satellite."""
    satellite = await voice.satellites.approve(satellite_id)
    return satellite.to_dict()


@router.post("/satellites/{satellite_id}/revoke")
async def revoke_satellite(satellite_id: str, voice: VoiceDep) -> dict[str, Any]:
    """Stop listening to this satellite at once."""
    satellite = await voice.satellites.revoke(satellite_id)
    return satellite.to_dict()
