"""/docs tells what every endpoint answers: a named model per JSON answer, the media type and
the event's model of every stream (fast: in-process app, fake model)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from hub.api.app import create_app
from hub.api.conversation_schemas import ConversationChunk
from hub.api.openai_schemas import ChatCompletionChunk, StreamChunk, TextCompletionChunk
from hub.settings import Settings
from tests.fakes import FakeChatModel


@pytest.fixture
def api(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        data_dir=tmp_path / "data",
        memory_enabled=False,
        voice_enabled=False,
        personalize_enabled=False,
        mdns_enabled=False,
    )
    app = create_app(settings, loader=lambda name: FakeChatModel(context_length=4096))
    with TestClient(app) as client:
        token = (tmp_path / "data" / "owner_token").read_text().strip()
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


def success(spec: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    """The documented 2xx answer of one operation."""
    responses = spec["paths"][path][method]["responses"]
    (answer,) = [body for status, body in responses.items() if status.startswith("2")]
    assert answer["description"]
    content: dict[str, Any] = answer["content"]
    return content


def json_model(spec: dict[str, Any], method: str, path: str) -> str:
    """The name of the model a JSON answer is documented with."""
    ref: str = success(spec, method, path)["application/json"]["schema"]["$ref"]
    return ref.removeprefix("#/components/schemas/")


def event_model(spec: dict[str, Any], method: str, path: str) -> str:
    """The title of the model each server-sent event's data is documented with."""
    stream = success(spec, method, path)["text/event-stream"]
    data = stream["itemSchema"]["properties"]["data"]
    assert data["contentMediaType"] == "application/json"
    title: str = data["contentSchema"]["title"]
    return title


CHAT_AND_WEB_TAGS = {"health", "models", "chat", "completions", "conversations", "session"}
CHAT_AND_WEB_TAGS |= {"preferences"}


def test_every_chat_and_web_route_documents_its_answer_and_its_errors(api: TestClient) -> None:
    spec = api.get("/openapi.json").json()
    operations = [
        (method, path, operation)
        for path, methods in spec["paths"].items()
        for method, operation in methods.items()
        if CHAT_AND_WEB_TAGS & set(operation["tags"])
    ]
    assert len(operations) == 24
    for method, path, operation in operations:
        for media_type, body in success(spec, method, path).items():
            if media_type == "application/json":
                assert body["schema"]["$ref"], (method, path)
            elif media_type == "text/event-stream":
                assert event_model(spec, method, path), (method, path)
            else:
                assert media_type.startswith("text/plain"), (method, path)
        responses = operation["responses"]
        assert "422" not in responses, (method, path)  # invalid requests are answered 400
        if path != "/health":
            error = responses["4XX"]["content"]["application/json"]["schema"]
            assert error == {"$ref": "#/components/schemas/ErrorBody"}, (method, path)


def test_openai_endpoints_health_and_metrics_document_their_answers(api: TestClient) -> None:
    spec = api.get("/openapi.json").json()
    assert json_model(spec, "post", "/v1/chat/completions") == "ChatCompletion"
    assert event_model(spec, "post", "/v1/chat/completions") == "ChatCompletionChunk"
    assert json_model(spec, "post", "/v1/completions") == "TextCompletion"
    assert event_model(spec, "post", "/v1/completions") == "TextCompletionChunk"
    assert json_model(spec, "get", "/v1/models") == "ModelList"
    assert json_model(spec, "get", "/v1/models/active") == "ActiveModel"
    assert json_model(spec, "put", "/v1/models/active") == "ActiveModel"
    assert json_model(spec, "post", "/v1/models/pulls") == "PullObject"
    assert json_model(spec, "get", "/v1/models/pulls/{pull_id}") == "PullObject"
    assert json_model(spec, "get", "/health") == "HealthStatus"
    assert list(success(spec, "get", "/metrics")) == ["text/plain; version=0.0.4"]
    model = spec["components"]["schemas"]["ModelObject"]["properties"]
    assert model["loaded"]["description"]  # the hub's own fields say what they mean


def test_conversation_endpoints_document_their_answers(api: TestClient) -> None:
    spec = api.get("/openapi.json").json()
    base = "/v1/conversations"
    assert json_model(spec, "get", base) == "ConversationList"
    assert json_model(spec, "post", base) == "ConversationObject"
    assert json_model(spec, "get", base + "/{conversation_id}") == "ConversationWithMessages"
    assert json_model(spec, "patch", base + "/{conversation_id}") == "ConversationObject"
    assert json_model(spec, "delete", base + "/{conversation_id}") == "ConversationDeleted"
    for method, path in [
        ("post", base + "/{conversation_id}/messages"),
        ("post", base + "/{conversation_id}/regenerate"),
        ("put", base + "/{conversation_id}/messages/{message_id}"),
    ]:
        assert event_model(spec, method, path) == "ConversationChunk"
        assert "application/json" not in success(spec, method, path)


def test_session_and_preferences_endpoints_document_their_answers(api: TestClient) -> None:
    spec = api.get("/openapi.json").json()
    assert json_model(spec, "get", "/v1/session") == "SessionStatus"
    assert json_model(spec, "post", "/v1/session") == "SignedIn"
    assert json_model(spec, "post", "/v1/session/passphrase") == "SignedIn"
    assert json_model(spec, "delete", "/v1/session") == "SignedIn"
    assert json_model(spec, "get", "/v1/preferences") == "Preferences"
    assert json_model(spec, "put", "/v1/preferences") == "Preferences"


def streamed(api: TestClient, method: str, path: str, body: dict[str, Any] | None) -> list[Any]:
    """The JSON data of every event of a streamed answer, up to [DONE]."""
    with api.stream(method, path, json=body) as response:
        assert response.status_code == 200, response.read()
        lines = [line[6:] for line in response.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "[DONE]"
    return [json.loads(line) for line in lines[:-1]]


def test_streamed_events_are_what_the_documentation_says(api: TestClient) -> None:
    # Read back through its documented model, every event must come out the same: a field the
    # documentation leaves out would be dropped (or refused) and fail the comparison.
    model = api.get("/v1/models/active").json()["model"]
    usage = {"stream": True, "stream_options": {"include_usage": True}}
    chat = {"model": model, "messages": [{"role": "user", "content": "Hi"}], **usage}
    conversation = api.post("/v1/conversations", json={}).json()["id"]
    streams: list[tuple[type[StreamChunk], list[Any]]] = [
        (ChatCompletionChunk, streamed(api, "POST", "/v1/chat/completions", chat)),
        (
            TextCompletionChunk,
            streamed(api, "POST", "/v1/completions", {"model": model, "prompt": "Hi", **usage}),
        ),
        (
            ConversationChunk,
            streamed(api, "POST", f"/v1/conversations/{conversation}/messages", {"content": "Hi"}),
        ),
    ]
    for chunk, events in streams:
        for event in events:
            assert chunk.model_validate(event).event() == event
    chat_events, text_events, turn_events = (events for _, events in streams)
    assert chat_events[-1]["choices"] == [] and chat_events[-1]["usage"]["total_tokens"] > 0
    assert "usage" in text_events[-1] and "timings" in text_events[-1]
    assert turn_events[-1]["conversation"]["id"] == conversation


def test_no_route_documents_a_422_and_every_route_documents_its_answer(api: TestClient) -> None:
    spec = api.get("/openapi.json").json()
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            responses = operation["responses"]
            assert "422" not in responses, (method, path)  # bad input is answered 400
            assert "4XX" in responses, (method, path)
            assert success(spec, method, path), (method, path)
