"""/bridges/omi/<secret>/...: the Omi app's and Omi cloud's developer webhooks. Audio bytes go
through the hub's speech pipeline into transcripts; real-time transcript segments, created
conversations and day summaries become memories, each exactly once however often Omi resends.

The secret has left the path before these routes run (hub.api.bridge_secret_path); each route
authenticates it first, so a wrong one is a 401 whatever the body holds, and reads the body
itself after that (a body is never parsed for a caller without a working secret)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from hub.api.bridge_secret_path import SECRET_SCOPE_KEY
from hub.api.deps import BridgesDep, HubDep, get_memory, get_voice
from hub.assembly import Hub
from hub.bridges.errors import BridgeSecretError
from hub.bridges.memories import BridgeMemories, KeptMemories, MemoryDraft
from hub.bridges.omi_audio import BadAudioError, OmiAudio
from hub.bridges.omi_payloads import (
    MAX_SEGMENTS,
    Conversation,
    DaySummaryPost,
    TranscriptBatch,
    TranscriptSegment,
    conversation_draft,
    day_summary_draft,
    segment_drafts,
)
from hub.bridges.store import BridgeRecord

router = APIRouter(prefix="/bridges/omi", tags=["bridges"])

Model = TypeVar("Model")

TRANSCRIPT = TypeAdapter(TranscriptBatch)
# The documented bare list of segments, the session then in the query.
SEGMENT_LIST = TypeAdapter(Annotated[list[TranscriptSegment], Field(max_length=MAX_SEGMENTS)])
CONVERSATION = TypeAdapter(Conversation)
DAY_SUMMARY = TypeAdapter(DaySummaryPost)
# Content types an audio body may come as: Omi sends application/octet-stream.
AUDIO_TYPES = frozenset({"", "application/octet-stream", "audio/l16", "audio/pcm"})


async def omi_bridge(request: Request, bridges: BridgesDep) -> BridgeRecord:
    """The working Omi bridge whose secret the URL carried; 401 for any other."""
    secret = request.scope.get(SECRET_SCOPE_KEY, "")
    record = await bridges.find(secret, "omi") if secret else None
    if record is None:
        raise BridgeSecretError(
            "this URL does not carry the secret of a working Omi bridge (revoked, mistyped, or "
            "never made); add one with `hub bridges add omi --name pendant` and paste the URLs "
            "it prints into the Omi app's developer settings"
        )
    await bridges.touch(record.id)
    return record


OmiBridgeDep = Annotated[BridgeRecord, Depends(omi_bridge)]


class AudioAcceptedOut(BaseModel):
    """Audio taken for speech-to-text; transcripts follow as it is heard."""

    received_seconds: float = Field(description="Seconds of audio in this call.")
    waiting_seconds: float = Field(
        description="This bridge's audio not yet through speech-to-text, this call's included."
    )


class MemoriesKeptOut(BaseModel):
    """What a webhook call stored. Resent items are counted as unchanged, never stored twice."""

    added: int
    replaced: int = Field(description="Items Omi sent before that now say something else.")
    unchanged: int
    memory_ids: list[str] = Field(description="The memories added or replaced.")

    @classmethod
    def of(cls, kept: KeptMemories) -> MemoriesKeptOut:
        """The answer for one call."""
        return cls(
            added=len(kept.added),
            replaced=len(kept.replaced),
            unchanged=kept.unchanged,
            memory_ids=[*kept.added, *kept.replaced],
        )


def _memories(hub: Hub) -> BridgeMemories:
    """The bridge memories, or a 503 naming the setting when memory is off."""
    get_memory(hub)
    hub.disk_space.check("new memories from Omi")
    assert hub.omi.memories is not None  # built whenever memory is on
    return hub.omi.memories


async def _parsed(request: Request, adapter: TypeAdapter[Model]) -> Model:
    """The JSON body checked against ``adapter``: bad JSON or wrong types are a 400 naming
    the field (never the values sent)."""
    return _checked(await request.body(), adapter)


def _checked(body: bytes, adapter: TypeAdapter[Model]) -> Model:
    try:
        return adapter.validate_json(body)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False, include_input=False)) from exc


async def _keep(
    hub: Hub, bridge: BridgeRecord, drafts: list[MemoryDraft | None]
) -> MemoriesKeptOut:
    memories = _memories(hub)
    kept = await memories.keep(bridge.id, [draft for draft in drafts if draft is not None])
    return MemoriesKeptOut.of(kept)


@router.post("/audio")
async def receive_omi_audio(
    request: Request,
    hub: HubDep,
    bridge: OmiBridgeDep,
    sample_rate: Annotated[int, Query(description="Samples per second: 16000 or 8000.")],
    uid: Annotated[str, Query(max_length=500, description="The Omi user (not used).")] = "",
) -> AudioAcceptedOut:
    """POST /bridges/omi/{secret}/audio: raw PCM16 little-endian mono audio
    (application/octet-stream), a few seconds of it per call; 429 with Retry-After while this
    bridge's backlog is full."""
    _memories(hub)
    get_voice(hub)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in AUDIO_TYPES:
        raise BadAudioError(
            f"audio bytes come as application/octet-stream, not {content_type}; send raw PCM16"
        )
    audio: OmiAudio | None = hub.omi.audio
    assert audio is not None  # built whenever voice is on
    accepted = await audio.accept(bridge.id, await request.body(), sample_rate)
    return AudioAcceptedOut(
        received_seconds=round(accepted.seconds, 3),
        waiting_seconds=round(accepted.waiting_seconds, 3),
    )


@router.post("/transcript")
async def receive_omi_transcript(
    request: Request,
    hub: HubDep,
    bridge: OmiBridgeDep,
    session_id: Annotated[str, Query(max_length=500)] = "",
    uid: Annotated[str, Query(max_length=500)] = "",
) -> MemoriesKeptOut:
    """POST /bridges/omi/{secret}/transcript: real-time transcript segments,
    ``{"session_id", "segments": [...]}`` or the bare list (the session then from the query):
    each becomes a transcript memory once."""
    _memories(hub)
    body = await request.body()
    if body.lstrip().startswith(b"["):
        segments = _checked(body, SEGMENT_LIST)
        batch = TranscriptBatch(session_id=session_id or uid, segments=segments)
    else:
        batch = _checked(body, TRANSCRIPT)
    if not batch.session_id:
        batch = batch.model_copy(update={"session_id": session_id or uid})
    return await _keep(hub, bridge, list(segment_drafts(batch, datetime.now(UTC))))


@router.post("/conversation")
async def receive_omi_conversation(
    request: Request,
    hub: HubDep,
    bridge: OmiBridgeDep,
    uid: Annotated[str, Query(max_length=500)] = "",
) -> MemoriesKeptOut:
    """POST /bridges/omi/{secret}/conversation: a created conversation (Omi's "memory
    created"): one memory of its title, overview and action items, at its time; a resend adds
    nothing, a changed one replaces it."""
    _memories(hub)
    conversation = await _parsed(request, CONVERSATION)
    return await _keep(hub, bridge, [conversation_draft(conversation, datetime.now(UTC))])


@router.post("/day-summary")
async def receive_omi_day_summary(
    request: Request,
    hub: HubDep,
    bridge: OmiBridgeDep,
    uid: Annotated[str, Query(max_length=500)] = "",
) -> MemoriesKeptOut:
    """POST /bridges/omi/{secret}/day-summary: Omi's daily recap, one memory per day."""
    _memories(hub)
    post = await _parsed(request, DAY_SUMMARY)
    return await _keep(hub, bridge, [day_summary_draft(post, datetime.now(UTC))])
