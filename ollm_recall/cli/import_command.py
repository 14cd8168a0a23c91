"""``ollm import SOURCE PATH``: other tools' chat history into the archive, idempotently."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ..archive.store import store_for_home
from .output import handle_errors, info, print_json, warn

if TYPE_CHECKING:  # the importers load only when an import runs, not with every ollm command
    from ..transfer.importers import ImportReport

SOURCE_HELP = (
    "chatgpt (the ChatGPT data export: its zip, folder or conversations.json), claude (the Claude.ai "
    "export), openwebui (Open WebUI's 'export all chats' JSON), llm (simonw/llm's logs.db, read-only), "
    "gemini-cli (~/.gemini: its recorded chat sessions), ollm (session files of another archive or of "
    "the original ollm CLI)"
)


@handle_errors
def import_history(
    ctx: typer.Context,
    source: str = typer.Argument(..., metavar="SOURCE", help=SOURCE_HELP),
    path: Path = typer.Argument(..., metavar="PATH", help="The export: a zip archive, a folder or a file."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Say what would be imported; write nothing."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON on stdout."),
) -> None:
    """Import chat history from another tool. Run it again, or on a newer export, and only what is new
    is added; a conversation that grew is updated; nothing else in the archive is ever changed.

    Example: ollm import chatgpt ~/Downloads/chatgpt-export.zip --dry-run
    """
    store = store_for_home(ctx.obj.home, ctx.obj.index_dir, writing=True)
    if not dry_run:
        store.ensure_directory()
    report = _run(store, source, path, dry_run)
    nothing_read = bool(report.broken) and not (
        report.added or report.updated or report.unchanged or report.skipped
    )  # most likely the wrong SOURCE for this export
    if as_json:
        print_json(report.to_json())
        if nothing_read:
            raise typer.Exit(1)
        return
    for where, reason in report.broken:
        warn(f"skipped {where}: {reason}")
    empty = [session_id for session_id, reason in report.skipped if reason == "no message with text"]
    for session_id, reason in report.skipped:
        if reason != "no message with text":
            warn(f"skipped {session_id}: {reason}")
    if empty:  # one line for all of them, so the count in the summary has its reason
        more = f" and {len(empty) - 3} more" if len(empty) > 3 else ""
        noun = "conversation" if len(empty) == 1 else "conversations"
        info(f"skipped {len(empty)} {noun} with no message with text: {', '.join(empty[:3])}{more}")
    if report.left_out:
        said = "; ".join(f"{kind}: {count}" for kind, count in report.left_out.items())
        info(f"left out, {said} (the branch you last saw is kept)")
    if dry_run:
        for session_id in report.added:
            sys.stdout.write(f"would add {session_id}\n")
        for session_id in report.updated:
            sys.stdout.write(f"would update {session_id}\n")
    info(report.summary())
    if nothing_read:
        raise typer.Exit(1)
    if not dry_run and (report.added or report.updated):
        from ..config import load_settings
        from ..index.background import index_locked, start_worker
        from ..index.indexer import Index

        index = Index(ctx.obj.home, index_dir=ctx.obj.index_dir)
        # the same hint whether this started the indexer or one (from an earlier import) is at work
        if load_settings(ctx.obj.home).background_index and (start_worker(index) or index_locked(index)):
            info(
                "indexing them in the background; searches answer meanwhile (`ollm index status` "
                "shows progress)"
            )
        else:
            info("`ollm index` makes them searchable (`ollm recall` and `ollm chat` also index what is new)")


def _run(store, source: str, path: Path, dry_run: bool) -> ImportReport:
    from ..transfer.importers import SOURCES, import_export

    if source not in SOURCES or not sys.stderr.isatty():
        return import_export(store, source, path, dry_run=dry_run)
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.completed}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as progress:
        task = progress.add_task("conversations read", total=None)
        return import_export(
            store, source, path, dry_run=dry_run, progress=lambda n: progress.advance(task, n)
        )
