"""``ollm mcp``: the archive as memory for any agent that speaks the Model Context Protocol.

Built on the official SDK's ``MCPServer`` (stdio). Three tools: ``recall`` (the hybrid search of
``ollm recall``), ``get_session`` and ``list_sessions``. A bad argument comes back as a tool error
with our one-line message; the server goes on.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations
from pydantic import Field

from .. import __version__
from ..errors import OllmRecallError
from ..search.results import MAX_QUERY_CHARS
from .tools import MAX_RECALL_LIMIT, ArchiveTools

INSTRUCTIONS = (
    "The user's archive of past chats with local language models. Call recall with what you want to "
    "know, in plain words (it searches by words and by meaning), to find past sessions about it; then "
    "get_session to read one. list_sessions shows the newest. Dates: 2026-03-01, or 7d, 2w, 3m back."
)

DateText = Annotated[
    str | None,
    Field(description="A date (2026-03-01) or a time back from now (7d, 2w, 3m, 1y)."),
]


def build_server(home: Path, *, index_dir: Path | None = None, background: bool = True) -> Any:
    """The MCP server over one archive; its index is opened and the model loaded in the background at
    once, so the first call is answered quickly."""
    tools = ArchiveTools(home, index_dir=index_dir, background=background)
    threading.Thread(target=_warm, args=(tools,), daemon=True).start()
    server: Any = MCPServer(
        name="ollm-recall",
        title="ollm-recall: your past chats",
        version=__version__,
        instructions=INSTRUCTIONS,
        log_level="WARNING",
    )

    @_as_tool(server, "recall", read_only=True)
    def recall(
        query: Annotated[
            str,
            Field(
                description="What to look for, in plain words: a topic, an error "
                "message, a name, a question asked before.",
                json_schema_extra={"maxLength": MAX_QUERY_CHARS},
            ),
        ],
        limit: Annotated[
            int, Field(description="How many sessions.", json_schema_extra=_range(1, MAX_RECALL_LIMIT))
        ] = 5,
        since: DateText = None,
        until: DateText = None,
        model: Annotated[
            str | None,
            Field(description="Only sessions with this model or family (llama3.2, qwen2.5-coder)."),
        ] = None,
    ) -> dict[str, Any]:
        """Search the user's past chat sessions by words and by meaning. Returns the sessions that bear
        on the query, best first: id, start time, model, title, score (0-1) and the passages that
        matched. Sessions unlikely to be relevant are left out, so an empty list means nothing relevant."""
        return tools.recall(query, limit=limit, since=since, until=until, model=model)

    @_as_tool(server, "get_session", read_only=True)
    def get_session(
        session_id: Annotated[
            str, Field(description="A session id from recall or list_sessions, e.g. session-1772486820000.")
        ],
        max_messages: Annotated[
            int | None,
            Field(description="Only the first this many messages.", json_schema_extra=_range(1, None)),
        ] = None,
    ) -> str:
        """Read one past session as markdown: its title, model, times, and its messages in order (tool
        calls included). Long sessions are cut to about 6,000 tokens, whole messages, with a note."""
        return tools.get_session(session_id, max_messages=max_messages)

    @_as_tool(server, "list_sessions", read_only=True)
    def list_sessions(
        limit: Annotated[int, Field(description="How many sessions.", json_schema_extra=_range(1, 500))] = 20,
        since: DateText = None,
        model: Annotated[str | None, Field(description="Only this model or family.")] = None,
    ) -> dict[str, Any]:
        """List the user's most recent chat sessions, newest activity first: id, start and last
        activity times, model and title."""
        return {"sessions": tools.list_sessions(limit=limit, since=since, model=model)}

    return server


def _range(least: int, most: int | None) -> dict[str, Any]:
    """Bounds shown in the schema but checked by the tools, whose errors are one line (pydantic's
    are several)."""
    return {"minimum": least} if most is None else {"minimum": least, "maximum": most}


def _as_tool(
    server: Any, name: str, *, read_only: bool
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``function`` as a tool whose errors of ours reach the client as tool errors, in one line."""

    def register(function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            try:
                return function(*args, **kwargs)
            except OllmRecallError as exc:
                raise ToolError(str(exc)) from None

        server.add_tool(
            guarded, name=name, annotations=ToolAnnotations(read_only_hint=read_only, open_world_hint=False)
        )
        return guarded

    return register


def _warm(tools: ArchiveTools) -> None:
    try:
        tools.warm()
    except OllmRecallError:
        pass  # the first call says what is wrong, in its own words


def serve(home: Path, *, index_dir: Path | None = None, background: bool = True) -> None:
    """Run the server on standard input and output until the client closes them."""
    build_server(home, index_dir=index_dir, background=background).run("stdio")
