"""/v1/session: the web UI's sign-in (first-run passphrase, sign-in, sign-out)."""

from __future__ import annotations

import ipaddress
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from hub.api.auth import require_web_client
from hub.api.deps import WebDep
from hub.api.web_schemas import SessionStatus, SignedIn
from hub.web.passphrase import MAX_PASSPHRASE_CHARS
from hub.web.sessions import SESSION_LIFETIME_SECONDS
from hub.web.sign_in import SESSION_COOKIE

router = APIRouter(prefix="/v1/session", tags=["session"])

WebClientDep = Annotated[None, Depends(require_web_client)]


class SignInBody(BaseModel):
    """POST /v1/session."""

    model_config = ConfigDict(extra="forbid")

    passphrase: str = Field(min_length=1, max_length=MAX_PASSPHRASE_CHARS)


class FirstPassphraseBody(SignInBody):
    """POST /v1/session/passphrase; ``setup_token`` comes from the link `hub serve` prints."""

    setup_token: str | None = Field(default=None, max_length=200)


# Headers a proxy adds. The hub believes them only from HUB_TRUSTED_PROXIES (uvicorn then puts
# the real client in request.client); from anyone else they mark a request as relayed.
FORWARDING_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip")


def client_address(request: Request) -> str:
    """The caller's address (the key of the sign-in back-off)."""
    return request.client.host if request.client else "unknown"


def is_loopback_client(request: Request) -> bool:
    """True when the request comes from this machine and not through a proxy on it (behind a
    local TLS proxy every request would otherwise look local)."""
    if any(name in request.headers for name in FORWARDING_HEADERS):
        return False
    try:
        return ipaddress.ip_address(client_address(request)).is_loopback
    except ValueError:
        return False


def _set_session_cookie(request: Request, response: Response, session_id: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=SESSION_LIFETIME_SECONDS,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


@router.get("")
async def read_session(request: Request, web: WebDep) -> SessionStatus:
    """Whether a passphrase is set and whether this browser is signed in."""
    status = await web.sign_in.status(
        request.cookies.get(SESSION_COOKIE), is_loopback_client(request)
    )
    return SessionStatus.from_domain(status)


@router.post("/passphrase", status_code=201)
async def create_passphrase(
    body: FirstPassphraseBody,
    request: Request,
    response: Response,
    web: WebDep,
    _: WebClientDep,
) -> SignedIn:
    """Set the passphrase on first start (from this machine, or with the setup link)."""
    session_id = await web.sign_in.set_first_passphrase(
        body.passphrase, body.setup_token, is_loopback_client(request)
    )
    _set_session_cookie(request, response, session_id)
    return SignedIn(signed_in=True)


@router.post("")
async def create_session(
    body: SignInBody,
    request: Request,
    response: Response,
    web: WebDep,
    _: WebClientDep,
) -> SignedIn:
    """Sign in with the passphrase; wrong ones are slowed down per client address."""
    session_id = await web.sign_in.sign_in(body.passphrase, client_address(request))
    _set_session_cookie(request, response, session_id)
    return SignedIn(signed_in=True)


@router.delete("")
async def delete_session(
    request: Request, response: Response, web: WebDep, _: WebClientDep
) -> SignedIn:
    """Sign this browser out."""
    await web.sign_in.sign_out(request.cookies.get(SESSION_COOKIE))
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return SignedIn(signed_in=False)
