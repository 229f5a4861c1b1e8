"""A model that cannot load never stops the hub: the packaged model answers instead and every
status says why; with no model at all, chat answers 503 and everything else still works.
Fast cases use a loader that fails on purpose; the slow one a real hub and a garbage GGUF file."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect
from typer.testing import CliRunner

from hub.api.app import create_app
from hub.cli.main import app
from hub.engine.chat_model import ChatModel
from hub.models.packaged import DEFAULT_MODEL_NAME, GEMMA_MODEL_NAME
from hub.settings import Settings
from tests.fakes import FakeChatModel
from tests.hub_process import start_hub
from tests.test_web_ui import PASSPHRASE

CHAT = {"messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 8}


def web_chat(http: TestClient | httpx.Client) -> dict[str, Any]:
    """Ask in a web UI conversation (it names no model: the active one answers); the answer."""
    conversation = http.post("/v1/conversations", json={}).json()
    path = f"/v1/conversations/{conversation['id']}/messages"
    with http.stream("POST", path, json={"content": "Say hello."}) as response:
        response.read()
    messages = http.get(f"/v1/conversations/{conversation['id']}").json()["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant"], messages
    answer: dict[str, Any] = messages[1]
    return answer


def failing_loader(broken: set[str]) -> Callable[[str], ChatModel]:
    def load(name: str) -> ChatModel:
        if name in broken:
            raise ValueError(f"{name}.gguf is not a GGUF model file (it starts with b'garb')")
        return FakeChatModel(name=name)

    return load


def hub_with(tmp_path: Path, broken: set[str]) -> Iterator[TestClient]:
    settings = Settings(
        data_dir=tmp_path / "data",
        model=GEMMA_MODEL_NAME,  # the chosen model; the packaged default is the fallback
        memory_enabled=False,
        voice_enabled=False,
        mdns_enabled=False,
        personalize_enabled=False,
    )
    with TestClient(create_app(settings, loader=failing_loader(broken))) as client:
        token = (tmp_path / "data" / "owner_token").read_text().strip()
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


@pytest.fixture
def fallen_back(tmp_path: Path) -> Iterator[TestClient]:
    yield from hub_with(tmp_path, {GEMMA_MODEL_NAME})


@pytest.fixture
def modelless(tmp_path: Path) -> Iterator[TestClient]:
    yield from hub_with(tmp_path, {GEMMA_MODEL_NAME, DEFAULT_MODEL_NAME})


def test_the_packaged_model_answers_when_the_chosen_one_cannot_load(
    fallen_back: TestClient,
) -> None:
    assert fallen_back.get("/health").json()["model"] == "fallback"
    active = fallen_back.get("/v1/models/active").json()
    assert active["model"] == DEFAULT_MODEL_NAME and active["status"] == "fallback"
    assert active["chosen"] == GEMMA_MODEL_NAME and "not a GGUF model file" in active["reason"]
    answered = web_chat(fallen_back)
    assert answered["model"] == DEFAULT_MODEL_NAME and answered["content"]
    # Asking for the broken one by name is a 503 that says what to do.
    named = fallen_back.post("/v1/chat/completions", json={**CHAT, "model": GEMMA_MODEL_NAME})
    assert named.status_code == 503
    error = named.json()["error"]
    assert error["code"] == "model_unavailable" and "hub models use" in error["message"]
    # Choosing a model that loads ends the fallback.
    chosen = fallen_back.put("/v1/models/active", json={"model": DEFAULT_MODEL_NAME}).json()
    assert chosen["status"] == "ready" and chosen["reason"] is None


def test_with_no_model_chat_answers_503_and_the_rest_of_the_hub_works(
    modelless: TestClient,
) -> None:
    assert modelless.get("/health").json() | {"version": ""} == {
        "status": "ok",
        "version": "",
        "model": "unavailable",
    }
    active = modelless.get("/v1/models/active").json()
    assert active["status"] == "unavailable" and DEFAULT_MODEL_NAME in active["reason"]
    answer = modelless.post("/v1/chat/completions", json={**CHAT, "model": DEFAULT_MODEL_NAME})
    assert answer.status_code == 503, answer.text
    assert "could not be loaded" in answer.json()["error"]["message"]
    assert modelless.get("/v1/devices").status_code == 200
    assert modelless.get("/v1/conversations").status_code == 200


@pytest.mark.slow
def test_a_real_hub_with_a_garbage_model_file_serves_memory_devices_and_the_packaged_model(
    tmp_path: Path, page: Page
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    garbage = tmp_path / "broken.gguf"
    garbage.write_bytes(b"garbage, not a model" * 100)
    (data_dir / "models.json").write_text(
        json.dumps({"active": "broken", "user_models": {"broken": str(garbage)}})
    )
    hub = start_hub(data_dir, env={"HUB_VOICE_ENABLED": "false"})
    try:
        assert httpx.get(f"{hub.base_url}/health").json()["model"] == "fallback"
        with httpx.Client(base_url=hub.base_url, headers=hub.headers(), timeout=120) as http:
            active = http.get("/v1/models/active").json()
            assert (active["status"], active["chosen"]) == ("fallback", "broken")
            assert str(garbage) in active["reason"], active["reason"]
            stored = http.post("/v1/memory", json={"text": "The spare key is under the mat."})
            assert stored.status_code in (200, 201), stored.text
            found = http.post("/v1/memory/search", json={"query": "where is the spare key"})
            assert "mat" in found.json()["results"][0]["text"], found.text
            assert http.get("/v1/devices").status_code == 200
            answered = web_chat(http)
            assert answered["model"] == DEFAULT_MODEL_NAME and answered["content"].strip()
            named = http.post("/v1/chat/completions", json={**CHAT, "model": "broken"})
            assert named.status_code == 503 and "hub models use" in named.text
        assert "broken could not be loaded" in hub.log()
        port = hub.base_url.rsplit(":", 1)[1]
        doctor = CliRunner().invoke(
            app, ["doctor", "--data-dir", str(data_dir)], env={"HUB_PORT": port, "COLUMNS": "500"}
        )
        assert f"{DEFAULT_MODEL_NAME} answers instead of broken" in doctor.output, doctor.output
        # The web UI's settings say it too.
        page.goto(hub.base_url)
        page.fill("#passphrase", PASSPHRASE)
        page.fill("#passphrase-confirm", PASSPHRASE)
        page.click("button[type=submit]")
        page.get_by_role("link", name="Settings").click()
        status = page.locator(".settings-card .status").first
        expect(status).to_contain_text(f"{DEFAULT_MODEL_NAME} answers because broken could not")
    finally:
        hub.stop()
