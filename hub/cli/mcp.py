"""`hub mcp`: the running hub's memory as an MCP server on stdin/stdout, for desktop agents."""

from __future__ import annotations

import anyio
from rich.console import Console

from hub.cli.options import DataDirOption
from hub.cli.running_hub import running_hub
from hub.datadir import read_owner_token
from hub.mcp_server.server import MCP_PATH
from hub.mcp_server.stdio_bridge import serve_stdio
from hub.settings import load_settings


def mcp(data_dir: DataDirOption = None) -> None:
    """Speak MCP on stdin/stdout (for an agent to start), relayed to the running hub."""
    errors = Console(stderr=True)  # stdout carries MCP alone
    with running_hub(data_dir, errors) as hub:
        url = hub.base_url.rstrip("/") + MCP_PATH
    token = read_owner_token(load_settings(data_dir=data_dir).data_dir) or ""
    anyio.run(serve_stdio, url, token)
