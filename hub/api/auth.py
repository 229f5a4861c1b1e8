"""The owner's bearer token, or a signed-in web UI session, guards every endpoint but /health.

CSRF: the session cookie is SameSite=Strict, and every cookie-authenticated request that changes
something must also carry the ``X-Hub-Client: web`` header. Browsers send a custom header
cross-origin only after a CORS preflight, which the hub never grants, so another site cannot
forge such a request. Programs use the bearer token and need no header.
"""

from __future__ import annotations

from fastapi import Request

from hub.api.deps import HubDep
from hub.api.errors import HubAPIError
from hub.web.sign_in import SESSION_COOKIE

WEB_CLIENT_HEADER = "x-hub-client"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Where the URL prefix /c/<credential>/ leaves the client it authenticated, in the ASGI scope
# (hub.api.client_prefix); such a request is a client's, never the owner's.
CALLER_SCOPE_KEY = "hub.caller"


def presented_token(request: Request) -> str | None:
    """The bearer token of ``request``, if it carries one."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


async def require_owner(request: Request, hub: HubDep) -> None:
    """Refuse the request unless it carries the owner's token or a live web UI session."""
    if request.scope.get(CALLER_SCOPE_KEY) is not None:
        raise HubAPIError(
            403,
            "a client credential cannot reach this endpoint: it is the owner's; use the "
            "owner's token (`hub token`) or the web UI",
            error_type="permission_error",
            code="insufficient_scope",
        )
    if not hub.settings.require_token:
        return
    token = presented_token(request)
    if token is None and await hub.web.sign_in.check_session(request.cookies.get(SESSION_COOKIE)):
        require_web_client(request)
        return
    if token is None:
        raise HubAPIError(
            401,
            "missing bearer token; send 'Authorization: Bearer <token>' "
            "(print the token with `hub token`), or sign in to the web UI",
            code="invalid_api_key",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not hub.owner_token.matches(token):
        raise HubAPIError(
            401,
            "wrong bearer token; print the right one with `hub token`",
            code="invalid_api_key",
            headers={"WWW-Authenticate": "Bearer"},
        )


def require_web_client(request: Request) -> None:
    """Refuse a state-changing browser request that lacks the web UI's header (CSRF guard)."""
    if request.method in SAFE_METHODS:
        return
    if request.headers.get(WEB_CLIENT_HEADER, "").lower() != "web":
        raise HubAPIError(
            403,
            "this request changes something but lacks the 'X-Hub-Client: web' header the web "
            "UI sends; programs should use the bearer token (`hub token`) instead",
            code="missing_client_header",
        )
