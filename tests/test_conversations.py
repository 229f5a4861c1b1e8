"""Conversations: the SQLite store, and the /v1/conversations API over a fake model (fast)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from hub.api.app import create_app
from hub.conversations.preferences import ChatPreferences, SqlitePreferencesStore
from hub.conversations.store import (
    CONVERSATIONS_DB_NAME,
    AssistantAnswer,
    ConversationNotFoundError,
    ConversationStateError,
    SqliteConversationStore,
    title_from_message,
)
from hub.engine.stop_text import StopTextFilter
from hub.engine.types import ChatMessage, GenerationStats, Prompt, SamplingParams
from hub.recall.context import DEFAULT_SYSTEM
from hub.settings import Settings
from memory.embedder import Vectors
from memory.fake_embedder import HashingEmbedder
from tests.fakes import FakeChatModel


def answer(text: str, stopped: bool = False) -> AssistantAnswer:
    return AssistantAnswer(text, "fake", stopped, "cancelled" if stopped else "stop", 99.0)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteConversationStore]:
    opened = SqliteConversationStore.open(tmp_path)
    yield opened
    opened.close()


def test_messages_are_kept_in_order_and_survive_reopening(tmp_path: Path) -> None:
    store = SqliteConversationStore.open(tmp_path)
    conversation = store.create_conversation()
    assert conversation.title == "New chat"
    store.add_user_message(conversation.id, "What is the tallest tree on Earth?")
    stored = store.add_assistant_message(conversation.id, answer("A coast redwood."))
    assert stored is not None and stored.tokens_per_second == 99.0
    store.close()

    reopened = SqliteConversationStore.open(tmp_path)
    loaded = reopened.get_conversation(conversation.id)
    assert loaded.summary.title == "What is the tallest tree on Earth?"
    assert [(m.role, m.content) for m in loaded.messages] == [
        ("user", "What is the tallest tree on Earth?"),
        ("assistant", "A coast redwood."),
    ]
    reopened.close()
    with sqlite3.connect(tmp_path / CONVERSATIONS_DB_NAME) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("SELECT name FROM _migrations").fetchall() == [
            ("m001_initial",),
            ("m002_learning_feedback",),
        ]


def test_list_is_newest_first_and_search_matches_titles_and_text(
    store: SqliteConversationStore,
) -> None:
    birds = store.create_conversation("Birds")
    store.add_user_message(birds.id, "Why do owls hoot at night?")
    cooking = store.create_conversation("Cooking")
    store.add_user_message(cooking.id, "A recipe for 100% rye bread")
    assert [c.id for c in store.list_conversations()] == [cooking.id, birds.id]
    store.add_user_message(birds.id, "And ravens?")
    assert [c.id for c in store.list_conversations()] == [birds.id, cooking.id]
    assert [c.id for c in store.list_conversations("OWLS")] == [birds.id]
    assert [c.id for c in store.list_conversations("cook")] == [cooking.id]
    assert [c.id for c in store.list_conversations("100%")] == [cooking.id]
    assert store.list_conversations("_") == []  # LIKE wildcards are matched literally


def test_rename_and_delete(store: SqliteConversationStore) -> None:
    conversation = store.create_conversation()
    store.add_user_message(conversation.id, "hello")
    assert store.rename_conversation(conversation.id, "Greetings").title == "Greetings"
    store.delete_conversation(conversation.id)
    with pytest.raises(ConversationNotFoundError, match="GET /v1/conversations"):
        store.get_conversation(conversation.id)
    with pytest.raises(ConversationNotFoundError):
        store.delete_conversation(conversation.id)
    # An answer that finishes after its conversation was deleted is dropped, not an error.
    assert store.add_assistant_message(conversation.id, answer("late")) is None


def test_regenerate_replaces_the_last_answer(store: SqliteConversationStore) -> None:
    conversation = store.create_conversation()
    with pytest.raises(ConversationStateError, match="send a message first"):
        store.regeneration_history(conversation.id)
    store.add_user_message(conversation.id, "Tell me a joke")
    first = store.add_assistant_message(conversation.id, answer("Knock knock", stopped=True))
    assert first is not None and first.stopped
    history, replaces = store.regeneration_history(conversation.id)
    assert [m.role for m in history] == ["user"] and replaces == first.id
    store.add_assistant_message(conversation.id, answer("A better joke"), replaces=replaces)
    messages = store.get_conversation(conversation.id).messages
    assert [m.content for m in messages] == ["Tell me a joke", "A better joke"]
    assert not messages[-1].stopped


def test_only_the_last_user_message_can_be_edited(store: SqliteConversationStore) -> None:
    conversation = store.create_conversation()
    first = store.add_user_message(conversation.id, "one")
    store.add_assistant_message(conversation.id, answer("1"))
    last = store.add_user_message(conversation.id, "two")
    store.add_assistant_message(conversation.id, answer("2"))
    with pytest.raises(ConversationStateError, match="only the last one"):
        store.edit_last_user_message(conversation.id, first.id, "uno")
    history = store.edit_last_user_message(conversation.id, last.id, "dos")
    assert [m.content for m in history] == ["one", "1", "dos"]


def test_titles_from_long_first_messages_are_cut_at_a_word() -> None:
    title = title_from_message("word " * 40)
    assert title.endswith("…") and len(title) <= 61 and "  " not in title
    assert title_from_message("  \n ") == "New chat"


def test_preferences_round_trip(store: SqliteConversationStore) -> None:
    preferences = SqlitePreferencesStore(store.database)
    assert preferences.read_preferences() == ChatPreferences()
    wanted = ChatPreferences("You are terse.", 0.2, 64)
    preferences.save_preferences(wanted)
    assert preferences.read_preferences() == wanted


# --- the HTTP API, with a fake model ---


class RecordingModel(FakeChatModel):
    """A fake model that remembers the last conversation it was asked to answer."""

    def __init__(self) -> None:
        super().__init__(context_length=4096, reply="Hello there from the fake model")
        self.seen: list[ChatMessage] = []

    def render_chat(self, messages: list[ChatMessage]) -> Prompt:
        self.seen = list(messages)
        return super().render_chat(messages)


@pytest.fixture
def model() -> RecordingModel:
    return RecordingModel()


@contextmanager
def owner_client(
    tmp_path: Path, model: FakeChatModel, embedder: HashingEmbedder
) -> Iterator[TestClient]:
    """A hub app around ``model`` and ``embedder``, and a client holding the owner's token."""
    # Memory stays on (every turn recalls, with an exact fake embedder); voice and mDNS play no
    # part in conversations.
    settings = Settings(data_dir=tmp_path / "data", voice_enabled=False, mdns_enabled=False)
    app = create_app(settings, loader=lambda name: model, embedder=embedder)
    with TestClient(app) as client:
        token = (tmp_path / "data" / "owner_token").read_text().strip()
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


def ask(client: TestClient, said: str) -> str:
    """One chat turn through /v1/chat/completions; the answer's text."""
    answer = client.post(
        "/v1/chat/completions",
        json={"model": "smollm2-135m-instruct", "messages": [{"role": "user", "content": said}]},
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["choices"][0]["message"]["content"])


@pytest.fixture
def api(tmp_path: Path, model: RecordingModel) -> Iterator[TestClient]:
    with owner_client(tmp_path, model, HashingEmbedder()) as client:
        yield client


def read_events(client: TestClient, method: str, path: str, **kwargs: Any) -> list[Any]:
    with client.stream(method, path, **kwargs) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        events = []
        for line in response.iter_lines():
            if line.startswith("data: "):
                data = line[6:]
                events.append(data if data == "[DONE]" else json.loads(data))
    return events


def streamed_text(events: list[Any]) -> str:
    return "".join(
        choice["delta"].get("content", "")
        for event in events
        if isinstance(event, dict)
        for choice in event.get("choices", [])
    )


def test_a_turn_streams_openai_chunks_and_stores_both_messages(
    api: TestClient, model: RecordingModel
) -> None:
    conversation = api.post("/v1/conversations", json={}).json()
    assert conversation["object"] == "conversation"
    events = read_events(
        api, "POST", f"/v1/conversations/{conversation['id']}/messages", json={"content": "Hi!"}
    )
    assert events[-1] == "[DONE]"
    first, final = events[0], events[-2]
    assert first["object"] == "chat.completion.chunk"
    assert first["user_message"]["content"] == "Hi!"
    assert streamed_text(events) == "Hello there from the fake model"
    assert final["choices"][0]["finish_reason"] == "stop"
    assert final["stopped"] is False and final["citations"] == []
    assert "decode_tokens_per_second" in final["timings"]
    assert final["conversation"]["title"] == "Hi!"

    stored = api.get(f"/v1/conversations/{conversation['id']}").json()
    assert [m["role"] for m in stored["messages"]] == ["user", "assistant"]
    assert stored["messages"][1]["id"] == final["message_id"]
    assert stored["messages"][1]["content"] == "Hello there from the fake model"
    assert [c["id"] for c in api.get("/v1/conversations").json()["data"]] == [conversation["id"]]
    assert model.seen == [ChatMessage("system", DEFAULT_SYSTEM), ChatMessage("user", "Hi!")]


def test_preferences_apply_to_turns(api: TestClient, model: RecordingModel) -> None:
    saved = api.put(
        "/v1/preferences",
        json={"system_prompt": "You are a pirate.", "temperature": 0.1, "max_tokens": 3},
    )
    assert saved.status_code == 200 and saved.json()["max_tokens"] == 3
    conversation = api.post("/v1/conversations", json={"title": "Ahoy"}).json()
    events = read_events(
        api, "POST", f"/v1/conversations/{conversation['id']}/messages", json={"content": "Hi"}
    )
    assert model.seen[0] == ChatMessage("system", "You are a pirate.")
    assert streamed_text(events) == "Hello there from"
    assert api.get("/v1/preferences").json()["system_prompt"] == "You are a pirate."


def test_regenerate_and_edit_endpoints(api: TestClient, model: RecordingModel) -> None:
    conversation_id = api.post("/v1/conversations").json()["id"]
    base = f"/v1/conversations/{conversation_id}"
    first = read_events(api, "POST", f"{base}/messages", json={"content": "first"})
    user_id = first[0]["user_message"]["id"]
    again = read_events(api, "POST", f"{base}/regenerate")
    messages = api.get(base).json()["messages"]
    assert len(messages) == 2 and messages[1]["id"] == again[-2]["message_id"]

    edited = read_events(api, "PUT", f"{base}/messages/{user_id}", json={"content": "changed"})
    assert edited[0]["user_message"]["content"] == "changed"
    messages = api.get(base).json()["messages"]
    assert messages[0]["content"] == "changed" and len(messages) == 2
    assert model.seen == [ChatMessage("system", DEFAULT_SYSTEM), ChatMessage("user", "changed")]

    assert api.patch(base, json={"title": "  Renamed  "}).json()["title"] == "Renamed"
    assert api.delete(base).json()["deleted"] is True
    assert api.get(base).status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "words"),
    [
        ("GET", "/v1/conversations/999", None, 404, "no conversation with id 999"),
        ("GET", "/v1/conversations/abc", None, 400, "conversation_id"),
        ("GET", "/v1/conversations/99999999999999999999999", None, 400, "conversation_id"),
        ("POST", "/v1/conversations/{id}/messages", {"content": "   "}, 400, "empty"),
        ("POST", "/v1/conversations/{id}/messages", {"content": 5}, 400, "content"),
        ("POST", "/v1/conversations/{id}/messages", {"content": "x" * 40_000}, 400, "content"),
        ("POST", "/v1/conversations/{id}/messages", {"text": "hi"}, 400, "content"),
        ("POST", "/v1/conversations/{id}/messages", [1, 2], 400, "invalid"),
        ("POST", "/v1/conversations/999/messages", {"content": "hi"}, 404, "999"),
        ("POST", "/v1/conversations/{id}/regenerate", None, 409, "send a message first"),
        ("PUT", "/v1/conversations/{id}/messages/5", {"content": "hi"}, 409, "last message"),
        ("PATCH", "/v1/conversations/{id}", {"title": ""}, 400, "empty"),
        ("PATCH", "/v1/conversations/{id}", {"title": None}, 400, "title"),
        ("GET", "/v1/conversations?limit=0", None, 400, "limit"),
        ("PUT", "/v1/preferences", {"temperature": 9}, 400, "temperature"),
    ],
)
def test_bad_requests_are_clear_4xx_in_the_openai_shape(
    api: TestClient, method: str, path: str, body: Any, status: int, words: str
) -> None:
    conversation_id = api.post("/v1/conversations").json()["id"]
    url = path.replace("{id}", str(conversation_id))
    response = api.request(method, url, json=body) if body is not None else api.request(method, url)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert words in error["message"], error
    assert set(error) == {"message", "type", "param", "code"}


def test_conversations_need_the_owner(api: TestClient) -> None:
    refused = api.get("/v1/conversations", headers={"Authorization": "Bearer nope"})
    assert refused.status_code == 401
    del api.headers["Authorization"]
    missing = api.get("/v1/conversations")
    assert (
        missing.status_code == 401 and "sign in to the web UI" in missing.json()["error"]["message"]
    )


class TextRecordingEmbedder(HashingEmbedder):
    """The exact fake embedder, noting every text it is asked to embed."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Note the texts, then embed them as the hashing embedder does."""
        self.texts.extend(texts)
        return super().embed(texts)


def test_a_chat_turn_embeds_what_was_said_once_for_all_its_searches(tmp_path: Path) -> None:
    embedder = TextRecordingEmbedder()
    with owner_client(tmp_path, RecordingModel(), embedder) as client:
        for said, embeddings in [
            ("Where does my sister live?", 1),  # searched by words and meaning, then by meaning
            ("My sister lives in Oslo now.", 2),  # searched, then stored as a memory
        ]:
            embedder.texts.clear()
            ask(client, said)
            assert embedder.texts == [said] * embeddings


ECHOING_REPLY = (
    "Your sister lives in Oslo.  Answer the question in one short sentence using the note. "
    "Question: Where does my brother live?"
)


class EchoingModel(RecordingModel):
    """A base model on a plain transcript: after its answer it repeats the hub's instruction
    and asks itself the next question. Stop texts cut it as the real engine does."""

    def generate(
        self,
        prompt: Prompt,
        params: SamplingParams,
        stats: GenerationStats,
        cancelled: Callable[[], bool],
    ) -> Iterator[str]:
        """The fixed reply, cut where a stop text of the prompt or the request begins."""
        stop_filter = StopTextFilter(tuple(params.stop) + prompt.stop)
        for piece in super().generate(prompt, params, stats, cancelled):
            if text := stop_filter.feed(piece):
                yield text
            if stop_filter.stopped:
                return
        yield stop_filter.flush()


def test_an_answer_ends_where_the_model_starts_repeating_the_hubs_note_prompt(
    tmp_path: Path,
) -> None:
    model = EchoingModel()
    model.reply = ECHOING_REPLY.split()
    with owner_client(tmp_path, model, HashingEmbedder()) as client:
        # With nothing remembered there is no note: the reply is the model's, whole.
        whole = ask(client, "Where does my sister live?")
        assert whole.endswith("Question: Where does my brother live?")
        stored = client.post("/v1/memory", json={"text": "My sister lives in Oslo now."})
        assert stored.status_code in (200, 201), stored.text
        assert ask(client, "Where does my sister live?") == "Your sister lives in Oslo."


def test_an_answer_is_shown_without_the_space_before_it_and_the_blank_line_after(
    tmp_path: Path,
) -> None:
    model = RecordingModel()
    # As Gemma writes after "Assistant:": a space first, a blank line after the answer.
    model.reply = ["", "Your", "sister", "lives", "in", "Oslo.\n\nStill", "there.\n\n"]
    with owner_client(tmp_path, model, HashingEmbedder()) as client:
        assert (
            ask(client, "Where does my sister live?")
            == "Your sister lives in Oslo.\n\nStill there."
        )
        stored = client.post("/v1/memory", json={"text": "My sister lives in Oslo now."})
        assert stored.status_code in (200, 201), stored.text
        assert (
            ask(client, "Where does my sister live?")
            == "Your sister lives in Oslo.\n\nStill there."
        )
