"""``/mcp``: the hub's MCP server over streamable HTTP, behind the hub's own credentials.

Stateless and answering in JSON: every request stands alone (no session to keep or expire), so
a tool call runs within the HTTP request that carries it, and the caller checked at the door is
the caller the tools see. The hub's middleware has already checked the Host and Origin headers
and the body size, so the SDK's own DNS-rebinding check is off.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from mcp.server.transport_security import TransportSecuritySettings
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from hub.api.deps import get_memory
from hub.api.errors import HubAPIError, error_response, to_api_error
from hub.api.scopes import identify_caller
from hub.assembly import Hub
from hub.mcp_server.server import GRANTED_SCOPES, build_mcp_server
from hub.recall.service import MemoryService

# The scopes a caller may hold that the MCP tools ask for (hub/api/scopes.py names them all).
MCP_SCOPES = frozenset({"memory:read", "memory:write", "sensors:read"})


async def granted_scopes(request: Request, hub: Hub) -> frozenset[str]:
    """Who may use the MCP endpoint, and with which scopes: the owner (token or web session)
    holds them all; a client credential (bearer or ``/c/<credential>/``) holds its own, and
    needs at least one the tools ask for. Each tool checks the scope it needs."""
    caller = await identify_caller(request, hub)
    if caller.is_owner:
        return MCP_SCOPES
    granted = MCP_SCOPES & caller.scopes
    if not granted:
        raise HubAPIError(
            403,
            f"client {caller.client!r} may not use MCP: it needs one of the scopes "
            "'memory:read', 'memory:write', 'sensors:read'; the owner can make a credential "
            "that holds them (`hub clients add NAME --scopes memory:read`)",
            error_type="permission_error",
            code="insufficient_scope",
        )
    return frozenset(granted)


class McpEndpoint:
    """The ASGI endpoint at ``/mcp``; ``running`` must wrap the app's lifespan."""

    def __init__(self, hub: Hub) -> None:
        self._hub = hub
        self.server = build_mcp_server(self._memory, self._check_disk)
        self.server.streamable_http_app(
            stateless_http=True,
            json_response=True,
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        self._manager = self.server.session_manager

    def _memory(self) -> MemoryService:
        return get_memory(self._hub)  # the one place that says memory is off, and why

    def _check_disk(self) -> None:
        self._hub.disk_space.check("new notes")

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Serve MCP requests while this is entered."""
        async with self._manager.run():
            yield

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the caller, then let the SDK answer (a refusal is the hub's error shape)."""
        request = Request(scope, receive)
        try:
            scopes = await granted_scopes(request, self._hub)
        except HubAPIError as exc:
            await error_response(to_api_error(exc))(scope, receive, send)
            return
        scope.setdefault("state", {})[GRANTED_SCOPES] = scopes
        await self._manager.handle_request(scope, receive, send)
