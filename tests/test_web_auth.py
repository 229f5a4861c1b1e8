"""Web UI sign-in: passphrase hashing, sessions, back-off, cookies and the CSRF header (fast)."""

from __future__ import annotations

import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hub.api.app import create_app
from hub.cli.serve import setup_link_message
from hub.settings import Settings
from hub.web.passphrase import PassphraseFile, PassphraseRejectedError
from hub.web.sessions import SESSIONS_DB_NAME, SqliteSessionStore
from hub.web.throttle import SignInThrottle
from memory.fake_embedder import HashingEmbedder
from tests.fakes import FakeChatModel

PASSPHRASE = "correct horse battery staple"
WEB = {"X-Hub-Client": "web"}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_passphrase_is_stored_only_as_an_argon2id_hash(tmp_path: Path) -> None:
    passphrase = PassphraseFile(tmp_path)
    assert not passphrase.is_set()
    with pytest.raises(PassphraseRejectedError, match="at least 8"):
        passphrase.set("short")
    passphrase.set(PASSPHRASE)
    stored = passphrase.path.read_text()
    assert stored.startswith("$argon2id$") and PASSPHRASE not in stored
    assert stat.S_IMODE(passphrase.path.stat().st_mode) == 0o600
    assert passphrase.verify(PASSPHRASE)
    assert not passphrase.verify("correct horse battery stapler")
    assert not PassphraseFile(tmp_path / "elsewhere").verify(PASSPHRASE)


def test_back_off_doubles_after_the_free_attempts() -> None:
    clock = Clock()
    throttle = SignInThrottle(free_failures=3, base_delay=1.0, max_delay=8.0, clock=clock)
    delays = [throttle.record_failure("10.0.0.2") for _ in range(7)]
    assert delays == [0, 0, 0, 1, 2, 4, 8]
    assert throttle.retry_after("10.0.0.2") == 8
    assert throttle.retry_after("10.0.0.3") == 0  # per client address
    clock.now += 8
    assert throttle.retry_after("10.0.0.2") == 0
    throttle.record_success("10.0.0.2")
    assert throttle.record_failure("10.0.0.2") == 0


def test_sessions_are_hashed_expire_and_survive_reopening(tmp_path: Path) -> None:
    clock = Clock()
    sessions = SqliteSessionStore(SqliteSessionStore.open(tmp_path).database, 100.0, clock)
    session_id = sessions.create_session()
    assert sessions.check_session(session_id)
    assert not sessions.check_session(session_id + "x")
    sessions.close()
    with sqlite3.connect(tmp_path / SESSIONS_DB_NAME) as db:
        (stored,) = db.execute("SELECT id_hash FROM sessions").fetchone()
    assert session_id not in stored

    reopened = SqliteSessionStore(SqliteSessionStore.open(tmp_path).database, 100.0, clock)
    assert reopened.check_session(session_id)
    clock.now += 101
    assert not reopened.check_session(session_id)
    fresh = reopened.create_session()
    reopened.end_session(fresh)
    assert not reopened.check_session(fresh)
    reopened.close()


def test_setup_link_names_the_address_and_token() -> None:
    assert "http://127.0.0.1:8484/?setup=abc" in setup_link_message("127.0.0.1", 8484, "abc")
    wildcard = setup_link_message("0.0.0.0", 9000, "xyz")
    assert "http://127.0.0.1:9000/?setup=xyz" in wildcard and "this machine's address" in wildcard


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


def web_client(data_dir: Path, host: str = "192.168.1.20", https: bool = False) -> TestClient:
    model = FakeChatModel(context_length=4096)
    settings = Settings(
        data_dir=data_dir, voice_enabled=False, mdns_enabled=False, allowed_hosts="hub.local"
    )
    app = create_app(settings, loader=lambda name: model, embedder=HashingEmbedder())
    base_url = "https://hub.local" if https else "http://hub.local"
    return TestClient(app, base_url=base_url, client=(host, 50000))


@pytest.fixture
def phone(data_dir: Path) -> Iterator[TestClient]:
    """A browser on another device of the local network."""
    with web_client(data_dir) as client:
        yield client


def test_first_passphrase_from_another_device_needs_the_setup_link(phone: TestClient) -> None:
    assert phone.get("/v1/session").json() == {
        "passphrase_set": False,
        "signed_in": False,
        "setup_needs_link": True,
    }
    body = {"passphrase": PASSPHRASE}
    refused = phone.post("/v1/session/passphrase", json=body, headers=WEB)
    assert refused.status_code == 403 and "setup link" in refused.json()["error"]["message"]
    wrong = phone.post("/v1/session/passphrase", json={**body, "setup_token": "x"}, headers=WEB)
    assert wrong.status_code == 403

    token = phone.app.state.hub.web.sign_in.setup_token  # type: ignore[attr-defined]
    no_header = phone.post("/v1/session/passphrase", json={**body, "setup_token": token})
    assert no_header.status_code == 403 and "X-Hub-Client" in no_header.json()["error"]["message"]
    weak = phone.post(
        "/v1/session/passphrase", json={"passphrase": "abc", "setup_token": token}, headers=WEB
    )
    assert weak.status_code == 400 and "at least 8" in weak.json()["error"]["message"]

    accepted = phone.post(
        "/v1/session/passphrase", json={**body, "setup_token": token}, headers=WEB
    )
    assert accepted.status_code == 201
    cookie = accepted.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" not in cookie
    assert phone.get("/v1/session").json()["signed_in"] is True
    again = phone.post("/v1/session/passphrase", json={**body, "setup_token": token}, headers=WEB)
    assert again.status_code == 409 and "already set" in again.json()["error"]["message"]
    assert phone.app.state.hub.web.sign_in.setup_token is None  # type: ignore[attr-defined]


def test_session_cookie_authorizes_the_api_with_the_csrf_header(data_dir: Path) -> None:
    with web_client(data_dir, host="127.0.0.1", https=True) as laptop:
        assert laptop.get("/v1/session").json()["setup_needs_link"] is False
        created = laptop.post(
            "/v1/session/passphrase", json={"passphrase": PASSPHRASE}, headers=WEB
        )
        assert created.status_code == 201 and "Secure" in created.headers["set-cookie"]

        assert laptop.get("/v1/conversations").status_code == 200
        assert laptop.get("/v1/models/active").status_code == 200
        forged = laptop.post("/v1/conversations", json={})
        assert forged.status_code == 403
        assert laptop.post("/v1/conversations", json={}, headers=WEB).status_code == 201

        assert laptop.delete("/v1/session", headers=WEB).json() == {"signed_in": False}
        assert laptop.get("/v1/conversations").status_code == 401

        # Programs keep using the bearer token, with no header needed.
        token = (data_dir / "owner_token").read_text().strip()
        program = laptop.post(
            "/v1/conversations", json={}, headers={"Authorization": f"Bearer {token}"}
        )
        assert program.status_code == 201


def test_wrong_passphrases_are_refused_then_slowed_down(data_dir: Path) -> None:
    with web_client(data_dir, host="127.0.0.1") as laptop:
        laptop.post("/v1/session/passphrase", json={"passphrase": PASSPHRASE}, headers=WEB)
    with web_client(data_dir, host="10.0.0.9") as stranger:
        assert stranger.get("/v1/session").json()["signed_in"] is False
        for _ in range(3):
            wrong = stranger.post("/v1/session", json={"passphrase": "guess1234"}, headers=WEB)
            assert wrong.status_code == 401
            assert wrong.json()["error"]["message"] == "wrong passphrase; try again"
        slowed = stranger.post("/v1/session", json={"passphrase": "guess1234"}, headers=WEB)
        assert slowed.status_code == 429 and int(slowed.headers["Retry-After"]) >= 1
        assert "wait" in slowed.json()["error"]["message"]
        # Even the right passphrase waits its turn.
        held = stranger.post("/v1/session", json={"passphrase": PASSPHRASE}, headers=WEB)
        assert held.status_code == 429 and held.json()["error"]["type"] == "rate_limit_error"


def test_the_page_is_served_with_a_strict_content_policy(phone: TestClient) -> None:
    page = phone.get("/")
    assert page.status_code == 200 and '<script type="module" src="/static/app.js">' in page.text
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    script = phone.get("/static/markdown.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert script.headers["x-content-type-options"] == "nosniff"
    assert phone.get("/static/nope.js").status_code == 404
