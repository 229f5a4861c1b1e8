"""Where a request comes from: the name it was sent to (Host) and the page that sent it (Origin).

DNS rebinding: a page on evil.example can make its own name resolve to 127.0.0.1 and then
talk to the hub as if same-origin, with the Host header still saying evil.example. So the hub
answers only to names it knows: IP literals (rebinding needs a name), localhost, this
machine's name (and name.local), and the names the owner lists in ``allowed_hosts``.

Cross-site pages: browsers send Origin on WebSockets and on requests that change something;
a request whose Origin is not the hub itself is refused (programs send no Origin and pass).
"""

from __future__ import annotations

import ipaddress
import json
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from hub.api.errors import error_body_for

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# The device link checks its own Origin (hub.wearables.link): devices are not browsers.
ORIGIN_EXEMPT_PATHS = frozenset({"/v1/devices/link"})
MAX_SHOWN_NAME = 100


def split_host(host: str) -> tuple[str, str]:
    """'Name:8484' as ('name', '8484'), '[::1]:80' as ('::1', '80'); lowercased, no final dot."""
    host = host.strip().lower()
    port = ""
    if host.startswith("["):
        name, _, rest = host[1:].partition("]")
        port = rest.removeprefix(":")
    elif host.count(":") == 1:
        name, _, port = host.partition(":")
    else:
        name = host  # a bare IPv6 literal, or nothing
    return name.rstrip("."), port


def is_ip_literal(name: str) -> bool:
    """True for '127.0.0.1' or '::1' (a name the attacker's DNS cannot point elsewhere)."""
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def machine_names(hostname: str) -> frozenset[str]:
    """This machine's names as a browser on the network may use them: name, name.local."""
    hostname = hostname.strip().lower().rstrip(".")
    if not hostname:
        return frozenset()
    short = hostname.split(".", 1)[0]
    return frozenset({hostname, short, f"{short}.local"})


def parse_names(text: str) -> frozenset[str]:
    """'hub.example, Nas.local.' as {'hub.example', 'nas.local'}."""
    return frozenset(part.strip().lower().rstrip(".") for part in text.split(",") if part.strip())


@dataclass(frozen=True)
class AllowedHosts:
    """The names the hub answers to: its own, and those the owner listed."""

    own: frozenset[str]
    configured: frozenset[str]

    @classmethod
    def of(cls, configured: str, hostname: str | None = None) -> AllowedHosts:
        """From the ``allowed_hosts`` setting and this machine's name."""
        own = machine_names(socket.gethostname() if hostname is None else hostname)
        return cls(own | {"localhost"}, parse_names(configured))

    def allows(self, name: str) -> bool:
        """True when a request sent to ``name`` (no port) is for this hub."""
        return is_ip_literal(name) or name in self.own or self.listed(name)

    def listed(self, name: str) -> bool:
        """True when the owner named ``name`` (or every name, with *) in the settings."""
        return "*" in self.configured or name in self.configured


def header(scope: Scope, wanted: bytes) -> str | None:
    """One request header's value, decoded as latin-1 (what HTTP allows)."""
    for name, value in scope.get("headers", []):
        if name == wanted:
            return bytes(value).decode("latin-1")
    return None


async def refuse(scope: Scope, receive: Receive, send: Send, status: int, body: bytes) -> None:
    """Answer ``status`` with a JSON error, on a plain request or a WebSocket handshake."""
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        if "websocket.http.response" in scope.get("extensions", {}):
            await send(
                {"type": "websocket.http.response.start", "status": status, "headers": headers}
            )
            await send({"type": "websocket.http.response.body", "body": body})
        else:
            await send({"type": "websocket.close", "code": 1008})
        return
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _error(path: str, message: str, code: str, status: int) -> bytes:
    body = error_body_for(path, message, "invalid_request_error", code, status=status)
    return json.dumps(body).encode()


def _shown(text: str) -> str:
    return text if len(text) <= MAX_SHOWN_NAME else text[:MAX_SHOWN_NAME] + "…"


class HostCheckMiddleware:
    """Refuse (421) a request or WebSocket sent to a name the hub does not answer to."""

    def __init__(self, app: ASGIApp, allowed: AllowedHosts) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on when its Host is one of the hub's names."""
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host = header(scope, b"host")
        # No Host at all is an HTTP/1.0 program: browsers always send one.
        if host is None or self.allowed.allows(split_host(host)[0]):
            await self.app(scope, receive, send)
            return
        name = _shown(split_host(host)[0])
        message = (
            f"this hub does not answer to the name {name!r}; if that is how you reach it, add "
            f'it to allowed_hosts (allowed_hosts = "{name}" in hub.toml, or '
            f"HUB_ALLOWED_HOSTS={name}) and restart the hub, or use its IP address"
        )
        await refuse(
            scope, receive, send, 421, _error(scope["path"], message, "host_not_allowed", 421)
        )


class OriginCheckMiddleware:
    """Refuse (403) a WebSocket, or a request that changes something, sent by another site's
    page; requests without an Origin (programs) pass."""

    def __init__(
        self, app: ASGIApp, allowed: AllowedHosts, exempt: Iterable[str] = ORIGIN_EXEMPT_PATHS
    ) -> None:
        self.app = app
        self.allowed = allowed
        self.exempt = frozenset(exempt)

    def _same_site(self, origin: str, host: str | None) -> bool:
        if origin == "null":  # a sandboxed frame or a file: never the hub's own page
            return False
        try:
            parts = urlsplit(origin)
            netloc = parts.netloc.lower()
        except ValueError:
            return False
        if parts.scheme not in ("http", "https") or not netloc:
            return False
        if host is not None and netloc == host.strip().lower():
            return True
        # Behind a proxy that rewrites Host, the page's name is one the owner listed.
        return self.allowed.listed(split_host(netloc)[0])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on unless a foreign page sent it."""
        checked = scope["type"] == "websocket" or (
            scope["type"] == "http" and scope.get("method", "GET") not in SAFE_METHODS
        )
        origin = header(scope, b"origin") if checked else None
        if (
            origin is None
            or scope.get("path") in self.exempt
            or self._same_site(origin, header(scope, b"host"))
        ):
            await self.app(scope, receive, send)
            return
        message = (
            f"refused a request from the page at {_shown(origin)!r}: only the hub's own pages "
            "may change things or open a WebSocket; programs should send no Origin and use the "
            "bearer token (`hub token`), and a name the hub is reached by through a proxy goes "
            "in allowed_hosts"
        )
        refusal = _error(scope["path"], message, "cross_origin_refused", 403)
        await refuse(scope, receive, send, 403, refusal)
