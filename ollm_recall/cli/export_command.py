"""``ollm export``: sessions to markdown or JSON, on stdout or as files in a folder."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from ..errors import UsageError
from ..export import check_format, export_to_directory, render
from ..home import store_for_home
from .output import handle_errors, info, warn


@handle_errors
def export(
    ctx: typer.Context,
    session_ids: list[str] | None = typer.Argument(None, metavar="ID", help="Sessions to export."),
    all_sessions: bool = typer.Option(False, "--all", help="Export every session."),
    fmt: str = typer.Option("md", "--format", "-f", help="md (readable markdown) or json (the file)."),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Write one file per session into this folder instead of stdout."
    ),
) -> None:
    """Export sessions as markdown or JSON. Session files are only read, never changed.

    Example: ollm export --all --format md --out ./history
    """
    check_format(fmt)
    store = store_for_home(ctx.obj.home, ctx.obj.index_dir)
    if all_sessions and session_ids:
        raise UsageError("give session ids or --all, not both")
    if all_sessions:
        listing = store.list()
        for problem in listing.problems:
            warn(f"skipped {problem}")
        ids = [summary.session_id for summary in listing.sessions]
    elif session_ids:
        ids = list(dict.fromkeys(session_ids))
    else:
        raise UsageError("name at least one session id, or use --all")
    if out is not None:
        written = export_to_directory(store, ids, fmt, out)
        for path in written:
            sys.stdout.write(f"{path}\n")
        info(f"exported {len(written)} session{'s' if len(written) != 1 else ''} to {out}")
        return
    loaded = [store.read_with_bytes(session_id) for session_id in ids]
    if fmt == "json":
        if len(loaded) == 1:
            sys.stdout.write(loaded[0][1].decode("utf-8").rstrip("\n") + "\n")
        else:
            documents = [json.loads(raw) for _, raw in loaded]
            sys.stdout.write(json.dumps(documents, ensure_ascii=False, indent=2) + "\n")
        return
    pieces = [render(session, raw, fmt).decode("utf-8") for session, raw in loaded]
    sys.stdout.write("\n\n".join(pieces))
