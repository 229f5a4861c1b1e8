"""The URL prefix ``/c/<credential>/``: for programs that cannot send a header (Home Assistant's
Ollama integration takes only a URL). It is taken off before anything else sees the request.

The credential is cut out of the request's own ASGI scope in place, not a copy: uvicorn's
access log reads the path from that same scope object once the answer is sent, so the log,
the routes, the metrics and every error message see only the path after the prefix.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Receive, Scope, Send

from hub.api.auth import CALLER_SCOPE_KEY
from hub.api.errors import error_body_for
from hub.api.scopes import authenticate_client
from hub.assembly import Hub

PREFIX = "/c/"


def split_prefix(path: str) -> tuple[str, str] | None:
    """'/c/SECRET/api/tags' as ('SECRET', '/api/tags'); None for a path without the prefix."""
    if not path.startswith(PREFIX):
        return None
    credential, _, rest = path[len(PREFIX) :].partition("/")
    return credential, "/" + rest


def _strip_raw(raw_path: bytes) -> bytes:
    """The raw path after its first two segments ('/c/SECRET'), or '/'."""
    cut = raw_path.find(b"/", len(PREFIX))
    return raw_path[cut:] if cut >= 0 else b"/"


class ClientPrefixMiddleware:
    """Authenticate and remove ``/c/<credential>`` from the path; refuse an unknown one (401)."""

    def __init__(self, app: ASGIApp, hub: Hub) -> None:
        self.app = app
        self.hub = hub

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on without its prefix, as the client it names."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        parts = split_prefix(scope["path"])
        if parts is None:
            await self.app(scope, receive, send)
            return
        credential, path = parts
        # In place, before anything can fail: see the module's docstring.
        scope["path"] = path
        raw_path = scope.get("raw_path")
        scope["raw_path"] = _strip_raw(raw_path) if raw_path else path.encode()
        caller = await authenticate_client(self.hub, credential) if credential else None
        if caller is None:
            await self._refuse(path, send)
            return
        scope[CALLER_SCOPE_KEY] = caller
        await self.app(scope, receive, send)

    @staticmethod
    async def _refuse(path: str, send: Send) -> None:
        body = json.dumps(
            error_body_for(
                path,
                "the credential in this URL (/c/<credential>/) is not valid: revoked, "
                "mistyped, or never made; ask the hub's owner for a new one "
                "(`hub clients add NAME --scopes ...`)",
                "invalid_request_error",
                "invalid_api_key",
                status=401,
            )
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
