"""/v1/voice: what voice and perception have done, and speech in and out for programs."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from devices.perception.pcm import SAMPLE_RATE, read_wav, wav_bytes
from hub.api.auth import require_owner
from hub.api.deps import VoiceDep
from hub.api.errors import HubAPIError
from hub.api.voice_schemas import (
    SatelliteIn,
    SatelliteListOut,
    SatelliteOut,
    SatelliteStateOut,
    SpeakIn,
    TranscriptionOut,
    VoiceStatusOut,
)

router = APIRouter(prefix="/v1/voice", tags=["voice"], dependencies=[Depends(require_owner)])

MAX_AUDIO_SECONDS = 120
# A mono 16-bit 16 kHz WAV file, as a request or answer body.
WAV_CONTENT: dict[str, Any] = {"audio/wav": {"schema": {"type": "string", "format": "binary"}}}


@router.get("/status")
async def read_voice_status(voice: VoiceDep) -> VoiceStatusOut:
    """Counts of audio heard, transcripts, requests, replies and frames read."""
    return VoiceStatusOut.from_domain(voice.status())


@router.post(
    "/speech",
    response_class=Response,
    responses={200: {"content": WAV_CONTENT, "description": "16 kHz mono 16-bit WAV audio."}},
)
async def create_speech(body: SpeakIn, voice: VoiceDep) -> Response:
    """Say ``text`` with the hub's voice: a 16 kHz mono WAV file."""
    pcm = await asyncio.to_thread(voice.engines.speak, body.text)
    return Response(wav_bytes(pcm), media_type="audio/wav")


@router.post(
    "/transcriptions",
    openapi_extra={"requestBody": {"required": True, "content": WAV_CONTENT}},
)
async def create_transcription(request: Request, voice: VoiceDep) -> TranscriptionOut:
    """Transcribe a mono 16-bit 16 kHz WAV file (the request body), with word timestamps."""
    try:
        pcm, rate = read_wav(await request.body())
    except (ValueError, EOFError) as exc:
        raise HubAPIError(400, f"send a mono 16-bit WAV file as the body ({exc})") from exc
    if rate != SAMPLE_RATE:
        raise HubAPIError(400, f"the WAV file is {rate} Hz; send 16000 Hz audio")
    if len(pcm) > MAX_AUDIO_SECONDS * SAMPLE_RATE * 2:
        raise HubAPIError(413, f"at most {MAX_AUDIO_SECONDS} s of audio per request")
    heard = await voice.engines.transcribe_async(pcm, None, True)
    return TranscriptionOut.from_domain(heard)


@router.get("/satellites")
async def read_satellites(voice: VoiceDep) -> SatelliteListOut:
    """Wyoming satellites found or added, approved or not, with their link's state."""
    rows = await voice.satellites.list()
    return SatelliteListOut(data=[SatelliteStateOut.from_status(row) for row in rows])


@router.post("/satellites")
async def create_satellite(body: SatelliteIn, voice: VoiceDep) -> SatelliteOut:
    """Add a satellite by address; it is approved, since the person typed it."""
    satellite = await voice.satellites.add(
        body.name or f"{body.host}:{body.port}", body.host, body.port
    )
    return SatelliteOut.from_domain(satellite)


@router.post("/satellites/{satellite_id}/approve")
async def approve_satellite(satellite_id: str, voice: VoiceDep) -> SatelliteOut:
    """Let the hub listen to this satellite."""
    return SatelliteOut.from_domain(await voice.satellites.approve(satellite_id))


@router.post("/satellites/{satellite_id}/revoke")
async def revoke_satellite(satellite_id: str, voice: VoiceDep) -> SatelliteOut:
    """Stop listening to this satellite at once."""
    return SatelliteOut.from_domain(await voice.satellites.revoke(satellite_id))
