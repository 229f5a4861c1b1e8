"""The hub's HTTP side against a neighbour or a hostile page: Host and Origin checks, the
sign-in back-off, sessions after a passphrase reset, token rotation, /docs and the setup link
(fast: the real app with a fake model, served by uvicorn on loopback where the attack needs it)."""

from __future__ import annotations

import asyncio
import socket
import stat
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
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket
from typer.testing import CliRunner
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from hub.api.app import create_app
from hub.api.request_origin import AllowedHosts, OriginCheckMiddleware, split_host
from hub.cli.main import app as cli
from hub.cli.request_deadline import DeadlineH11Protocol
from hub.cli.serve import (
    MAX_REQUEST_HEAD_BYTES,
    WS_MAX_MESSAGE_BYTES,
    bind_socket,
    server_config,
    setup_link_message,
)
from hub.running_address import RunningAddress, write_running_address
from hub.settings import Settings
from hub.web.passphrase import PASSPHRASE_FILE_NAME
from hub.web.setup_link import SetupLinkFile
from hub.web.throttle import SignInThrottle, client_key
from tests.fakes import FakeChatModel

PASSPHRASE = "correct horse battery staple"
WEB = {"X-Hub-Client": "web"}
runner = CliRunner()


def hub_settings(data_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = dict(
        data_dir=data_dir,
        memory_enabled=False,
        voice_enabled=False,
        personalize_enabled=False,
        mdns_enabled=False,
        allowed_hosts="",
    )
    return Settings(**(values | overrides))  # type: ignore[arg-type]


def hub_app(data_dir: Path, **overrides: object) -> FastAPI:
    settings = hub_settings(data_dir, **overrides)
    return create_app(settings, loader=lambda name: FakeChatModel(context_length=4096))


def token_of(data_dir: Path) -> str:
    return (data_dir / "owner_token").read_text().strip()


@contextmanager
def served(app: ASGIApp, settings: Settings) -> Iterator[str]:
    """``app`` behind uvicorn with the hub's own server settings, on a free loopback port."""
    sock = bind_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    server = uvicorn.Server(server_config(app, settings, port, "warning"))  # type: ignore[arg-type]
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def error_of(response: httpx.Response) -> dict[str, str]:
    error: dict[str, str] = response.json()["error"]
    return error


# --- 1. The Host header: DNS rebinding --------------------------------------------------------


def test_host_names_are_split_and_matched() -> None:
    assert split_host("Hub.Local.:8484") == ("hub.local", "8484")
    assert split_host("[::1]:80") == ("::1", "80")
    allowed = AllowedHosts.of("nas.home, *.nope", hostname="minipc.lan")
    for name in ("127.0.0.1", "192.168.1.20", "::1", "localhost", "minipc", "minipc.local"):
        assert allowed.allows(name), name
    assert allowed.allows("minipc.lan") and allowed.allows("nas.home")
    assert not allowed.allows("evil.example") and not allowed.allows("minipc.evil.example")
    assert AllowedHosts.of("*", hostname="box").allows("anything.example")


def test_a_request_sent_to_a_foreign_name_is_refused(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with TestClient(hub_app(data_dir), base_url="http://evil.example:8484") as rebound:
        refused = rebound.get("/health")
        assert refused.status_code == 421
        error = error_of(refused)
        assert error["code"] == "host_not_allowed" and "allowed_hosts" in error["message"]
        assert "evil.example" in error["message"]
        # The owner's token does not make a rebound page's request acceptable either.
        headers = {"Authorization": f"Bearer {token_of(data_dir)}"}
        assert rebound.get("/v1/models", headers=headers).status_code == 421
        for host in ("127.0.0.1:8484", "localhost:8484", "[::1]:8484", "192.168.1.20:8484"):
            assert rebound.get("/health", headers={"Host": host}).status_code == 200, host


def test_names_listed_in_allowed_hosts_are_answered(tmp_path: Path) -> None:
    app = hub_app(tmp_path / "data", allowed_hosts="nas.home")
    with TestClient(app, base_url="http://nas.home") as named:
        assert named.get("/health").status_code == 200
        assert named.get("/health", headers={"Host": "other.home"}).status_code == 421


def test_a_rebound_websocket_and_request_are_refused_over_real_http(tmp_path: Path) -> None:
    settings = hub_settings(tmp_path / "data")
    app = create_app(settings, loader=lambda name: FakeChatModel(context_length=4096))
    with served(app, settings) as url:
        refused = httpx.get(url + "/health", headers={"Host": "evil.example"})
        assert refused.status_code == 421 and error_of(refused)["code"] == "host_not_allowed"
        assert httpx.get(url + "/health").status_code == 200

        async def open_link() -> InvalidStatus:
            # The page's own name in the URL; its DNS answer (rebound) is this hub.
            port = int(url.rsplit(":", 1)[1])
            ws_url = f"ws://evil.example:{port}/v1/devices/link"
            with pytest.raises(InvalidStatus) as refusal:
                async with connect(ws_url, host="127.0.0.1", port=port):
                    pass
            return refusal.value

        refusal = asyncio.run(open_link())
        assert refusal.response.status_code == 421
        assert b"allowed_hosts" in refusal.response.body


# --- 2. The Origin of WebSockets and of requests that change something ------------------------


async def echo(scope: Scope, receive: Receive, send: Send) -> None:
    """A WebSocket that answers each text message with itself."""
    websocket = WebSocket(scope, receive, send)
    await websocket.accept()
    await websocket.send_text(await websocket.receive_text())
    await websocket.close()


def test_a_websocket_from_another_site_is_refused(tmp_path: Path) -> None:
    # The hub's one WebSocket today is the device link, which checks its own Origin; this is
    # the guard every other WebSocket route gets, behind the hub's own uvicorn settings.
    guarded = OriginCheckMiddleware(echo, AllowedHosts.of("", hostname="box"))
    settings = hub_settings(tmp_path / "data")
    with served(guarded, settings) as url:
        ws_url = url.replace("http://", "ws://") + "/v1/anything"
        host = url.removeprefix("http://")

        async def talk(origin: str | None) -> str:
            headers = {"Origin": origin} if origin else {}
            async with connect(ws_url, additional_headers=headers) as ws:
                await ws.send("hello")
                return str(await ws.recv())

        assert asyncio.run(talk(None)) == "hello"  # a program
        assert asyncio.run(talk(f"http://{host}")) == "hello"  # the hub's own page
        for foreign in ("http://evil.example", f"http://localhost:{9}", "null"):
            with pytest.raises(InvalidStatus) as refusal:
                asyncio.run(talk(foreign))
            assert refusal.value.response.status_code == 403, foreign
            assert b"cross_origin_refused" in refusal.value.response.body


def test_a_change_sent_by_another_site_is_refused(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with TestClient(hub_app(data_dir), base_url="http://127.0.0.1:8484") as api:
        owner = {"Authorization": f"Bearer {token_of(data_dir)}"}
        forged = api.post(
            "/v1/conversations", json={}, headers=owner | {"Origin": "http://evil.example"}
        )
        assert forged.status_code == 403
        assert "allowed_hosts" in error_of(forged)["message"]
        own_page = owner | {"Origin": "http://127.0.0.1:8484"}
        assert api.post("/v1/conversations", json={}, headers=own_page).status_code == 201
        assert api.post("/v1/conversations", json={}, headers=owner).status_code == 201
        # Reading is not refused: another site cannot read the answer anyway (no CORS).
        read = api.get("/v1/conversations", headers=owner | {"Origin": "http://evil.example"})
        assert read.status_code == 200


# --- 3. The sign-in back-off cannot be dodged by changing address -----------------------------


def test_ipv6_clients_are_counted_by_their_64_and_everyone_shares_a_budget() -> None:
    assert (
        client_key("2001:db8:1:2::7") == client_key("2001:db8:1:2:ffff::1") == "2001:db8:1:2::/64"
    )
    assert client_key("::ffff:10.0.0.2") == "10.0.0.2" and client_key("10.0.0.2") == "10.0.0.2"
    now = [1000.0]
    throttle = SignInThrottle(free_failures=3, global_free_failures=5, clock=lambda: now[0])
    delays = [throttle.record_failure(f"10.0.0.{n}") for n in range(7)]
    assert delays == [0, 0, 0, 0, 0, 1, 2]  # seven addresses, one guess each
    assert throttle.retry_after("10.9.9.9") == 2  # a newcomer waits too
    now[0] += 2 + 600.5  # ten quiet minutes after the last wait: the shared count starts afresh
    assert throttle.record_failure("10.0.1.1") == 0


def from_address(app: FastAPI, address: str) -> httpx.AsyncClient:
    """A client of ``app`` whose requests come from ``address``."""
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1")


async def guesses_until_refused(app: FastAPI, addresses: list[str]) -> int:
    """Wrong passphrases, one from each address in turn, until one is answered 429."""
    for number, address in enumerate(addresses, start=1):
        async with from_address(app, address) as web:
            answer = await web.post("/v1/session", json={"passphrase": "guess-1234"}, headers=WEB)
        if answer.status_code == 429:
            return number
        assert answer.status_code == 401
    return len(addresses) + 1


def test_rotating_ipv6_addresses_within_a_64_gets_no_more_guesses(tmp_path: Path) -> None:
    app = hub_app(tmp_path / "data")

    async def attack() -> tuple[int, int]:
        async with from_address(app, "127.0.0.1") as local:
            body = {"passphrase": PASSPHRASE}
            created = await local.post("/v1/session/passphrase", json=body, headers=WEB)
            assert created.status_code == 201
        same_64 = [f"2001:db8:1:2::{n:x}" for n in range(1, 10)]
        in_one_64 = await guesses_until_refused(app, same_64)
        many = [f"198.51.100.{n}" for n in range(1, 30)]
        from_many = await guesses_until_refused(app, many)
        await app.state.hub.web.close()
        return in_one_64, from_many

    in_one_64, from_many = asyncio.run(attack())
    assert in_one_64 == 4  # three free, as for one address
    # Each new address gets its own three, but all clients together have ten wrong passphrases
    # before everyone waits (four were spent from the /64 above).
    assert from_many == 7


def test_rotating_x_forwarded_for_gets_no_more_guesses(tmp_path: Path) -> None:
    settings = hub_settings(tmp_path / "data")
    app = create_app(settings, loader=lambda name: FakeChatModel(context_length=4096))
    with served(app, settings) as url:
        # Through a proxy (or pretending to be one) the first passphrase needs the setup link.
        relayed = httpx.post(
            url + "/v1/session/passphrase",
            json={"passphrase": PASSPHRASE},
            headers=WEB | {"X-Forwarded-For": "127.0.0.1"},
        )
        assert relayed.status_code == 403 and error_of(relayed)["code"] == "setup_link_required"
        created = httpx.post(
            url + "/v1/session/passphrase", json={"passphrase": PASSPHRASE}, headers=WEB
        )
        assert created.status_code == 201
        codes = [
            httpx.post(
                url + "/v1/session",
                json={"passphrase": "guess-1234"},
                headers=WEB | {"X-Forwarded-For": f"203.0.113.{n}"},
            ).status_code
            for n in range(1, 5)
        ]
        assert codes == [401, 401, 401, 429]  # as many as one client gets


def test_proxy_headers_are_believed_only_from_trusted_proxies(tmp_path: Path) -> None:
    untrusted = server_config(FastAPI(), hub_settings(tmp_path), 8484)
    assert untrusted.proxy_headers is False
    trusted = server_config(FastAPI(), hub_settings(tmp_path, trusted_proxies="127.0.0.1"), 8484)
    assert trusted.proxy_headers is True and trusted.forwarded_allow_ips == ["127.0.0.1"]


# --- 4. Sessions end with their passphrase; the owner token rotates ---------------------------


def test_a_passphrase_reset_ends_every_session(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with TestClient(
        hub_app(data_dir), base_url="http://127.0.0.1", client=("127.0.0.1", 1)
    ) as laptop:
        assert (
            laptop.post(
                "/v1/session/passphrase", json={"passphrase": PASSPHRASE}, headers=WEB
            ).status_code
            == 201
        )
        old_cookie = laptop.cookies["wnas_session"]
        assert laptop.get("/v1/conversations").status_code == 200
        (data_dir / PASSPHRASE_FILE_NAME).unlink()  # the README's reset
        assert laptop.get("/v1/conversations").status_code == 401
    # After the restart, with a new passphrase, the old cookie stays refused.
    with TestClient(
        hub_app(data_dir), base_url="http://127.0.0.1", client=("127.0.0.1", 1)
    ) as laptop:
        laptop.cookies.set("wnas_session", old_cookie)
        assert laptop.get("/v1/conversations").status_code == 401
        new = laptop.post(
            "/v1/session/passphrase", json={"passphrase": PASSPHRASE + "!"}, headers=WEB
        )
        assert new.status_code == 201 and new.cookies["wnas_session"] != old_cookie
        assert laptop.get("/v1/conversations").status_code == 200
        laptop.cookies.clear()
        laptop.cookies.set("wnas_session", old_cookie)
        assert laptop.get("/v1/conversations").status_code == 401


def test_the_rotated_token_replaces_the_old_one_at_once(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with TestClient(hub_app(data_dir), base_url="http://127.0.0.1") as api:
        old = token_of(data_dir)
        assert api.post("/v1/token/rotate").status_code == 401
        rotated = api.post("/v1/token/rotate", headers={"Authorization": f"Bearer {old}"})
        assert rotated.status_code == 200
        new = rotated.json()["token"]
        assert new != old and token_of(data_dir) == new
        assert stat.S_IMODE((data_dir / "owner_token").stat().st_mode) == 0o600
        refused = api.get("/v1/models", headers={"Authorization": f"Bearer {old}"})
        assert refused.status_code == 401 and "hub token" in error_of(refused)["message"]
        assert api.get("/v1/models", headers={"Authorization": f"Bearer {new}"}).status_code == 200


def test_hub_token_rotate_switches_the_running_hub(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    settings = hub_settings(data_dir)
    app = create_app(settings, loader=lambda name: FakeChatModel(context_length=4096))
    with served(app, settings) as url:
        port = int(url.rsplit(":", 1)[1])
        write_running_address(data_dir, RunningAddress.of_this_process("127.0.0.1", port))
        old = token_of(data_dir)
        result = runner.invoke(cli, ["token", "rotate", "--data-dir", str(data_dir)])
        assert result.exit_code == 0, result.output
        new = result.stdout.strip()
        assert new == token_of(data_dir) != old
        assert (
            httpx.get(url + "/v1/models", headers={"Authorization": f"Bearer {old}"}).status_code
            == 401
        )
        assert (
            httpx.get(url + "/v1/models", headers={"Authorization": f"Bearer {new}"}).status_code
            == 200
        )
        printed = runner.invoke(cli, ["token", "--data-dir", str(data_dir)])
        assert printed.stdout.strip() == new


def test_hub_token_rotate_without_a_hub_writes_the_new_token(tmp_path: Path) -> None:
    first = runner.invoke(cli, ["token", "--data-dir", str(tmp_path)]).stdout.strip()
    result = runner.invoke(cli, ["token", "rotate", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == token_of(tmp_path) != first


# --- 5. /docs and /openapi.json are the owner's -----------------------------------------------


def test_docs_need_the_owner(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with TestClient(
        hub_app(data_dir), base_url="http://127.0.0.1", client=("127.0.0.1", 1)
    ) as browser:
        for path in ("/docs", "/openapi.json"):
            refused = browser.get(path)
            assert refused.status_code == 401 and "sign in" in error_of(refused)["message"]
        assert browser.get("/redoc").status_code == 404
        owner = {"Authorization": f"Bearer {token_of(data_dir)}"}
        assert "/v1/models" in browser.get("/openapi.json", headers=owner).json()["paths"]
        browser.post("/v1/session/passphrase", json={"passphrase": PASSPHRASE}, headers=WEB)
        docs = browser.get("/docs")  # a signed-in browser: its cookie reaches both
        assert docs.status_code == 200 and "/openapi.json" in docs.text
        assert browser.get("/openapi.json").status_code == 200


# --- 6. The setup link stays out of the logs ---------------------------------------------------


def test_the_setup_link_is_shown_on_a_terminal_only() -> None:
    logged = setup_link_message("0.0.0.0", 8484, "secret-token", on_terminal=False)
    assert "secret-token" not in logged and "hub setup-link" in logged
    assert "?setup=secret-token" in setup_link_message("0.0.0.0", 8484, "secret-token")


def test_hub_setup_link_prints_the_link_while_a_hub_waits_for_it(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    refused = runner.invoke(cli, ["setup-link", "--data-dir", str(data_dir)])
    assert refused.exit_code == 1 and "hub serve" in refused.output
    app = hub_app(data_dir)
    links = SetupLinkFile(data_dir)
    token = app.state.hub.web.sign_in.setup_token
    links.write(f"http://127.0.0.1:8484/?setup={token}")
    assert stat.S_IMODE(links.path.stat().st_mode) == 0o600
    write_running_address(data_dir, RunningAddress.of_this_process("0.0.0.0", 8484))
    shown = runner.invoke(cli, ["setup-link", "--data-dir", str(data_dir)])
    assert shown.exit_code == 0 and shown.stdout.strip() == f"http://127.0.0.1:8484/?setup={token}"
    assert "this machine's address" in shown.stderr
    with TestClient(app, base_url="http://192.168.1.20", client=("192.168.1.20", 1)) as phone:
        body = {"passphrase": PASSPHRASE, "setup_token": token}
        assert phone.post("/v1/session/passphrase", json=body, headers=WEB).status_code == 201
    assert not links.path.exists()  # used: gone
    after = runner.invoke(cli, ["setup-link", "--data-dir", str(data_dir)])
    assert after.exit_code == 1 and "already set" in after.output


# --- 7. uvicorn's limits ----------------------------------------------------------------------


def test_the_server_bounds_messages_heads_and_connections(tmp_path: Path) -> None:
    config = server_config(FastAPI(), hub_settings(tmp_path), 8484)
    # The largest sealed device frame (2 MiB, the seal's 17 bytes) and a little room.
    assert config.ws_max_size == WS_MAX_MESSAGE_BYTES == 2 * 1024 * 1024 + 17 + 64 * 1024
    assert config.http is DeadlineH11Protocol
    assert config.h11_max_incomplete_event_size == MAX_REQUEST_HEAD_BYTES
    assert config.limit_concurrency == 2048 and config.timeout_keep_alive == 5
    unlimited = server_config(FastAPI(), hub_settings(tmp_path, max_connections=0), 8484)
    assert unlimited.limit_concurrency is None


def test_an_endless_request_head_is_cut_off(tmp_path: Path) -> None:
    settings = hub_settings(tmp_path / "data")
    app = create_app(settings, loader=lambda name: FakeChatModel(context_length=4096))
    with served(app, settings) as url:
        port = int(url.rsplit(":", 1)[1])
        line = b"X-Filler: " + b"a" * 8000 + b"\r\n"
        sent = 0
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            try:
                sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                while sent < 16 * 1024 * 1024:  # a server without a bound would take it all
                    sock.sendall(line)
                    sent += len(line)
            except OSError:
                pass  # the hub closed the connection
            try:
                answer = sock.recv(100)
            except OSError:
                answer = b""
        assert sent < 16 * 1024 * 1024
        assert answer == b"" or answer.startswith(b"HTTP/1.1 400")
        assert httpx.get(url + "/health").status_code == 200


def test_connections_that_send_no_request_head_are_closed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A short deadline for the test; the hub's is REQUEST_HEAD_SECONDS.
    monkeypatch.setattr(DeadlineH11Protocol, "head_deadline", 0.5)
    settings = hub_settings(tmp_path / "data")
    app = create_app(settings, loader=lambda name: FakeChatModel(context_length=4096))
    with served(app, settings) as url:
        port = int(url.rsplit(":", 1)[1])
        silent = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(50)]
        trickle = socket.create_connection(("127.0.0.1", port), timeout=30)
        head = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 10_000
        closed_while_trickling = False
        for byte in head:  # one byte at a time, as slowly as a slowloris likes
            try:
                trickle.sendall(bytes([byte]))
            except OSError:
                closed_while_trickling = True
                break
            time.sleep(0.01)
        assert closed_while_trickling
        for sock in silent:
            assert sock.recv(100) == b""  # closed by the hub, with nothing said
            sock.close()
        trickle.close()
        # A client that sends its request at once is served, and kept alive between requests.
        with httpx.Client(base_url=url) as client:
            assert client.get("/health").status_code == 200
            assert client.get("/health").status_code == 200
