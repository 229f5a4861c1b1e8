"""The hub's MCP server (the official ``mcp`` SDK): the person's memory as tools for agents.

Each tool names the scope it needs; the HTTP endpoint (``hub.api.mcp_endpoint``) records which
scopes the caller holds, and a tool refuses a caller without its scope. Memory errors reach the
agent as the tool's error with the hub's own message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from hub import __version__
from hub.errors import CodedError
from hub.mcp_server import memory_tools
from hub.mcp_server.memory_tools import MemoryAnswer
from hub.recall.service import MemoryService

T = TypeVar("T")

MCP_PATH = "/mcp"  # where the hub serves MCP over streamable HTTP
GRANTED_SCOPES = "hub_granted_scopes"  # request.state attribute set by the HTTP endpoint

INSTRUCTIONS = (
    "The person's own memory on their Walking NAS hub: notes, facts, conversations, what their "
    "devices heard (transcripts) and summaries of their sensors. Cite the ids you use."
)

Limit = Annotated[int, Field(ge=1, le=50, description="At most this many memories.")]
Since = Annotated[
    str | None, Field(default=None, description="Only memories from this time on (ISO 8601).")
]
Until = Annotated[
    str | None, Field(default=None, description="Only memories before this time (ISO 8601).")
]


def _require(ctx: Context, scope: str) -> None:
    """Refuse the call unless the HTTP endpoint granted ``scope`` to this caller."""
    request = ctx.request_context.request
    granted = getattr(getattr(request, "state", None), GRANTED_SCOPES, None)
    if not granted or scope not in granted:
        raise ToolError(
            f"this credential lacks the {scope} scope; ask the hub's owner for a credential "
            f"that holds it (`hub clients add NAME --scopes {scope}`)"
        )


async def _run(blocking: Callable[[], T]) -> T:
    """Run memory work off the event loop; a memory error becomes the tool's error."""
    try:
        return await asyncio.to_thread(blocking)
    except Exception as exc:
        if isinstance(exc, CodedError):
            raise ToolError(str(exc)) from exc
        raise


def build_mcp_server(
    memory: Callable[[], MemoryService], check_disk: Callable[[], None]
) -> MCPServer[Any]:
    """The MCP server over the hub's memory; ``memory`` gives the service or raises the hub's
    memory-is-off error, ``check_disk`` refuses a write while the disk is nearly full."""
    server: MCPServer[Any] = MCPServer(
        name="walking-nas", version=__version__, instructions=INSTRUCTIONS
    )

    async def store() -> Any:
        try:
            return memory().store
        except Exception as exc:
            if isinstance(exc, CodedError):
                raise ToolError(str(exc)) from exc
            raise

    @server.tool(description="Search the person's memories by meaning and words; cited.")
    async def search_memories(
        ctx: Context,
        query: Annotated[str, Field(min_length=1, max_length=2000)],
        limit: Limit = 5,
        kinds: Annotated[
            list[str] | None,
            Field(
                description="Only these kinds: note, fact, message, transcript, "
                "sensor_summary, image_text, document."
            ),
        ] = None,
        since: Since = None,
        until: Until = None,
    ) -> MemoryAnswer:
        _require(ctx, "memory:read")  # scope: memory:read
        found = await store()
        return await _run(
            lambda: memory_tools.search_memories(found, query, limit, kinds, since, until)
        )

    @server.tool(description="Keep a note in the person's memory; answers with its citation.")
    async def add_note(
        ctx: Context, text: Annotated[str, Field(min_length=1, max_length=4000)]
    ) -> MemoryAnswer:
        _require(ctx, "memory:write")  # scope: memory:write
        found = await store()
        await _run(check_disk)
        return await _run(lambda: memory_tools.add_note(found, text))

    @server.tool(description="What the person's devices heard lately (transcripts), newest first.")
    async def recent_transcripts(
        ctx: Context, limit: Limit = 10, since: Since = None, until: Until = None
    ) -> MemoryAnswer:
        _require(ctx, "memory:read")  # scope: memory:read
        found = await store()
        return await _run(
            lambda: memory_tools.recent_of_kind(found, "transcript", limit, since, until)
        )

    @server.tool(
        description="Summaries of the person's sensors (heart rate, glucose, steps) in a time "
        "range, oldest first."
    )
    async def sensor_summary(
        ctx: Context,
        since: Annotated[str, Field(description="Start of the range (ISO 8601).")],
        until: Annotated[str, Field(description="End of the range (ISO 8601).")],
        limit: Limit = 50,
    ) -> MemoryAnswer:
        _require(ctx, "sensors:read")  # scope: sensors:read
        found = await store()
        return await _run(
            lambda: memory_tools.recent_of_kind(
                found, "sensor_summary", limit, since, until, oldest_first=True
            )
        )

    return server
