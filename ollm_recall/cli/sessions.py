"""``ollm sessions``: list, show, delete and prune the archive."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable

import typer
from rich.text import Text

from .._time import parse_date, parse_range
from ..archive.listing import SessionSummary, select_sessions
from ..archive.recording import ChatRecordingService
from ..archive.redaction import redactor_for_home
from ..archive.store import SessionStore, store_for_home
from ..errors import UsageError
from ..home import device_tag
from ..transfer.markdown import human_time, to_markdown
from .index_upkeep import purge_from_index
from .output import handle_errors, info, print_json, progress_bar, stdout, visible, warn

app = typer.Typer(
    help="List, show, delete and prune recorded sessions.\n\nExample: ollm sessions list --since 2w",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def _store(ctx: typer.Context) -> SessionStore:
    return store_for_home(ctx.obj.home, ctx.obj.index_dir)


def summary_json(summary: SessionSummary) -> dict[str, object]:
    """A session summary as ``--json`` prints it."""
    return {
        "id": summary.session_id,
        "title": summary.title,
        "startTime": summary.start_time,
        "lastActivity": summary.last_activity,
        "model": summary.model,
        "provider": summary.provider,
        "path": str(summary.path),
        "bytes": summary.size,
    }


def summary_table(summaries: list[SessionSummary], *, width: int | None) -> list[str]:
    """Aligned rows of id, last activity (local time), model and title; titles cut to ``width``."""
    rows = [
        (s.session_id, s.last_activity_at.astimezone().strftime("%Y-%m-%d %H:%M"), s.model, s.title)
        for s in summaries
    ]
    header = ("id", "last activity", "model", "title")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(3)]
    lines = []
    for row in [header, *rows]:
        prefix = "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:3])) + "  "
        title = row[3]
        if width is not None and len(prefix) + len(title) > width:
            room = max(10, width - len(prefix))
            title = title if len(title) <= room else title[: room - 1] + "…"
        lines.append((prefix + title).rstrip())
    return lines


def _report_problems(problems: list) -> None:
    for problem in problems:
        warn(f"skipped {problem}")


@app.command("list")
@handle_errors
def list_sessions(
    ctx: typer.Context,
    limit: int | None = typer.Option(None, "--limit", "-n", min=1, help="Show at most N sessions."),
    model: str | None = typer.Option(
        None, "--model", "-m", help="Only this model ('gemma3' also matches 'gemma3:4b')."
    ),
    since: str | None = typer.Option(
        None, "--since", help="Active on or after: 2026-03-01, an ISO date-time, 7d, 2w, 3m."
    ),
    until: str | None = typer.Option(None, "--until", help="Started on or before: same forms."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON array instead of a table."),
) -> None:
    """List sessions, newest activity first.

    Example: ollm sessions list --model gemma3 --since 2w --json
    """
    since_at, until_at = parse_range(since, until)
    listing = _store(ctx).list()
    chosen = select_sessions(listing.sessions, model=model, since=since_at, until=until_at, limit=limit)
    _report_problems(listing.problems)
    copies = sum(len(paths) for paths in listing.conflicts.values())
    if copies:
        what = f"{copies} conflict copies" if copies > 1 else "1 conflict copy"
        info(f"{what} of a sync tool counted with their sessions; `ollm index` or `ollm doctor --fix` merges")
    if as_json:
        print_json([summary_json(summary) for summary in chosen])
        return
    if not chosen:
        info("no sessions" + (" match" if (model or since or until) else f" in {_store(ctx).directory}"))
        return
    tty = sys.stdout.isatty()
    lines = [
        visible(line)
        for line in summary_table(chosen, width=shutil.get_terminal_size().columns if tty else None)
    ]
    if tty:
        lines[0] = f"\x1b[1m{lines[0]}\x1b[0m"
    sys.stdout.write("\n".join(lines) + "\n")
    total = len(listing.sessions)
    shown = f"{len(chosen)} of {total}" if len(chosen) < total else str(total)
    info(f"{shown} session{'s' if len(listing.sessions) != 1 else ''}")


@app.command("show")
@handle_errors
def show(
    ctx: typer.Context,
    session_id: str = typer.Argument(..., metavar="ID", help="The session's id."),
    as_json: bool = typer.Option(False, "--json", help="Print the session file's JSON as it is."),
) -> None:
    """Show one session with every message and tool call.

    Example: ollm sessions show session-1769636018616
    """
    store = _store(ctx)
    session, raw = store.read_with_bytes(store.resolve(session_id))
    if as_json:
        sys.stdout.write(raw.decode("utf-8").rstrip("\n") + "\n")
        return
    if sys.stdout.isatty():
        from rich.markdown import Markdown

        stdout.print(Markdown(visible(to_markdown(session))))
    else:
        sys.stdout.write(visible(to_markdown(session)))


@app.command("delete")
@handle_errors
def delete(
    ctx: typer.Context,
    session_ids: list[str] = typer.Argument(..., metavar="ID", help="Ids of sessions to delete."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Delete sessions for good. Every id is checked before anything is deleted.

    Example: ollm sessions delete session-1769636018616 --yes
    """
    store = _store(ctx)
    sessions = [store.read(session_id) for session_id in dict.fromkeys(map(store.resolve, session_ids))]
    if not yes:
        if not sys.stdin.isatty():
            raise UsageError("refusing to delete without --yes when not run interactively")
        for session in sessions:
            info(f"  {session.session_id}  {human_time(session.start_time)}  {session.title}")
        if not typer.confirm(f"Delete {len(sessions)} session(s)?", default=False, err=True):
            info("nothing deleted")
            raise typer.Exit(1)
    service = ChatRecordingService(
        store.directory, locks_dir=store.locks_dir, device=device_tag(ctx.obj.home)
    )
    for session in sessions:
        service.delete_session(session.session_id)
    purge_from_index(ctx.obj, store)
    info(f"deleted {len(sessions)} session{'s' if len(sessions) != 1 else ''}")


@app.command("prune")
@handle_errors
def prune(
    ctx: typer.Context,
    keep: int | None = typer.Option(None, "--keep", min=0, help="Keep the KEEP newest sessions."),
    older_than: str | None = typer.Option(
        None, "--older-than", help="Only sessions last active before this: 90d, 12w, 6m, or a date."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only say what would be deleted."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    as_json: bool = typer.Option(False, "--json", help="Print the affected ids as JSON."),
) -> None:
    """Delete old sessions, never a pinned one (ollm sessions pin ID), and drop them from the index.

    The sessions it deletes (or, with --dry-run, would delete) are listed first. With --keep and
    --older-than together, only sessions that are both beyond the newest KEEP and that old go.

    Example: ollm sessions prune --older-than 90d --dry-run
    """
    before = parse_date(older_than) if older_than else None
    store = _store(ctx)
    service = ChatRecordingService(
        store.directory, locks_dir=store.locks_dir, device=device_tag(ctx.obj.home)
    )
    doomed, pinned = service.prune_plan(keep=keep, inactive_before=before)
    if pinned and not as_json:
        info(f"keeping {len(pinned)} pinned session{'s' if len(pinned) != 1 else ''}")
    if dry_run or not doomed:
        if as_json:
            print_json(
                {
                    "deleted": [],
                    "wouldDelete": [s.session_id for s in doomed],
                    "pinned": [s.session_id for s in pinned],
                }
            )
            return
        _list_sessions(doomed)
        info(f"would delete {len(doomed)} session{'s' if len(doomed) != 1 else ''}")
        return
    if not as_json:
        _list_sessions(doomed)
    if not yes:
        if not sys.stdin.isatty():
            raise UsageError(
                "refusing to delete without --yes when not run interactively (--dry-run lists what would go)"
            )
        if not typer.confirm(f"Delete these {len(doomed)} sessions?", default=False, err=True):
            info("nothing deleted")
            raise typer.Exit(1)
    deleted = service.delete_sessions([summary.session_id for summary in doomed])
    removed = purge_from_index(ctx.obj, _store(ctx)) if deleted else 0
    if as_json:
        print_json({"deleted": deleted, "wouldDelete": [], "pinned": [s.session_id for s in pinned]})
    else:
        note = f"; removed {removed} from the index" if removed else ""
        info(f"deleted {len(deleted)} session{'s' if len(deleted) != 1 else ''}{note}")
    skipped = len(doomed) - len(deleted)
    if skipped:
        warn(f"{skipped} session(s) kept: another process is recording into them")


def _list_sessions(summaries: list[SessionSummary]) -> None:
    for summary in summaries:
        stdout.print(
            Text(visible(f"{summary.session_id}  {summary.last_activity}  {summary.title}")), soft_wrap=True
        )


def _pin_command(pinned: bool, doc: str) -> Callable[..., None]:
    """``pin`` and ``unpin``: the same command, setting the flag one way or the other."""

    def command(
        ctx: typer.Context,
        session_ids: list[str] = typer.Argument(..., metavar="ID", help="Sessions to change."),
    ) -> None:
        _set_pinned(ctx, session_ids, pinned)

    command.__doc__ = doc
    return handle_errors(command)


app.command("pin")(
    _pin_command(
        True,
        """Keep sessions through every prune (a 'pinned' flag in its metadata).

    Example: ollm sessions pin session-1772486820000
    """,
    )
)
app.command("unpin")(
    _pin_command(
        False,
        """Let prune delete sessions again.

    Example: ollm sessions unpin session-1772486820000
    """,
    )
)


def _set_pinned(ctx: typer.Context, prefixes: list[str], pinned: bool) -> None:
    store = _store(ctx)
    session_ids = [store.resolve(prefix) for prefix in prefixes]
    for session_id in dict.fromkeys(session_ids):  # every id checked before any is changed
        store.read(session_id)
    service = ChatRecordingService(
        store.directory, redactor=redactor_for_home(ctx.obj.home), locks_dir=store.locks_dir
    )
    for session_id in dict.fromkeys(session_ids):
        service.set_pinned(session_id, pinned)
    count = len(dict.fromkeys(session_ids))
    info(f"{'pinned' if pinned else 'unpinned'} {count} session{'s' if count != 1 else ''}")


@app.command("compact")
@handle_errors
def compact_sessions(
    ctx: typer.Context,
    older_than: str | None = typer.Option(
        None, "--older-than", help="Sessions idle this long: 30d, 12w, 6m (default: compress_after_days)."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only say which sessions would be compressed."),
    as_json: bool = typer.Option(False, "--json", help="Print what was (or would be) done as JSON."),
) -> None:
    """Store idle sessions compressed (zstd with a dictionary trained on the archive): several times
    smaller, read as before by every command; a resumed session is plain JSON again.

    The background indexer does this after indexing, for sessions idle compress_after_days (30 by
    default, config.toml). Safe to stop at any moment: nothing is lost, and a new run finishes.

    Example: ollm sessions compact --older-than 90d --dry-run
    """
    from datetime import UTC, datetime

    from ..archive.compaction import compact, idle_sessions
    from ..config import load_settings

    store = _store(ctx)
    if older_than is not None:
        idle_days = (datetime.now(UTC) - parse_date(older_than)).total_seconds() / 86400
    else:
        idle_days = float(load_settings(ctx.obj.home).compress_after_days)
    if idle_days <= 0 and older_than is None:
        raise UsageError("compress_after_days is 0 (never): give --older-than to compact by hand")
    idle = idle_sessions(store, max(idle_days, 0.0))
    with progress_bar(0 if dry_run else len(idle), "compressing", at_least=50) as advance:
        report = compact(store, sessions=idle, dry_run=dry_run, progress=lambda _done: advance())
    if as_json:
        print_json(report.to_json())
    else:
        info(report.summary())
    for problem in report.problems:
        warn(problem)
