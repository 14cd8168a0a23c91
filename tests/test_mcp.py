"""``ollm mcp``: the MCP SDK's own client talks to the server over stdio, as an agent would."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest
from conftest import SUBPROCESS_CEILING

NGINX = "session-1772486820000"
ICELAND = "session-1795201200000"


def with_server(home: Path, calls):
    """Start ``ollm mcp`` on ``home`` with the SDK's stdio client and run ``calls(client)``."""
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "ollm_recall", "--home", str(home), "mcp"],
        env={key: value for key, value in os.environ.items() if key.startswith(("OLLM_", "HOME", "PATH"))},
    )

    async def run():
        async with asyncio.timeout(SUBPROCESS_CEILING), Client(params) as client:
            return await calls(client)

    before = archive_bytes(home)
    answers = asyncio.run(run())
    assert archive_bytes(home) == before, "an MCP tool changed a session file"
    return answers


def archive_bytes(home: Path) -> dict[str, tuple[bytes, int]]:
    """Every file of the sessions folder, its bytes and when it was last written: an MCP server only
    ever reads them (a write of the same bytes would still move the time)."""
    sessions = home / "sessions"
    return {
        str(p.relative_to(sessions)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(sessions.rglob("*"))
        if p.is_file()
    }


def payload(result) -> dict | str:
    text = result.content[0].text
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


@pytest.mark.slow
def test_an_agent_lists_the_tools_and_calls_each_one(example_home: Path) -> None:
    async def calls(client):
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        return tools, [
            await client.call_tool(
                "recall", {"query": "my php site shows 502 after the upgrade", "limit": 3}
            ),
            await client.call_tool("get_session", {"session_id": NGINX, "max_messages": 2}),
            await client.call_tool("list_sessions", {"limit": 3}),
            await client.call_tool(
                "recall", {"query": "docker compose or ramen broth", "since": "2026-11-01"}
            ),
        ]

    tools, (recall, session, listing, recent) = with_server(example_home, calls)
    assert set(tools) == {"recall", "get_session", "list_sessions"}
    schema = tools["recall"].input_schema
    assert schema["required"] == ["query"]
    assert {"limit", "since", "until", "model"} <= set(schema["properties"])
    assert all(tool.description and tool.annotations.read_only_hint for tool in tools.values())

    found = payload(recall)
    assert not recall.is_error and found["hits"][0]["sessionId"] == NGINX
    first = found["hits"][0]
    assert first["title"].startswith("nginx returns 502") and first["model"] == "gemma3:4b"
    assert first["startTime"].startswith("2026-03-02") and 0 < first["score"] <= 1 and first["snippets"]
    text = payload(session)
    assert text.startswith("# nginx returns 502") and "### User" in text
    assert text.rstrip().endswith("[cut: showing the first 2 of 10 messages, as asked]")
    newest = payload(listing)["sessions"]
    assert [s["sessionId"] for s in newest][0] == ICELAND and len(newest) == 3
    recent_hits = payload(recent)["hits"]
    assert [hit["sessionId"] for hit in recent_hits] == ["session-1793633400000"]  # docker (October) left out


@pytest.mark.slow
def test_bad_arguments_are_tool_errors_in_one_line_and_the_server_goes_on(example_home: Path) -> None:
    async def calls(client):
        return [
            await client.call_tool("get_session", {"session_id": "../../etc/passwd"}),
            await client.call_tool("get_session", {"session_id": "session-0"}),
            await client.call_tool("recall", {"query": "nginx", "since": "the day before yesterday"}),
            await client.call_tool("recall", {"query": "   "}),
            await client.call_tool("recall", {"query": "nginx", "limit": 0}),
            await client.call_tool("recall", {"query": "nginx", "since": "9999999999999d"}),
            await client.call_tool("recall", {"query": "nginx logs " * 400}),
            await client.call_tool("list_sessions", {"limit": 1}),
        ]

    *errors, still_there = with_server(example_home, calls)
    for result, expected in zip(
        errors,
        [
            "invalid session id",
            "no session with id 'session-0'",
            "invalid date",
            "the query is empty",
            "limit",
            "9999999999999d",
            "the query is 4,400 characters long: at most 4,000 are searched",
        ],
        strict=True,
    ):
        assert result.is_error, result
        message = result.content[0].text
        assert expected in message and "\n" not in message and "Traceback" not in message
    assert not still_there.is_error and len(payload(still_there)["sessions"]) == 1


def test_an_empty_archive_answers_with_nothing(isolated_home: Path) -> None:
    async def calls(client):
        return [
            await client.call_tool("recall", {"query": "nginx"}),
            await client.call_tool("list_sessions", {}),
        ]

    recall, listing = with_server(isolated_home, calls)
    assert payload(recall) == {"hits": [], "note": "no sessions recorded yet"}
    assert payload(listing) == {"sessions": []}
    assert not (isolated_home / "sessions").exists()  # it only reads
