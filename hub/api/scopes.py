"""``require_scope``: who may call a route. The owner (bearer token or a web session, as
``hub.api.auth.require_owner`` checks) may call any; a client program only with a credential
that holds one of the route's scopes, sent as a bearer token or in the URL prefix
``/c/<credential>/`` (``hub.api.client_prefix``)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from hub.api.auth import CALLER_SCOPE_KEY, presented_token, require_owner
from hub.api.deps import HubDep
from hub.api.errors import HubAPIError
from hub.assembly import Hub
from hub.clients.store import looks_like_credential
from hub.recall.chat_memory import MemoryAccess


@dataclass(frozen=True)
class Caller:
    """Who sent a request: the owner (``client`` is None), or a client program and its scopes."""

    client: str | None
    scopes: frozenset[str] = frozenset()

    @property
    def is_owner(self) -> bool:
        """True for the owner, who may do everything."""
        return self.client is None

    def may(self, scope: str) -> bool:
        """True when the caller holds ``scope`` (the owner holds every scope)."""
        return self.is_owner or scope in self.scopes


OWNER = Caller(None)


def client_caller(name: str, scopes: tuple[str, ...]) -> Caller:
    """The caller a client credential stands for."""
    return Caller(name, frozenset(scopes))


async def authenticate_client(hub: Hub, credential: str) -> Caller | None:
    """The client holding ``credential`` (noting it was seen), or None."""
    record = await asyncio.to_thread(hub.clients.authenticate, credential)
    return None if record is None else client_caller(record.name, record.scopes)


def _wrong_credential() -> HubAPIError:
    return HubAPIError(
        401,
        "this credential is not valid (revoked, mistyped, or never made); ask the hub's owner "
        "for a new one (`hub clients add NAME --scopes ...`)",
        code="invalid_api_key",
        headers={"WWW-Authenticate": "Bearer"},
    )


async def identify_caller(request: Request, hub: Hub) -> Caller:
    """Who sent ``request``: a client from the URL prefix or the bearer token, else the owner
    as ``require_owner`` decides (which refuses anyone else with 401)."""
    from_prefix = request.scope.get(CALLER_SCOPE_KEY)
    if from_prefix is not None:
        assert isinstance(from_prefix, Caller)
        return from_prefix
    token = presented_token(request)
    # A token in a client credential's form is looked up; any other is the owner's to check
    # (whose refusal names `hub token`).
    if token is not None and looks_like_credential(token) and not hub.owner_token.matches(token):
        caller = await authenticate_client(hub, token)
        if caller is None and hub.settings.require_token:
            raise _wrong_credential()
        if caller is not None:
            return caller
    await require_owner(request, hub)
    return OWNER


def require_scope(scope: str, *alternatives: str) -> Callable[[Request, Hub], Awaitable[Caller]]:
    """A dependency letting in the owner, or a client holding ``scope`` (or an alternative);
    it answers with the Caller, so a route can ask what else the caller may do."""
    accepted = (scope, *alternatives)

    async def check_scope(request: Request, hub: HubDep) -> Caller:
        caller = await identify_caller(request, hub)
        if not any(caller.may(name) for name in accepted):
            needed = " or ".join(repr(name) for name in accepted)
            raise HubAPIError(
                403,
                f"client {caller.client!r} may not do this: it needs the scope {needed}; the "
                "owner can make a credential that holds it (`hub clients add NAME --scopes "
                f"{accepted[0]}`)",
                error_type="permission_error",
                code="insufficient_scope",
            )
        return caller

    return check_scope


def memory_access(caller: Caller) -> MemoryAccess:
    """What the caller's chats may do with memory: recall needs ``memory:read``, keeping
    messages and memory commands ``memory:write`` (the owner may do both)."""
    return MemoryAccess(read=caller.may("memory:read"), write=caller.may("memory:write"))


ChatCaller = Annotated[Caller, Depends(require_scope("chat"))]
ModelsCaller = Annotated[Caller, Depends(require_scope("models:read", "chat"))]
