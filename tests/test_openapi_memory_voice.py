"""/openapi.json (what /docs shows) names what every endpoint answers: a schema for each JSON
answer, the media type of each file or stream (fast: the app is built in-process, nothing runs)."""

from __future__ import annotations

from typing import Any

import pytest

from hub.api.app import create_app
from hub.api.memory_schemas import MemoryWithHistoryOut
from hub.api.voice_schemas import VoiceStatusOut
from hub.settings import Settings
from hub.voice.audio_pipeline import PipelineCounts
from hub.voice.status import VoiceSetup, VoiceStatus
from memory.types import MemoryItem
from tests.fakes import FakeChatModel


@pytest.fixture(scope="module")
def openapi(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("openapi") / "data",
        memory_enabled=False,
        voice_enabled=False,
        personalize_enabled=False,
        mdns_enabled=False,
    )
    spec: dict[str, Any] = create_app(settings, loader=lambda name: FakeChatModel()).openapi()
    return spec


def answers(openapi: dict[str, Any], prefix: str) -> dict[str, dict[str, Any]]:
    """Each operation under ``prefix`` ("GET /v1/x") and the content of its 200 answer."""
    found = {}
    for path, operations in openapi["paths"].items():
        if path.startswith(prefix):
            for method, operation in operations.items():
                success = operation["responses"].get("200") or operation["responses"]["202"]
                found[f"{method.upper()} {path}"] = success["content"]
    return found


def schema_names(content: dict[str, Any]) -> dict[str, str]:
    """The media types of an answer and the component each names ("" for a bare schema)."""
    return {
        media: body.get("schema", {}).get("$ref", "").rsplit("/", 1)[-1]
        for media, body in content.items()
    }


def test_every_memory_route_names_its_answer(openapi: dict[str, Any]) -> None:
    assert {op: schema_names(c) for op, c in answers(openapi, "/v1/memory").items()} == {
        "POST /v1/memory": {"application/json": "MemoryOut"},
        "GET /v1/memory": {"application/json": "MemoryListOut"},
        "POST /v1/memory/batch": {"application/json": "MemoryIdsOut"},
        "GET /v1/memory/status": {"application/json": "MemoryStatusOut"},
        "GET /v1/memory/export": {"application/x-ndjson": ""},
        "POST /v1/memory/import": {"application/json": "MemoryImportOut"},
        "GET /v1/memory/{memory_id}": {"application/json": "MemoryWithHistoryOut"},
        "PATCH /v1/memory/{memory_id}": {"application/json": "MemoryOut"},
        "DELETE /v1/memory/{memory_id}": {"application/json": "MemoryDeletedOut"},
        "POST /v1/memory/search": {"application/json": "MemorySearchOut"},
        "GET /v1/memory/housekeeping": {"application/json": "HousekeepingOut"},
        "PUT /v1/memory/housekeeping": {"application/json": "HousekeepingOut"},
        "POST /v1/memory/housekeeping/runs": {"application/json": "RunStartedOut"},
        "POST /v1/memory/housekeeping/runs/{run_id}/undo": {"application/json": "RunUndoneOut"},
    }
    import_body = openapi["paths"]["/v1/memory/import"]["post"]["requestBody"]["content"]
    assert list(import_body) == ["application/x-ndjson"]
    schemas = openapi["components"]["schemas"]
    # A memory's fields are all documented as always sent; its history only when asked for.
    read = schemas["MemoryWithHistoryOut"]
    assert "history" not in read["required"] and {"object", "id", "text"} <= set(read["required"])
    assert "description" in read["properties"]["history"]
    hit = schemas["MemoryHitOut"]["properties"]
    assert {"score", "similarity", "snippet", "vector_rank", "text_rank"} <= set(hit)


def test_a_memory_has_history_only_when_asked_for() -> None:
    item = MemoryItem(
        "mem_1", "note", "Parked on level 3", "conversation", "t0", "t0", "t0", {"x": None}, False
    )
    plain = MemoryWithHistoryOut.with_history(item, None).model_dump(mode="json")
    assert "history" not in plain and plain["metadata"] == {"x": None}
    assert MemoryWithHistoryOut.with_history(item, []).model_dump(mode="json")["history"] == []


def test_embeddings_name_their_answer(openapi: dict[str, Any]) -> None:
    assert {op: schema_names(c) for op, c in answers(openapi, "/v1/embeddings").items()} == {
        "POST /v1/embeddings": {"application/json": "EmbeddingListOut"}
    }
    embedding = openapi["components"]["schemas"]["EmbeddingOut"]["properties"]["embedding"]
    assert "base64" in embedding["description"]


def test_every_voice_route_names_its_answer(openapi: dict[str, Any]) -> None:
    assert {op: schema_names(c) for op, c in answers(openapi, "/v1/voice").items()} == {
        "GET /v1/voice/status": {"application/json": "VoiceStatusOut"},
        "POST /v1/voice/speech": {"audio/wav": ""},
        "POST /v1/voice/transcriptions": {"application/json": "TranscriptionOut"},
        "GET /v1/voice/satellites": {"application/json": "SatelliteListOut"},
        "POST /v1/voice/satellites": {"application/json": "SatelliteOut"},
        "POST /v1/voice/satellites/{satellite_id}/approve": {"application/json": "SatelliteOut"},
        "POST /v1/voice/satellites/{satellite_id}/revoke": {"application/json": "SatelliteOut"},
    }
    transcribe = openapi["paths"]["/v1/voice/transcriptions"]["post"]["requestBody"]["content"]
    assert list(transcribe) == ["audio/wav"]
    listed = openapi["components"]["schemas"]["SatelliteStateOut"]["required"]
    assert {"id", "status", "connected", "last_error", "requests"} <= set(listed)


def test_voice_status_shows_camera_counts_only_when_frames_are_read() -> None:
    setup = VoiceSetup("whisper-tiny.en", "en-us", 175, 0.6, 120.0, False, None, False)
    status = VoiceStatus(
        "hey hub", setup, PipelineCounts(audio_seconds=1.23456), 0.0, 0.0, 0, (), (), None
    )
    body = VoiceStatusOut.from_domain(status).model_dump(mode="json")
    assert "camera" not in body and body["setup"]["wyoming_server"] is None
    assert body["audio"]["seconds_heard"] == 1.235
