"""Reading a conversation shows the person's feedback: each answer's rating and correction, and
whether the hub may learn from the conversation (fast: fake model, real SQLite, real API)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hub.api.app import create_app
from hub.settings import Settings
from memory.fake_embedder import HashingEmbedder
from tests.fakes import FakeChatModel


@pytest.fixture
def api(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        data_dir=tmp_path / "data",
        personalize_enabled=False,
        voice_enabled=False,
        mdns_enabled=False,
    )
    app = create_app(settings, loader=lambda name: FakeChatModel(), embedder=HashingEmbedder())
    with TestClient(app) as client:
        token = (tmp_path / "data" / "owner_token").read_text().strip()
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


def answered_conversation(api: TestClient) -> tuple[int, int]:
    """A conversation with one question and its answer: (conversation id, answer id)."""
    conversation = api.post("/v1/conversations", json={}).json()
    with api.stream(
        "POST", f"/v1/conversations/{conversation['id']}/messages", json={"content": "Hi"}
    ) as response:
        response.read()
    messages = api.get(f"/v1/conversations/{conversation['id']}").json()["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant"]
    return conversation["id"], messages[1]["id"]


def test_a_reopened_conversation_shows_ratings_corrections_and_learning(
    api: TestClient,
) -> None:
    conversation_id, answer_id = answered_conversation(api)
    fresh = api.get(f"/v1/conversations/{conversation_id}").json()
    assert fresh["learn"] is True
    assert fresh["messages"][1]["rating"] is None
    assert fresh["messages"][1]["edited_content"] is None

    saved = api.put(
        f"/v1/personalization/messages/{answer_id}",
        json={"rating": "good", "edited_content": "Hello! How can I help?"},
    )
    assert saved.status_code == 200
    api.put(f"/v1/personalization/conversations/{conversation_id}", json={"learn": False})

    reopened = api.get(f"/v1/conversations/{conversation_id}").json()
    assert reopened["learn"] is False
    answer = reopened["messages"][1]
    assert answer["rating"] == "good"
    assert answer["edited_content"] == "Hello! How can I help?"
    assert answer["content"] != answer["edited_content"]  # the original answer is kept
    listed = api.get("/v1/conversations").json()["data"]
    assert [c["learn"] for c in listed if c["id"] == conversation_id] == [False]


def test_clearing_a_rating_and_correction_reads_back_as_none(api: TestClient) -> None:
    conversation_id, answer_id = answered_conversation(api)
    api.put(f"/v1/personalization/messages/{answer_id}", json={"rating": "bad"})
    cleared = api.put(
        f"/v1/personalization/messages/{answer_id}", json={"rating": None, "edited_content": None}
    )
    assert cleared.status_code == 200
    answer = api.get(f"/v1/conversations/{conversation_id}").json()["messages"][1]
    assert (answer["rating"], answer["edited_content"]) == (None, None)


def test_feedback_on_the_persons_own_message_or_an_unknown_one_is_refused(
    api: TestClient,
) -> None:
    conversation_id, _ = answered_conversation(api)
    question_id = api.get(f"/v1/conversations/{conversation_id}").json()["messages"][0]["id"]
    own = api.put(f"/v1/personalization/messages/{question_id}", json={"rating": "good"})
    assert own.status_code == 400
    assert "only answers" in own.json()["error"]["message"]
    unknown = api.put("/v1/personalization/messages/999999", json={"rating": "good"})
    assert unknown.status_code == 404
    assert "no message with id 999999" in unknown.json()["error"]["message"]
