"""Client credentials: stored only as hashes, limited to scopes, revoked at once, and accepted
as a bearer token or in the URL prefix /c/<credential>/ that never reaches an error message
(fast: fake model, hashing embedder, real SQLite, the real app)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from hub.api.app import create_app
from hub.cli.main import app as cli
from hub.cli.serve import bind_socket, server_config
from hub.clients.scopes import UnknownScopeError
from hub.clients.store import (
    CLIENTS_DB_NAME,
    LAST_SEEN_EVERY_SECONDS,
    ClientExistsError,
    ClientNameError,
    SqliteClientStore,
    UnknownClientError,
)
from hub.models.catalog import ModelCatalog
from hub.models.packaged import DEFAULT_MODEL_NAME
from hub.settings import Settings
from memory.fake_embedder import HashingEmbedder
from tests.fakes import FakeChatModel

CHAT = {"model": "smollm2-135m-instruct", "messages": [{"role": "user", "content": "Hi"}]}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteClientStore]:
    opened = SqliteClientStore.open(tmp_path)
    yield opened
    opened.close()


def test_only_a_hash_of_the_credential_is_stored(tmp_path: Path, store: SqliteClientStore) -> None:
    made = store.add("home-assistant", "chat, memory:read")
    assert made.credential.startswith("wnc_") and len(made.credential) > 40
    assert made.record.scopes == ("chat", "memory:read")
    store.close()
    stored = b"".join(path.read_bytes() for path in tmp_path.glob(f"{CLIENTS_DB_NAME}*"))
    assert made.credential.encode() not in stored
    assert made.credential[4:].encode() not in stored
    reopened = SqliteClientStore.open(tmp_path)
    found = reopened.authenticate(made.credential)
    reopened.close()
    assert found is not None and found.name == "home-assistant"


def test_wrong_malformed_and_revoked_credentials_find_no_client(store: SqliteClientStore) -> None:
    made = store.add("webui", ["chat"])
    for wrong in ("", "wnc_", made.credential + "x", made.credential[:-1], "x" * 10_000):
        assert store.authenticate(wrong) is None
    assert store.authenticate(made.credential) is not None
    store.revoke("webui")
    assert store.authenticate(made.credential) is None
    assert store.list_clients() == []


def test_names_and_scopes_are_checked(store: SqliteClientStore) -> None:
    store.add("ha", ["chat"])
    with pytest.raises(ClientExistsError, match="revoke it first"):
        store.add("ha", ["chat"])
    for bad in ("", "-x", "a b", "x" * 65, "../etc"):
        with pytest.raises(ClientNameError, match="1 to 64"):
            store.add(bad, ["chat"])
    with pytest.raises(UnknownScopeError, match="choose from chat, memory:read"):
        store.add("other", ["chat", "admin"])
    with pytest.raises(UnknownScopeError, match="no scope given"):
        store.add("other", " , ")
    with pytest.raises(UnknownClientError, match="hub clients list"):
        store.revoke("nobody")


def test_last_seen_is_noted_at_most_once_a_minute(tmp_path: Path) -> None:
    clock = Clock()
    store = SqliteClientStore.open(tmp_path)
    store.clock = clock
    made = store.add("ha", ["chat"])
    assert store.list_clients()[0].last_seen_at is None
    store.authenticate(made.credential)
    assert store.list_clients()[0].last_seen_at == 1000.0
    clock.now += LAST_SEEN_EVERY_SECONDS - 1
    store.authenticate(made.credential)
    assert store.list_clients()[0].last_seen_at == 1000.0
    clock.now += 1
    store.authenticate(made.credential)
    assert store.list_clients()[0].last_seen_at == 1000.0 + LAST_SEEN_EVERY_SECONDS
    store.close()


def test_the_cli_adds_lists_and_revokes(tmp_path: Path) -> None:
    runner = CliRunner()
    added = runner.invoke(
        cli,
        ["clients", "add", "ha", "--scopes", "chat,memory:read", "--data-dir", str(tmp_path)],
    )
    assert added.exit_code == 0, added.output
    credential = added.stdout.strip()
    assert credential.startswith("wnc_")
    assert f"Authorization: Bearer {credential}" in added.stderr
    assert f"/c/{credential}/" in added.stderr
    listed = runner.invoke(cli, ["clients", "list", "--data-dir", str(tmp_path)])
    assert "ha" in listed.stdout and "chat, memory:read" in listed.stdout
    assert "never" in listed.stdout and credential not in listed.stdout
    bad = runner.invoke(
        cli, ["clients", "add", "x", "--scopes", "root", "--data-dir", str(tmp_path)]
    )
    assert bad.exit_code == 1 and "unknown scope 'root'" in bad.stderr
    revoked = runner.invoke(cli, ["clients", "revoke", "ha", "--data-dir", str(tmp_path)])
    assert revoked.exit_code == 0
    again = runner.invoke(cli, ["clients", "revoke", "ha", "--data-dir", str(tmp_path)])
    assert again.exit_code == 1 and "no client is named 'ha'" in again.stderr


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


def make_client(api: TestClient, name: str, scopes: list[str]) -> str:
    made = api.post("/v1/clients", json={"name": name, "scopes": scopes})
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["url_prefix"] == f"/c/{body['credential']}/"
    credential: str = body["credential"]
    return credential


def as_client(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


def test_a_chat_credential_chats_but_reads_no_memory_and_reaches_no_owner_endpoint(
    api: TestClient,
) -> None:
    chat = make_client(api, "ha", ["chat"])
    assert api.post("/v1/chat/completions", json=CHAT, headers=as_client(chat)).status_code == 200
    via_url = api.post(f"/c/{chat}/v1/chat/completions", json=CHAT, headers={"Authorization": ""})
    assert via_url.status_code == 200
    assert api.get("/v1/models", headers=as_client(chat)).status_code == 200
    searched = api.post("/v1/memory/search", json={"query": "x"}, headers=as_client(chat))
    assert searched.status_code == 403
    assert searched.json()["error"]["code"] == "insufficient_scope"
    assert "memory:read" in searched.json()["error"]["message"]
    for method, path in (
        ("GET", "/v1/memory"),
        ("GET", "/v1/clients"),
        ("POST", "/v1/token/rotate"),
    ):
        by_header = api.request(method, path, headers=as_client(chat))
        assert by_header.status_code == 401, path
        by_url = api.request(method, f"/c/{chat}{path}", headers={"Authorization": ""})
        assert by_url.status_code == 403, path
        assert chat not in by_url.text
    switched = api.put("/v1/models/active", json={"model": "x"}, headers=as_client(chat))
    assert switched.status_code == 401
    devices = api.get("/v1/devices", headers=as_client(chat))
    assert devices.status_code == 403 and "devices:read" in devices.json()["error"]["message"]


def test_device_and_sensor_scopes_read_but_never_pair_or_revoke(api: TestClient) -> None:
    watcher = make_client(api, "dashboard", ["devices:read"])
    assert api.get("/v1/devices", headers=as_client(watcher)).status_code == 200
    assert api.get("/v1/devices/kinds", headers=as_client(watcher)).status_code == 200
    samples = api.get("/v1/devices/watch-1/samples", headers=as_client(watcher))
    assert samples.status_code == 403 and "sensors:read" in samples.json()["error"]["message"]
    sensors = make_client(api, "charts", ["sensors:read"])
    assert api.get("/v1/devices/watch-1/samples", headers=as_client(sensors)).status_code == 200
    for path in ("/v1/devices/watch-1/revoke", "/v1/devices/watch-1/pair"):
        refused = api.post(path, json={"code": "123456"}, headers=as_client(watcher))
        assert refused.status_code == 401, path


def test_a_memory_credential_searches_and_a_revoked_one_is_refused_at_once(
    api: TestClient,
) -> None:
    reader = make_client(api, "notes", ["memory:read"])
    assert api.post("/v1/memory", json={"text": "My sister lives in Tavira."}).status_code == 200
    found = api.post("/v1/memory/search", json={"query": "sister"}, headers=as_client(reader))
    assert found.status_code == 200 and found.json()["results"]
    chatted = api.post("/v1/chat/completions", json=CHAT, headers=as_client(reader))
    assert chatted.status_code == 403
    listed = api.get("/v1/clients").json()["data"]
    assert [(c["name"], c["scopes"]) for c in listed] == [("notes", ["memory:read"])]
    assert listed[0]["last_seen_at"] is not None and "credential" not in listed[0]
    assert api.delete("/v1/clients/notes").json() == {"name": "notes", "revoked": True}
    refused = api.post("/v1/memory/search", json={"query": "sister"}, headers=as_client(reader))
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_api_key"
    by_url = api.post(
        f"/c/{reader}/v1/memory/search", json={"query": "x"}, headers={"Authorization": ""}
    )
    assert by_url.status_code == 401 and reader not in by_url.text
    assert api.delete("/v1/clients/notes").status_code == 404


def test_a_wrong_or_malformed_url_credential_is_refused_and_never_echoed(
    api: TestClient,
) -> None:
    no_header = {"Authorization": ""}
    for credential in ("wnc_wrong", "", "not-a-credential", "%00", "x" * 5000):
        answer = api.get(f"/c/{credential}/v1/models", headers=no_header)
        assert answer.status_code == 401, credential
        if credential:
            assert credential not in answer.text
    owner = api.headers["Authorization"].removeprefix("Bearer ")
    assert api.get(f"/c/{owner}/v1/models", headers=no_header).status_code == 401
    made = make_client(api, "ha", ["chat"])
    missing = api.get(f"/c/{made}/v1/nothing-here", headers=no_header)
    assert missing.status_code == 404 and made not in missing.text
    assert "/v1/nothing-here" in missing.json()["error"]["message"]


def test_chat_without_memory_write_keeps_nothing(api: TestClient) -> None:
    chat = make_client(api, "ha", ["chat", "memory:read"])
    said = {**CHAT, "messages": [{"role": "user", "content": "Remember that my car is blue."}]}
    answer = api.post("/v1/chat/completions", json=said, headers=as_client(chat))
    assert answer.status_code == 200
    assert "remember" not in answer.json()["choices"][0]["message"]["content"].lower()
    assert api.get("/v1/memory").json()["total"] == 0
    assert api.post("/v1/chat/completions", json=said).status_code == 200  # the owner may
    assert api.get("/v1/memory").json()["total"] == 1


class Records(logging.Handler):
    """Keeps every log line it is given, formatted as the hub's log would show it."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@contextmanager
def served_with_access_log(app: FastAPI, settings: Settings) -> Iterator[tuple[str, Records]]:
    """``app`` behind uvicorn as `hub serve` runs it, access log on, on a free loopback port."""
    sock = bind_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    server = uvicorn.Server(server_config(app, settings, port, "info"))
    records = Records()
    for name in ("uvicorn.access", "uvicorn.error", ""):
        logging.getLogger(name).addHandler(records)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", records
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
        for name in ("uvicorn.access", "uvicorn.error", ""):
            logging.getLogger(name).removeHandler(records)


def test_the_access_log_shows_the_path_without_the_credential(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        personalize_enabled=False,
        voice_enabled=False,
        mdns_enabled=False,
        allowed_hosts="",
    )
    app = create_app(settings, loader=lambda name: FakeChatModel(), embedder=HashingEmbedder())
    with served_with_access_log(app, settings) as (url, records):
        token = (tmp_path / "data" / "owner_token").read_text().strip()
        owner = {"Authorization": f"Bearer {token}"}
        made = httpx.post(
            f"{url}/v1/clients", json={"name": "ha", "scopes": ["chat"]}, headers=owner
        )
        credential = made.json()["credential"]
        base = f"{url}/c/{credential}"
        assert httpx.get(f"{base}/api/tags").status_code == 200
        assert httpx.post(f"{base}/api/chat", content=b"{broken").status_code == 400
        assert httpx.get(f"{base}/v1/memory").status_code == 403
        assert httpx.get(f"{base}/nowhere?x=1").status_code == 404
        assert httpx.delete(f"{url}/v1/clients/ha", headers=owner).status_code == 200
        assert httpx.get(f"{base}/api/tags").status_code == 401
    access = [line for line in records.lines if '" 200' in line or '" 40' in line]
    assert any('"GET /api/tags HTTP/1.1" 200' in line for line in access), records.lines
    assert any('"GET /api/tags HTTP/1.1" 401' in line for line in access), records.lines
    assert any('"GET /nowhere?x=1 HTTP/1.1" 404' in line for line in access), records.lines
    assert not [line for line in records.lines if credential in line or "/c/" in line]


def test_a_client_sees_the_models_but_not_where_their_files_are(
    api: TestClient, tmp_path: Path
) -> None:
    catalog = ModelCatalog(tmp_path / "data")
    own_file = tmp_path / "private-folder" / "my-model.gguf"
    own_file.parent.mkdir()
    own_file.write_bytes(catalog.path_for(DEFAULT_MODEL_NAME).read_bytes())
    catalog.add(own_file, "mine")
    reader = make_client(api, "dashboard", ["models:read"])
    seen = api.get("/v1/models", headers=as_client(reader))
    assert seen.status_code == 200
    assert {"mine", DEFAULT_MODEL_NAME} <= {model["id"] for model in seen.json()["data"]}
    assert "private-folder" not in seen.text and str(tmp_path) not in seen.text
    assert all(model["path"] is None for model in seen.json()["data"])
    owner_view = api.get("/v1/models").json()["data"]
    assert str(own_file) in {model["path"] for model in owner_view}
