"""Bridge URLs that carry their secret in the path, ``/bridges/omi/<secret>/audio``: for apps
that take only a URL and append their own query (the Omi app adds ``?uid=...`` to whatever it is
given, so a ``?token=`` there would not survive). The secret is cut out of the path in the
request's own ASGI scope, in place, before anything else sees it: the access log, the metrics,
the routes and every error message see ``/bridges/omi/audio`` (see hub.api.client_prefix)."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

# Where a route finds the secret the path carried ("" when it carried none).
SECRET_SCOPE_KEY = "hub.bridge_secret"
# The bridge kinds whose URLs carry the secret in the path, and their endpoints' names.
SECRET_PATH_ENDPOINTS: dict[str, frozenset[str]] = {
    "omi": frozenset({"audio", "transcript", "conversation", "day-summary"}),
}


def split_secret(path: str) -> tuple[str, str] | None:
    """'/bridges/omi/SECRET/audio' as ('SECRET', '/bridges/omi/audio'); None for a path that
    carries no secret. Under such a kind, a first segment that is not an endpoint's name is
    taken for a secret, so a mistyped URL never shows one either."""
    for kind, endpoints in SECRET_PATH_ENDPOINTS.items():
        prefix = f"/bridges/{kind}/"
        if not path.startswith(prefix):
            continue
        first, _, rest = path[len(prefix) :].partition("/")
        if first in endpoints or not first:
            return None
        return first, prefix + rest
    return None


def _strip_raw(raw_path: bytes, kept: str) -> bytes:
    """The raw path with its secret segment cut, as ``kept`` has it decoded."""
    prefix = kept[: kept.index("/", len("/bridges/")) + 1].encode()
    cut = raw_path.find(b"/", len(prefix))
    return prefix + (raw_path[cut + 1 :] if cut >= 0 else b"")


class BridgeSecretPathMiddleware:
    """Move a bridge's secret from the path into the scope (``SECRET_SCOPE_KEY``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on with the secret out of its path."""
        if scope["type"] == "http":
            parts = split_secret(scope["path"])
            if parts is not None:
                secret, path = parts
                scope["path"] = path
                raw_path = scope.get("raw_path")
                scope["raw_path"] = _strip_raw(raw_path, path) if raw_path else path.encode()
                scope[SECRET_SCOPE_KEY] = secret
        await self.app(scope, receive, send)
