"""``hub mcp``: MCP over stdio for desktop agents, relayed to a running hub's ``/mcp``.

The bridge holds no tools of its own: it lists and calls the hub's, over streamable HTTP with
the owner's token, so the tools, their checks and their answers are those of the hub alone.
"""

from __future__ import annotations

from typing import Any

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server
from mcp_types import CallToolRequestParams, CallToolResult, ListToolsResult

from hub import __version__

RELAY_TIMEOUT_S = 120.0


def bridge_server(hub: Client) -> Server[Any]:
    """A stdio-side MCP server whose tools are the connected hub's."""

    async def list_tools(ctx: Any, params: Any) -> ListToolsResult:
        return await hub.list_tools()

    async def call_tool(ctx: Any, params: CallToolRequestParams) -> CallToolResult:
        return await hub.call_tool(params.name, params.arguments or {})

    return Server(
        "walking-nas", version=__version__, on_list_tools=list_tools, on_call_tool=call_tool
    )


async def serve_stdio(mcp_url: str, token: str) -> None:
    """Relay MCP between this process's stdin/stdout and the hub at ``mcp_url``."""
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=RELAY_TIMEOUT_S)
    async with http, Client(streamable_http_client(mcp_url, http_client=http)) as hub:
        server = bridge_server(hub)
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())
