"""The owner's bearer token guards every endpoint but /health."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request

from hub.api.errors import HubAPIError
from hub.api.services import HubServices, get_services


def _presented_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


async def require_owner(
    request: Request, services: Annotated[HubServices, Depends(get_services)]
) -> None:
    """Refuse the request unless it carries the owner's token."""
    if not services.settings.require_token:
        return
    token = _presented_token(request)
    if token is None:
        raise HubAPIError(
            401,
            "missing bearer token; send 'Authorization: Bearer <token>' "
            "(print the token with `hub token`)",
            code="invalid_api_key",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not hmac.compare_digest(token.encode(), services.owner_token.encode()):
        raise HubAPIError(
            401,
            "wrong bearer token; print the right one with `hub token`",
            code="invalid_api_key",
            headers={"WWW-Authenticate": "Bearer"},
        )
