"""One error contract: every domain error reaches the caller with its own status and stable code
in OpenAI's error shape, a turned-off part says which setting turns it on, and anything
unexpected is a logged 500 that gives nothing away (fast: fake model, real SQLite, real app)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from adapters.registry import UnknownAdapterVersionError
from devices.pairing import PairingError
from hub.api.app import create_app
from hub.api.errors import to_api_error
from hub.engine.context_window import ContextOverflowError
from hub.engine.model_process import ModelStalledError
from hub.engine.runner import ModelUnavailableError, QueueFullError
from hub.errors import FeatureDisabledError
from hub.models.catalog import UnknownModelError
from hub.settings import Settings
from hub.voice.engines import SpeechBusyError
from memory.errors import InvalidMemoryError, UnknownMemoryError
from tests.fakes import FakeChatModel


@pytest.mark.parametrize(
    ("error", "status", "code", "param"),
    [
        (UnknownModelError("nope", ["fake"]), 404, "model_not_found", "model"),
        (ContextOverflowError("too long"), 400, "context_length_exceeded", "messages"),
        (QueueFullError(3), 429, "queue_full", None),
        (FeatureDisabledError("memory_disabled", "memory is off"), 503, "memory_disabled", None),
        (UnknownMemoryError("mem_1"), 404, "memory_not_found", "id"),
        (InvalidMemoryError("bad kind", field="kind"), 400, "invalid_memory", "kind"),
        (UnknownAdapterVersionError("no adapter version 'v9'"), 404, "adapter_not_found", "id"),
        (PairingError("wrong code; 4 tries left", 403, 4), 403, "pairing_refused", "code"),
        (PairingError("no device waits to pair", 404), 404, "pairing_refused", None),
        (ModelUnavailableError("broken", "not a GGUF file"), 503, "model_unavailable", None),
        (ModelStalledError("no sign of progress for 600 s"), 503, "model_failed", None),
        (SpeechBusyError(4), 503, "voice_busy", None),
    ],
)
def test_a_domain_error_keeps_its_status_code_and_message(
    error: Exception, status: int, code: str, param: str | None
) -> None:
    seen = to_api_error(error)
    assert (seen.status_code, seen.code, seen.param) == (status, code, param)
    assert seen.message == str(error)


def test_a_full_queue_says_when_to_try_again() -> None:
    seen = to_api_error(QueueFullError(7))
    assert seen.error_type == "rate_limit_error"
    assert seen.headers == {"Retry-After": "7"}


def test_anything_unexpected_is_a_500_that_tells_nothing_of_the_inside() -> None:
    seen = to_api_error(KeyError("secret internals"))
    assert (seen.status_code, seen.code, seen.error_type) == (500, "internal_error", "server_error")
    assert "secret" not in seen.message and "journalctl" in seen.message


@pytest.fixture
def slim_hub(tmp_path: Path) -> Iterator[TestClient]:
    """A hub with memory and voice turned off, as a person may run it."""
    settings = Settings(
        data_dir=tmp_path / "data",
        memory_enabled=False,
        voice_enabled=False,
        mdns_enabled=False,
        personalize_enabled=False,
    )
    app = create_app(settings, loader=lambda name: FakeChatModel())
    with TestClient(app) as client:
        token = (tmp_path / "data" / "owner_token").read_text().strip()
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


def test_a_turned_off_part_says_which_setting_turns_it_on(slim_hub: TestClient) -> None:
    for method, path, body in [
        ("POST", "/v1/memory/search", {"query": "keys"}),
        ("POST", "/v1/embeddings", {"model": "all-MiniLM-L6-v2", "input": "hi"}),
        ("GET", "/v1/voice/status", None),
    ]:
        answer = slim_hub.request(method, path, json=body)
        assert answer.status_code == 503, path
        error = answer.json()["error"]
        assert error["code"] in ("memory_disabled", "voice_unavailable")
        assert (
            "HUB_MEMORY_ENABLED=true" in error["message"]
            or "HUB_VOICE_ENABLED=true" in (error["message"])
        )


def test_unknown_ids_are_404s_with_their_own_codes(slim_hub: TestClient) -> None:
    expected = {
        "/v1/personalization/adapters/v0099/promote": "adapter_not_found",
        "/v1/devices/ghost-watch/revoke": "device_not_found",
        "/v1/voice/satellites/kitchen/approve": "voice_unavailable",  # voice is off here
    }
    for path, code in expected.items():
        error = slim_hub.post(path).json()["error"]
        assert error["code"] == code, path
    missing = slim_hub.put("/v1/personalization/messages/424242", json={"rating": "good"})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "message_not_found"
    gone = slim_hub.get("/v1/conversations/424242")
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "conversation_not_found"


def test_a_domain_error_is_answered_without_a_traceback_in_the_log(
    slim_hub: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    answer = slim_hub.post("/v1/devices/ghost-watch/revoke")
    assert answer.status_code == 404
    assert not [r for r in caplog.records if r.exc_info], "a refusal is not an error to log"


def test_the_error_shape_is_openai_s(slim_hub: TestClient) -> None:
    answer = slim_hub.post(
        "/v1/chat/completions",
        json={"model": "no-such-model", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert answer.status_code == 404
    assert set(answer.json()["error"]) == {"message", "type", "param", "code"}
