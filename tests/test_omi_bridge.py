"""The Omi webhooks as the Omi app and Omi cloud call them (bodies written from Omi's public
developer documentation): audio bytes of spoken sentences become transcripts through the real
VAD and Whisper; real-time segments, a created conversation and a day summary become memories
found by search, once however often they are resent; wrong secrets, floods and malformed
bodies are refused with clear 4xx and store nothing; the secret never reaches the log."""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from devices.perception.pcm import SAMPLE_RATE, float_to_pcm16
from devices.perception.speech import EspeakSynthesizer
from devices.perception.speech_to_text import Transcription
from devices.perception.vad import SegmenterSettings
from hub.api.app import create_app
from hub.api.bridge_secret_path import split_secret
from hub.bridges.omi_audio import AudioBacklogError, BadAudioError, OmiAudio, to_16k
from hub.settings import Settings
from hub.voice.engines import PerceptionEngines
from hub.voice.transcripts import TranscriptKeeper
from memory.fake_embedder import HashingEmbedder
from memory.protocol import MemoryStore
from memory.types import NewMemory
from tests.fakes import FakeChatModel
from tests.test_client_credentials import served_with_access_log

SECOND = 32_000  # bytes of 16 kHz PCM16 mono

CONVERSATION: dict[str, Any] = {
    "id": "9f3c2a1e-conv",
    "created_at": "2024-07-22T23:59:45.910559+00:00",
    "started_at": "2024-07-21T22:34:43.384323+00:00",
    "finished_at": "2024-07-21T22:35:43.384323+00:00",
    "transcript_segments": [
        {
            "id": "seg-1",
            "text": "Let's discuss the greenhouse project timeline.",
            "speaker": "SPEAKER_00",
            "speaker_id": 0,
            "is_user": False,
            "person_id": None,
            "start": 10.0,
            "end": 15.0,
        }
    ],
    "structured": {
        "title": "Greenhouse Timeline Discussion",
        "overview": "Agreed to finish the greenhouse frame before the first frost in October.",
        "emoji": "🌱",
        "category": "work",
        "action_items": [
            {"description": "Order polycarbonate panels by Friday", "completed": False},
            {"description": "Measure the south wall", "completed": True},
        ],
        "events": [],
    },
    "apps_response": [],
    "geolocation": None,
    "photos": [],
    "discarded": False,
    "language": "en",
    "source": "omi",
}

SEGMENTS: dict[str, Any] = {
    "session_id": "user-7f2",
    "segments": [
        {
            "id": "0d2b7d4e-aaaa",
            "text": "The invoice for the plumber is due on the ninth.",
            "speaker": "SPEAKER_00",
            "speaker_id": 0,
            "is_user": True,
            "person_id": None,
            "start": 12.4,
            "end": 15.1,
        },
        {
            "id": "0d2b7d4e-bbbb",
            "text": "I'll pay it from the house account.",
            "speaker": "SPEAKER_01",
            "speaker_id": 1,
            "is_user": False,
            "person_id": None,
            "start": 15.6,
            "end": 17.0,
        },
    ],
}

DAY = {
    "id": "550e8400-e29b-41d4-a716-446655440000",
    "date": "2024-01-15",
    "created_at": "2024-01-15T22:00:00.000000",
    "headline": "Productive day with three focused work sessions",
    "overview": "Planned the quarter, wrote the telescope mount code, and held a retro.",
    "day_emoji": "💼",
    "stats": {"total_conversations": 3, "total_duration_minutes": 87, "action_items_count": 1},
    "highlights": [
        {
            "topic": "Q2 Roadmap",
            "emoji": "🗺️",
            "summary": "Locked in the priorities.",
            "conversation_ids": ["c1"],
        }
    ],
    "action_items": [
        {
            "description": "Send the proposal to design",
            "priority": "high",
            "completed": False,
            "source_conversation_id": "c1",
        }
    ],
    "unresolved_questions": [{"question": "Which CI pipeline?", "conversation_id": "c1"}],
    "decisions_made": [{"decision": "Move analytics to BigQuery", "conversation_id": "c1"}],
    "knowledge_nuggets": [],
    "locations": [{"name": "Home office", "latitude": 37.7, "longitude": -122.4, "time": "09:30"}],
}


def hub_settings(tmp_path: Path, **changes: Any) -> Settings:
    base: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "personalize_enabled": False,
        "voice_enabled": False,
        "mdns_enabled": False,
        "wyoming_server_port": 0,
        "wyoming_satellites_enabled": False,
        "allowed_hosts": "testserver",  # module fixtures start before the autouse one
    }
    return Settings(**{**base, **changes})


def owner_client(settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings, loader=lambda name: FakeChatModel(), embedder=HashingEmbedder())
    with TestClient(app) as client:
        token = (settings.data_dir / "owner_token").read_text().strip()
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


@pytest.fixture
def api(tmp_path: Path) -> Iterator[TestClient]:
    yield from owner_client(hub_settings(tmp_path))


def add_bridge(api: TestClient, kind: str = "omi", name: str = "pendant") -> tuple[str, str]:
    """(device id, secret) of a new bridge."""
    made = api.post("/v1/bridges", json={"kind": kind, "name": name})
    assert made.status_code == 201, made.text
    return made.json()["id"], made.json()["secret"]


def omi(secret: str, endpoint: str, query: str = "uid=omi-user-1") -> str:
    return f"/bridges/omi/{secret}/{endpoint}?{query}"


def memories(api: TestClient, kind: str | None = None) -> list[dict[str, Any]]:
    params: dict[str, Any] = {"limit": 200, **({"kind": kind} if kind else {})}
    answer = api.get("/v1/memory", params=params)
    assert answer.status_code == 200, answer.text
    data: list[dict[str, Any]] = answer.json()["data"]
    return data


def search(api: TestClient, query: str) -> list[dict[str, Any]]:
    answer = api.post("/v1/memory/search", json={"query": query, "k": 5, "mode": "text"})
    assert answer.status_code == 200, answer.text
    results: list[dict[str, Any]] = answer.json()["results"]
    return results


def test_setup_prints_urls_with_the_secret_in_the_path_for_the_omi_app(api: TestClient) -> None:
    made = api.post("/v1/bridges", json={"kind": "omi", "name": "pendant"}).json()
    setup = "\n".join(made["setup"])
    base = f"http://testserver/bridges/omi/{made['secret']}"
    for url in (f"{base}/audio,5", f"{base}/transcript", f"{base}/conversation"):
        assert url in setup
    assert f"{base}/day-summary" in setup and "Developer" in setup
    # Omi appends "?uid=..." to whatever URL it is given: the path keeps the secret whole.
    assert split_secret(f"/bridges/omi/{made['secret']}/audio") == (
        made["secret"],
        "/bridges/omi/audio",
    )


def test_a_created_conversation_becomes_one_memory_and_resends_add_nothing(
    api: TestClient,
) -> None:
    device_id, secret = add_bridge(api)
    first = api.post(omi(secret, "conversation"), json=CONVERSATION)
    assert first.status_code == 200, first.text
    assert first.json()["added"] == 1
    again = api.post(omi(secret, "conversation"), json=CONVERSATION)
    assert again.json() == {"added": 0, "replaced": 0, "unchanged": 1, "memory_ids": []}
    [note] = memories(api, "note")
    assert note["happened_at"].startswith("2024-07-21T22:34:43")
    assert note["source"] == "device" and note["metadata"]["device_id"] == device_id
    assert "Greenhouse Timeline Discussion" in note["text"]
    assert "Order polycarbonate panels by Friday" in note["text"]
    assert "Measure the south wall (done)" in note["text"]
    hits = search(api, "polycarbonate panels")
    assert [hit["id"] for hit in hits] == [note["id"]]
    # Omi sends the conversation again after it was edited: the memory is replaced, not added.
    edited = {**CONVERSATION, "structured": {**CONVERSATION["structured"], "title": "Frost plan"}}
    replaced = api.post(omi(secret, "conversation"), json=edited).json()
    assert replaced["replaced"] == 1 and replaced["memory_ids"] == [note["id"]]
    [after] = memories(api, "note")
    assert after["id"] == note["id"] and "Frost plan" in after["text"]
    # A discarded conversation, or one that says nothing, stores nothing.
    empty = {"id": "c-empty", "structured": {}, "transcript_segments": [], "discarded": False}
    assert api.post(omi(secret, "conversation"), json=empty).json()["added"] == 0
    discarded = {**CONVERSATION, "id": "c-discarded", "discarded": True}
    assert api.post(omi(secret, "conversation"), json=discarded).json()["added"] == 0
    assert len(memories(api)) == 1
    bridge = next(b for b in api.get("/v1/bridges").json()["data"] if b["id"] == device_id)
    assert bridge["last_seen_at"] is not None


def test_real_time_segments_become_transcripts_once(api: TestClient) -> None:
    device_id, secret = add_bridge(api)
    sent = api.post(omi(secret, "transcript", "uid=user-7f2"), json=SEGMENTS)
    assert sent.status_code == 200, sent.text
    assert sent.json()["added"] == 2
    assert "message" not in sent.json()  # Omi shows a reply's "message" to the person
    assert api.post(omi(secret, "transcript"), json=SEGMENTS).json()["added"] == 0
    # Omi resends the last segment with the next one: only the new one is stored.
    later = {
        "session_id": "user-7f2",
        "segments": [
            SEGMENTS["segments"][1],
            {
                "id": "0d2b7d4e-cccc",
                "text": "Remind me on Monday.",
                "speaker": "SPEAKER_00",
                "speaker_id": 0,
                "is_user": True,
                "start": 18.0,
                "end": 19.2,
            },
        ],
    }
    resent = api.post(omi(secret, "transcript"), json=later).json()
    assert (resent["added"], resent["replaced"], resent["unchanged"]) == (1, 0, 1)
    # The documented bare list, with the session in the query; no id: keyed by its start.
    bare = [{"text": "Agreed, start with iOS.", "speaker": "SPEAKER_01", "speakerId": 1,
             "is_user": False, "start": 16.0, "end": 18.0}]  # fmt: skip
    query = "session_id=abc123&uid=user123"
    assert api.post(omi(secret, "transcript", query), json=bare).json()["added"] == 1
    assert api.post(omi(secret, "transcript", query), json=bare).json()["added"] == 0
    kept = memories(api, "transcript")
    assert len(kept) == 4
    assert {item["metadata"]["device_id"] for item in kept} == {device_id}
    assert {item["metadata"]["via"] for item in kept} == {"omi"}
    invoice = next(item for item in kept if "plumber" in item["text"])
    assert invoice["metadata"]["is_user"] is True
    assert invoice["metadata"]["conversation_id"] == "omi_user-7f2"
    assert [hit["id"] for hit in search(api, "plumber invoice")] == [invoice["id"]]
    # Blank segments are not memories.
    blank = {"session_id": "s", "segments": [{"text": "  ", "start": 1, "end": 2}]}
    assert api.post(omi(secret, "transcript"), json=blank).json()["added"] == 0


def test_a_day_summary_is_one_memory_per_day(api: TestClient) -> None:
    _, secret = add_bridge(api)
    post = {
        "uid": "omi-user-1",
        "created_at": "2024-01-15T22:00:00.123456+00:00",
        "summary": str(DAY),  # the legacy form: Python's str() of the dict
        "summary_json": DAY,
    }
    assert api.post(omi(secret, "day-summary"), json=post).json()["added"] == 1
    assert api.post(omi(secret, "day-summary"), json=post).json()["added"] == 0
    # An older app sends only the Python literal: the same day, nothing new.
    legacy = {key: post[key] for key in ("uid", "created_at", "summary")}
    assert api.post(omi(secret, "day-summary"), json=legacy).json()["unchanged"] == 1
    [day] = memories(api, "note")
    assert day["happened_at"].startswith("2024-01-15")
    assert "Productive day" in day["text"] and "Move analytics to BigQuery" in day["text"]
    assert "Send the proposal to design" in day["text"]
    assert [hit["id"] for hit in search(api, "telescope mount")] == [day["id"]]
    # Another day is another memory; plain text from a very old app is kept as it is.
    plain = {"uid": "u", "created_at": "2024-01-16T21:00:00+00:00", "summary": "A calm Tuesday."}
    assert api.post(omi(secret, "day-summary"), json=plain).json()["added"] == 1
    assert len(memories(api, "note")) == 2


def test_wrong_revoked_and_foreign_secrets_are_401_and_store_nothing(api: TestClient) -> None:
    device_id, secret = add_bridge(api)
    _, nightscout = add_bridge(api, "nightscout", "xDrip")
    no_header = {"Authorization": ""}
    for url in (
        omi("0" * 32, "conversation"),
        omi(nightscout, "conversation"),  # another kind's secret opens only its own endpoints
        "/bridges/omi/conversation?uid=u",  # no secret at all
        omi(secret.upper() + "x", "conversation"),
    ):
        refused = api.post(url, json=CONVERSATION, headers=no_header)
        assert refused.status_code == 401, (url, refused.text)
        assert refused.json()["error"]["code"] == "invalid_bridge_secret"
        assert secret not in refused.text and nightscout not in refused.text
        # The secret is checked before the body is read: a broken body is still a 401.
        assert api.post(url, content=b"{broken", headers=no_header).status_code == 401
    assert api.post(omi("0" * 32, "audio", "sample_rate=16000"), content=b"\0\0").status_code == 401
    assert api.post(f"/v1/devices/{device_id}/revoke").status_code == 200
    for endpoint, body in (("conversation", CONVERSATION), ("transcript", SEGMENTS)):
        assert api.post(omi(secret, endpoint), json=body, headers=no_header).status_code == 401
    assert memories(api) == []


FAR_FUTURE = "9999-12-31T23:59:59-14:00"  # past what a UTC time can hold


def test_malformed_and_oversized_bodies_are_clear_4xx(api: TestClient) -> None:
    _, secret = add_bridge(api)
    cases: list[tuple[str, dict[str, Any], int, str]] = [
        ("conversation", {"content": b"{not json"}, 400, "not valid JSON"),
        ("conversation", {"json": {"id": 5}}, 400, "id"),
        ("conversation", {"json": {"structured": {}}}, 400, "id"),
        ("conversation", {"json": [1, 2]}, 400, "invalid request"),
        ("conversation", {"json": {**CONVERSATION, "started_at": "noon"}}, 400, "started_at"),
        ("conversation", {"json": {"id": "c", "created_at": FAR_FUTURE}}, 400, "1970 to 2200"),
        ("transcript", {"json": {"segments": [{"text": 7}]}}, 400, "text"),
        ("transcript", {"json": [{"text": "x", "start": 1e308}]}, 400, "start"),
        ("transcript", {"json": None}, 400, "object"),
        ("transcript", {"json": {"segments": "many"}}, 400, "segments"),
        ("transcript", {"json": {"segments": [{"text": "x"}] * 2001}}, 400, "2000"),
        ("day-summary", {"json": {"summary_json": {"date": "yesterday"}}}, 400, "date"),
        ("conversation", {"content": b"\xff\xfe" * 10}, 400, "JSON"),
        ("conversation", {"content": b'{"id": "' + b"x" * 2_100_000 + b'"}'}, 413, "HUB_MAX_"),
    ]
    for endpoint, body, status, words in cases:
        answer = api.post(omi(secret, endpoint), **body)
        assert answer.status_code == status, (endpoint, answer.text[:300])
        assert words in answer.json()["error"]["message"], (endpoint, answer.text[:300])
    # A deeply nested legacy summary is not a summary: kept as text, never a crash.
    nested = {"uid": "u", "created_at": "2024-02-01T10:00:00Z", "summary": "{" * 5000}
    assert api.post(omi(secret, "day-summary"), json=nested).status_code == 200
    assert len(memories(api)) == 1


def test_memory_off_and_voice_off_are_503s_naming_the_setting(tmp_path: Path) -> None:
    for client in owner_client(hub_settings(tmp_path, memory_enabled=False)):
        _, secret = add_bridge(client)
        for endpoint in ("conversation", "transcript", "day-summary"):
            answer = client.post(omi(secret, endpoint), json=CONVERSATION)
            assert answer.status_code == 503, answer.text
            assert "HUB_MEMORY_ENABLED=true" in answer.json()["error"]["message"]
        wrong = client.post(omi("f" * 32, "conversation"), json=CONVERSATION)
        assert wrong.status_code == 401  # the secret first, whatever is off
    for client in owner_client(hub_settings(tmp_path / "2")):
        _, secret = add_bridge(client)
        audio = client.post(omi(secret, "audio", "sample_rate=16000&uid=u"), content=b"\0" * 64)
        assert audio.status_code == 503
        assert "HUB_VOICE_ENABLED=true" in audio.json()["error"]["message"]


def test_the_access_log_never_shows_the_secret(tmp_path: Path) -> None:
    settings = hub_settings(tmp_path, allowed_hosts="")
    app = create_app(settings, loader=lambda name: FakeChatModel(), embedder=HashingEmbedder())
    with served_with_access_log(app, settings) as (url, records):
        token = (settings.data_dir / "owner_token").read_text().strip()
        owner = {"Authorization": f"Bearer {token}"}
        made = httpx.post(f"{url}/v1/bridges", json={"kind": "omi"}, headers=owner).json()
        secret = made["secret"]
        base = f"{url}/bridges/omi/{secret}"
        assert httpx.post(f"{base}/conversation?uid=u1", json=CONVERSATION).status_code == 200
        assert httpx.post(f"{base}/transcript?uid=u1", content=b"{").status_code == 400
        assert httpx.post(f"{base}/nowhere?uid=u1", json={}).status_code == 404
        assert httpx.post(f"{base}/audio?sample_rate=16000", content=b"\0\0").status_code == 503
        assert httpx.post(f"{url}/bridges/omi/{secret}", json={}).status_code == 404
        assert httpx.post(f"{url}/v1/devices/{made['id']}/revoke", headers=owner).is_success
        assert httpx.post(f"{base}/conversation?uid=u1", json=CONVERSATION).status_code == 401
    access = [line for line in records.lines if "HTTP/1.1" in line]
    assert any('"POST /bridges/omi/conversation?uid=u1 HTTP/1.1" 200' in x for x in access)
    assert any('"POST /bridges/omi/conversation?uid=u1 HTTP/1.1" 401' in x for x in access)
    assert any('"POST /bridges/omi/nowhere?uid=u1 HTTP/1.1" 404' in x for x in access)
    assert not [line for line in records.lines if secret in line], records.lines


# ----- audio ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def voice_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The app with voice on: the real Silero (in its child process) and Whisper, loaded on
    first use; a fake chat model and embedder, which these tests do not exercise."""
    tmp = tmp_path_factory.mktemp("omi-voice")
    yield from owner_client(hub_settings(tmp, voice_enabled=True, voice_end_silence=0.5))


def wait_for_transcript(api: TestClient, words: tuple[str, ...]) -> dict[str, Any]:
    deadline = time.monotonic() + 180
    seen: list[str] = []
    while time.monotonic() < deadline:
        items = memories(api, "transcript")
        seen = [item["text"] for item in items]
        for item in items:
            if all(word in item["text"].lower() for word in words):
                return item
        time.sleep(0.2)
    raise AssertionError(f"no transcript with {words}; there are {seen}")


@pytest.mark.slow  # the real Whisper
def test_audio_bytes_of_spoken_sentences_become_a_transcript(voice_api: TestClient) -> None:
    device_id, secret = add_bridge(voice_api)
    speech = EspeakSynthesizer(words_per_minute=150).synthesize(
        "I left my keys in the blue drawer next to the fridge."
    )
    silence = b"\0" * SECOND
    pcm = silence + speech + 2 * silence
    # As the app sends it: back-to-back chunks of a few seconds, cut anywhere on a sample.
    cut = (len(pcm) // 2) & ~1
    url = omi(secret, "audio", "sample_rate=16000&uid=omi-user-1")
    for chunk in (pcm[:cut], pcm[cut:]):
        sent = voice_api.post(
            url, content=chunk, headers={"Content-Type": "application/octet-stream"}
        )
        assert sent.status_code == 200, sent.text
        assert sent.json()["received_seconds"] == pytest.approx(len(chunk) / SECOND, abs=0.001)
    said = wait_for_transcript(voice_api, ("keys", "drawer", "fridge"))
    assert said["source"] == "device"
    assert said["metadata"]["device_id"] == device_id and said["metadata"]["via"] == "omi"
    assert said["metadata"]["ended_at"] > said["metadata"]["started_at"]
    assert [hit["id"] for hit in search(voice_api, "blue drawer")] == [said["id"]]


def test_audio_that_is_not_pcm16_at_a_known_rate_is_refused(voice_api: TestClient) -> None:
    _, secret = add_bridge(voice_api)
    octets = {"Content-Type": "application/octet-stream"}
    cases: list[tuple[str, bytes, dict[str, str], int, str]] = [
        ("sample_rate=44", b"\0" * 64, octets, 400, "sample_rate 44"),
        ("sample_rate=16000", b"\0" * 63, octets, 400, "16-bit samples"),
        ("sample_rate=16000", b"", octets, 400, "no audio"),
        ("sample_rate=fast", b"\0" * 64, octets, 400, "sample_rate"),
        ("uid=u", b"\0" * 64, octets, 400, "sample_rate"),
        ("sample_rate=8000", b"\0" * (61 * 16_000), octets, 413, "every x seconds"),
        ("sample_rate=16000", b"\0" * 64, {"Content-Type": "application/json"}, 400, "octet"),
    ]
    for query, body, headers, status, words in cases:
        answer = voice_api.post(omi(secret, "audio", query), content=body, headers=headers)
        assert answer.status_code == status, (query, answer.text)
        assert words in answer.json()["error"]["message"], (query, answer.text)


def noise(seconds: float) -> bytes:
    rng = np.random.default_rng(7)
    return float_to_pcm16(rng.uniform(-0.3, 0.3, int(seconds * SAMPLE_RATE)).astype(np.float32))


def test_a_flood_of_audio_gets_429_with_retry_after_and_is_bounded(voice_api: TestClient) -> None:
    audio = voice_api.app.state.hub.omi.audio  # type: ignore[attr-defined]
    release = threading.Event()

    def stuck_detector() -> Any:
        def probability(chunk: bytes) -> float:
            release.wait(60)  # voice activity detection that cannot keep up
            return 0.0

        return probability

    real_factory = audio.detector_factory
    audio.detector_factory = stuck_detector  # for the next bridge's stream only
    device_id, secret = add_bridge(voice_api)
    url = omi(secret, "audio", "sample_rate=16000&uid=u")
    chunk = noise(50)
    try:
        answers = [voice_api.post(url, content=chunk) for _ in range(4)]
        assert [a.status_code for a in answers[:2]] == [200, 200]
        assert [a.status_code for a in answers[2:]] == [429, 429]
        busy = answers[2]
        assert busy.json()["error"]["code"] == "audio_backlog"
        assert 1 <= int(busy.headers["Retry-After"]) <= 60
        assert audio.waiting_seconds(device_id) <= 120
        # Other bridges are not held up by this one's backlog.
        _, other = add_bridge(voice_api)
        audio.detector_factory = real_factory
        ok = voice_api.post(omi(other, "audio", "sample_rate=16000"), content=b"\0" * SECOND)
        assert ok.status_code == 200
    finally:
        audio.detector_factory = real_factory
        release.set()


# ----- units --------------------------------------------------------------------------------------


class CountingEngines(PerceptionEngines):
    """Speech-to-text that says how long the audio was (no Whisper)."""

    async def transcribe_async(
        self, pcm: bytes, prompt: str | None = None, urgent: bool = False
    ) -> Transcription:
        return Transcription(f"{len(pcm) / SECOND:.1f} seconds", (), "en", len(pcm) / SECOND)


class KeptTranscripts:
    """A memory store that only collects what is added."""

    def __init__(self) -> None:
        self.added: list[NewMemory] = []

    def add(self, new: NewMemory) -> Any:
        self.added.append(new)
        return SimpleNamespace(id=f"mem_{len(self.added)}")


def test_chunks_join_into_one_stream_and_the_backlog_is_bounded() -> None:
    clock = [1_000.0]
    working = {"omi-a": True}

    def detector_factory() -> Any:
        # Speech wherever the chunk is loud: deterministic, no model.
        return lambda chunk: float(np.abs(np.frombuffer(chunk, "<i2")).max() > 1000)

    kept = KeptTranscripts()
    audio = OmiAudio(
        CountingEngines(),
        TranscriptKeeper(cast(MemoryStore, kept)),
        detector_factory,
        SegmenterSettings(end_silence=0.3),
        max_buffered_seconds=10,
        clock=lambda: clock[0],
        still_working=lambda device_id: working.get(device_id, False),
    )
    tone = float_to_pcm16(
        (0.5 * np.sin(np.arange(3 * SAMPLE_RATE) * 2 * math.pi * 220 / SAMPLE_RATE)).astype(
            np.float32
        )
    )
    quiet = b"\0" * SECOND
    cut = 3 * SECOND // 4  # 0.75 s into the tone

    async def heard(utterances: int) -> None:
        # A chunk stops waiting once its utterances are transcribed and kept (or not).
        for _ in range(400):
            if audio.waiting_seconds("omi-a") == 0:
                break
            await asyncio.sleep(0.05)
        assert audio.counts.utterances == utterances, audio.counts

    async def scenario() -> None:
        # 3 s of tone over two calls, each arriving as its audio ends (as the app sends them).
        clock[0] += 1.75
        await audio.accept("omi-a", quiet + tone[:cut], 16000)
        clock[0] += 3.25
        await audio.accept("omi-a", tone[cut:] + quiet, 16000)
        await heard(1)
        [said] = kept.added
        assert said.text.startswith("3.")  # one utterance across the two calls, not two
        assert said.metadata["device_id"] == "omi-a" and said.metadata["via"] == "omi"
        assert 1_000.6 <= said.metadata["started_at"] <= 1_001.0  # when it was said
        assert audio.waiting_seconds("omi-a") == 0
        # Revoked while its audio waited: heard, but not kept.
        working["omi-a"] = False
        clock[0] += 30
        await audio.accept("omi-a", quiet + tone + quiet, 16000)
        await heard(2)
        assert len(kept.added) == 1
        with pytest.raises(BadAudioError, match="sample_rate 7"):
            await audio.accept("omi-a", b"\0\0", 7)
        with pytest.raises(AudioBacklogError) as busy:
            await audio.accept("omi-b", b"\0" * (11 * SECOND), 16000)
        assert busy.value.http_headers()["Retry-After"] == "11"
        assert (audio.counts.transcripts, audio.counts.failures) == (1, 0)
        await audio.close()

    asyncio.run(asyncio.wait_for(scenario(), 60))


def test_audio_at_8_khz_is_resampled_to_16_khz() -> None:
    one_second = b"\1\0" * 8000
    assert len(to_16k(one_second, 8000)) == SECOND
    assert to_16k(one_second, 16000) is one_second
