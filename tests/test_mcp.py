"""Memory over MCP with the official SDK's client: streamable HTTP against the session's real
hub, and stdio through `hub mcp` started as an agent would start it."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from typer.testing import CliRunner

from hub.cli.main import app
from hub.mcp_server.server import build_mcp_server
from tests.client_support import make_client
from tests.hub_process import HubProcess

TOOLS = {"search_memories", "add_note", "recent_transcripts", "sensor_summary"}
TIMEOUT_S = 60


def remember(hub: HubProcess, **memory: Any) -> str:
    """Store a memory through the hub's REST API; its id."""
    response = httpx.post(
        f"{hub.base_url}/v1/memory", json=memory, headers=hub.headers(), timeout=60
    )
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def over_http(hub: HubProcess, token: str | None) -> Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    http = httpx2.AsyncClient(headers=headers, timeout=TIMEOUT_S)
    return Client(streamable_http_client(f"{hub.base_url}/mcp", http_client=http))


def cited_ids(result: Any) -> list[str]:
    assert not result.is_error, result.content
    return [citation["id"] for citation in result.structured_content["citations"]]


def test_mcp_over_http_lists_searches_adds_and_cites(hub: HubProcess) -> None:
    stored = remember(hub, text="The spare house key is under the blue flowerpot.", kind="note")
    heard = remember(
        hub, text="Pick up the parcel at the post office.", kind="transcript", source="device"
    )
    at = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
    summary = remember(
        hub,
        text="Resting heart rate was 58 bpm between 10:00 and 11:00.",
        kind="sensor_summary",
        source="device",
        happened_at=at.isoformat(),
    )

    async def session() -> None:
        with anyio.fail_after(TIMEOUT_S):
            async with over_http(hub, hub.token) as client:
                tools = await client.list_tools()
                assert {tool.name for tool in tools.tools} == TOOLS  # no forgetting

                found = await client.call_tool("search_memories", {"query": "spare house key"})
                assert cited_ids(found)[0] == stored
                citation = found.structured_content["citations"][0]
                assert citation["kind"] == "note" and citation["happened_at"]

                added = await client.call_tool(
                    "add_note", {"text": "The plumber comes on Thursday at nine."}
                )
                [new_id] = cited_ids(added)
                again = await client.call_tool("search_memories", {"query": "plumber Thursday"})
                assert new_id in cited_ids(again)

                recent = await client.call_tool("recent_transcripts", {"limit": 5})
                assert heard in cited_ids(recent)

                window = {
                    "since": (at - timedelta(hours=1)).isoformat(),
                    "until": (at + timedelta(hours=1)).isoformat(),
                }
                sensed = await client.call_tool("sensor_summary", window)
                assert cited_ids(sensed) == [summary]

                wrong = await client.call_tool(
                    "sensor_summary", {"since": "not a time", "until": "2026-01-01"}
                )
                assert wrong.is_error and "since" in wrong.content[0].text  # type: ignore[union-attr]

    anyio.run(session)


@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_mcp_without_the_token_is_refused(hub: HubProcess, token: str | None) -> None:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    answer = httpx.post(
        f"{hub.base_url}/mcp",
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        headers={**headers, "Accept": "application/json, text/event-stream"},
        timeout=30,
    )
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "invalid_api_key"

    async def session() -> None:
        with anyio.fail_after(TIMEOUT_S):
            async with over_http(hub, token) as client:
                await client.list_tools()

    with pytest.raises(Exception):  # noqa: B017 -- the SDK wraps the 401 its own way
        anyio.run(session)


def test_hub_mcp_speaks_stdio_to_the_running_hub(hub: HubProcess) -> None:
    stored = remember(hub, text="My bicycle lock code is 4711.", kind="note")
    command = StdioServerParameters(
        command=sys.executable,
        args=["-m", "hub", "mcp", "--data-dir", str(hub.data_dir)],
        env=None,
    )

    async def session() -> None:
        with anyio.fail_after(TIMEOUT_S):
            async with Client(command) as client:
                tools = await client.list_tools()
                assert {tool.name for tool in tools.tools} == TOOLS
                found = await client.call_tool("search_memories", {"query": "bicycle lock code"})
                assert cited_ids(found)[0] == stored

    anyio.run(session)


def test_hub_mcp_without_a_running_hub_says_so(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["mcp", "--data-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "start it with `hub serve`" in " ".join(result.output.split())  # rich wraps lines


def test_each_tool_refuses_a_caller_without_its_scope() -> None:
    def no_memory() -> Any:
        raise AssertionError("a refused call must not reach memory")

    server = build_mcp_server(no_memory, lambda: None)
    calls = {
        "add_note": ({"text": "Buy milk."}, "memory:write"),
        "search_memories": ({"query": "milk"}, "memory:read"),
        "recent_transcripts": ({}, "memory:read"),
        "sensor_summary": ({"since": "2026-01-01", "until": "2026-01-02"}, "sensors:read"),
    }

    async def session() -> None:
        with anyio.fail_after(TIMEOUT_S):
            async with Client(server) as client:  # in process: no endpoint granted any scope
                for name, (arguments, scope) in calls.items():
                    result = await client.call_tool(name, arguments)
                    assert result.is_error
                    assert f"lacks the {scope} scope" in result.content[0].text  # type: ignore[union-attr]

    anyio.run(session)


def test_malformed_mcp_requests_get_an_error_never_a_500(hub: HubProcess) -> None:
    def post(body: bytes) -> httpx.Response:
        return httpx.post(
            f"{hub.base_url}/mcp",
            content=body,
            headers={
                **hub.headers(),
                "Content-Type": "application/json",
                "Accept": "application/json, text/event-stream",
            },
            timeout=30,
        )

    assert post(b"{not json").status_code == 400
    # A call without its parameters is a JSON-RPC error, in-band as MCP has it.
    answer = post(b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call"}')
    assert answer.status_code < 500
    assert answer.json()["error"]["code"] == -32602


def test_a_huge_mcp_request_is_refused_before_it_is_read(hub: HubProcess) -> None:
    answer = httpx.post(
        f"{hub.base_url}/mcp",
        content=b"x" * 20_000_000,
        headers={**hub.headers(), "Content-Type": "application/json"},
        timeout=60,
    )
    assert answer.status_code == 413


def test_a_scoped_credential_reaches_only_the_tools_its_scopes_allow(hub: HubProcess) -> None:
    stored = remember(hub, text="The bike pump is in the garden shed.", kind="note")
    reader = make_client(hub, "mcp-reader", ["memory:read"])
    chat_only = make_client(hub, "mcp-chat-only", ["chat"])

    async def session() -> None:
        with anyio.fail_after(TIMEOUT_S):
            # The credential in the URL, as an agent configured with only a URL sends it.
            http = httpx2.AsyncClient(timeout=TIMEOUT_S)
            url = f"{hub.base_url}/c/{reader}/mcp"
            async with Client(streamable_http_client(url, http_client=http)) as client:
                found = await client.call_tool("search_memories", {"query": "bike pump"})
                assert stored in cited_ids(found)
                refused = await client.call_tool("add_note", {"text": "A note it may not add."})
                assert refused.is_error
                assert "memory:write" in refused.content[0].text  # type: ignore[union-attr]

    anyio.run(session)
    unseen = httpx.post(
        f"{hub.base_url}/v1/memory/search",
        json={"query": "A note it may not add", "k": 3},
        headers=hub.headers(),
        timeout=30,
    )
    assert all("may not add" not in hit["snippet"] for hit in unseen.json()["results"])
    answer = httpx.post(
        f"{hub.base_url}/mcp",
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        headers={"Authorization": f"Bearer {chat_only}", "Accept": "application/json"},
        timeout=30,
    )
    assert answer.status_code == 403
    assert "memory:read" in answer.json()["error"]["message"]
