"""The secret a bridge presents: Nightscout uploaders send it (or its SHA-1 hex) in an
``api-secret`` header or as ``?token=`` in the URL; Health Auto Export sends whatever header or
URL the person typed in. A secret in the URL is cut out of the request before anything logs it.

The query string is rewritten in the request's own ASGI scope, not a copy: uvicorn's access log
reads the path and query from that same scope object once the answer is sent, so the log shows
the URL without the secret (as hub.api.client_prefix does for /c/<credential>/).
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

# Where the secret taken out of the URL waits for the route, in the ASGI scope.
URL_SECRET_SCOPE_KEY = "hub.bridge_url_secret"
# The paths of endpoints that bridges (not the owner, not client programs) call.
BRIDGE_PATH_PREFIXES = ("/api/v1/", "/bridges/")
# Nightscout takes ?token= (an access token) and ?secret= (the API secret); both name a secret.
URL_SECRET_NAMES = frozenset({"token", "secret"})
SECRET_HEADERS = ("api-secret", "api_secret")


def is_bridge_path(path: str) -> bool:
    """True for the endpoints bridges call."""
    return path.startswith(BRIDGE_PATH_PREFIXES)


class BridgeSecretMiddleware:
    """Move ``token``/``secret`` out of a bridge endpoint's query string into the scope."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on with the secret out of its URL (kept for the route)."""
        if scope["type"] == "http" and is_bridge_path(scope["path"]):
            raw = scope.get("query_string", b"").decode("latin-1")
            pairs = parse_qsl(raw, keep_blank_values=True)
            secrets = [value for name, value in pairs if name in URL_SECRET_NAMES]
            if secrets:
                kept = [(name, value) for name, value in pairs if name not in URL_SECRET_NAMES]
                scope["query_string"] = urlencode(kept).encode("latin-1")
                scope[URL_SECRET_SCOPE_KEY] = secrets[0]
        await self.app(scope, receive, send)


def presented_secret(request: Request) -> str:
    """What the caller offers as its bridge secret (its secret or the SHA-1 hex of it), from
    the ``api-secret`` header, a bearer token, or the URL; empty when it offers none."""
    for name in SECRET_HEADERS:
        value = request.headers.get(name, "").strip()
        if value:
            return value
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    from_url = request.scope.get(URL_SECRET_SCOPE_KEY)
    return from_url.strip() if isinstance(from_url, str) else ""
