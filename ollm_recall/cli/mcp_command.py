"""``ollm mcp``: serve the archive to MCP clients (coding agents, desktop chat apps, IDEs) over stdio."""

from __future__ import annotations

import typer

from .output import Paths, handle_errors


@handle_errors
def mcp(ctx: typer.Context) -> None:
    """Serve the archive over MCP on stdin/stdout: tools recall, get_session and list_sessions.

    An MCP client starts this itself; add to its configuration (Claude Desktop, Cursor, VS Code...):

      {"mcpServers": {"ollm-recall": {"command": "ollm", "args": ["mcp"]}}}

    (with "args": ["--home", "/path/to/archive", "mcp"] for another archive). It only reads the
    archive, keeps the index open between calls, and never waits for indexing: new sessions are
    indexed by the background indexer while it answers from what is indexed.

    An encrypted archive is unlocked at start, from the OS keyring or OLLM_PASSPHRASE (set in the
    client's "env"): stdin is the client's, so there is no prompt.

    Example: ollm mcp   (then the client's "list tools" shows recall, get_session, list_sessions)
    """
    from ..agent.mcp_server import serve
    from ..archive.unlocking import archive_key, encrypting
    from ..config import load_settings
    from ..home import sessions_dir

    paths: Paths = ctx.obj
    if encrypting(sessions_dir(paths.home)):
        archive_key(sessions_dir(paths.home))  # now, so a wrong passphrase is one line before serving
    serve(paths.home, index_dir=paths.index_dir, background=load_settings(paths.home).background_index)
