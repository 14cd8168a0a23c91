"""``ollm export``: sessions to markdown, JSON, JSON lines or a browsable HTML site."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from .._time import parse_range
from ..archive.listing import model_matches
from ..archive.redaction import Finding, summarize
from ..archive.store import store_for_home
from ..archive.unlocking import encrypting
from ..errors import UsageError
from .output import Paths, fail, handle_errors, info, warn


@handle_errors
def export(
    ctx: typer.Context,
    session_ids: list[str] | None = typer.Argument(None, metavar="ID", help="Sessions to export."),
    all_sessions: bool = typer.Option(False, "--all", help="Export every session."),
    since: str | None = typer.Option(None, "--since", help="Sessions active since: 2026-03-01, 7d, 3m."),
    until: str | None = typer.Option(None, "--until", help="Sessions started before the end of: same forms."),
    model: str | None = typer.Option(None, "--model", help="Sessions with this model (or family: llama3.2)."),
    query: str | None = typer.Option(None, "--query", help="Sessions `ollm recall QUERY` finds (hybrid)."),
    limit: int = typer.Option(20, "--limit", help="With --query: how many sessions."),
    fmt: str = typer.Option(
        "md",
        "--format",
        "-f",
        help="md (readable markdown), json (the files), jsonl (a session a line), html (a site to browse).",
    ),
    out: Path | None = typer.Option(
        None,
        "--out",
        "-o",
        help="Write into this folder (md and html add an index page) instead of stdout; with --encrypt-to, "
        "this file.",
    ),
    encrypt_to: list[str] | None = typer.Option(
        None,
        "--encrypt-to",
        metavar="RECIPIENT",
        help="Encrypt the export with age to this recipient (age1... or an ssh public key; repeatable): "
        "one file that `age -d -i KEY` opens. Formats md, json, jsonl.",
    ),
) -> None:
    """Export sessions. Session files are only read, never changed.

    Choose sessions by id, or with --all, --since, --until, --model and --query (any together).
    Secrets an older save left in a file are redacted in the export, as a save redacts them now
    (unless redaction is off in config.toml); `ollm redact` cleans the files themselves.

    An export is plain text even from an encrypted archive (a warning says so); --encrypt-to makes it a
    file only the recipients' age or ssh keys open, for backups.

    Example: ollm export --all --format html --out ./history   (then open history/index.html)
    """
    from ..transfer.export import check_format, exportable

    check_format(fmt)
    if query is not None and not query.strip():
        raise fail("nothing to search for: the --query is empty", 2)
    ids = _chosen(ctx.obj, session_ids, all_sessions, since, until, model, query, limit)
    if not ids:
        info(
            "nothing relevant found: nothing exported"
            if query is not None
            else "no session matches: nothing exported"
        )
        return
    if fmt == "html" and out is None and len(ids) > 1 and not encrypt_to:
        raise UsageError("--format html of several sessions writes a folder of pages: give --out DIR")
    recipients = _recipients(encrypt_to, fmt, out)
    store = store_for_home(ctx.obj.home, ctx.obj.index_dir, writing=True)  # the redaction config asks for
    if encrypting(store.directory) and not recipients:
        warn(
            "the archive is encrypted, this export is not: keep it safe (--encrypt-to RECIPIENT encrypts it)"
        )
    found: dict[str, list[Finding]] = {}
    if out is not None and not recipients:
        _export_with_progress(
            store, ids, fmt, out, found, _stats_page(ctx.obj, store, ids) if fmt == "html" else []
        )
        info(f"exported {len(ids)} session{'s' if len(ids) != 1 else ''} to {out}")
    else:  # every session read (and every id checked) before the first byte is written
        read = {}
        for session_id in ids:
            session, raw, found[session_id] = exportable(*store.read_with_bytes(session_id), store.redactor)
            read[session_id] = (session, raw)
        text = _one_stream(read, fmt, len(ids))
        if recipients:
            _write_encrypted(text.encode("utf-8"), recipients, out, len(ids))
        else:
            sys.stdout.write(text)
    findings = [finding for session_findings in found.values() for finding in session_findings]
    if findings:
        sessions = sum(1 for session_findings in found.values() if session_findings)
        warn(
            f"redacted {summarize(f.kind for f in findings)} in the export, from {sessions} session "
            f"file{'s' if sessions != 1 else ''} saved before redaction; `ollm redact` cleans the files"
        )


def _one_stream(read: dict[str, tuple[Any, bytes]], fmt: str, count: int) -> str:
    """The sessions as one text, as stdout gets them."""
    from ..transfer.export import render
    from ..transfer.html_export import session_page

    if fmt == "html":  # one session: a page that stands alone
        [(session, _raw)] = read.values()
        return session_page(session, standalone=True)
    if fmt in ("md", "jsonl") or (fmt == "json" and count == 1):
        pieces = []
        for position, (session, raw) in enumerate(read.values()):
            piece = render(session, raw, fmt).decode("utf-8")
            if fmt == "json":
                piece = piece.rstrip("\n") + "\n"
            pieces.append(("\n\n" if position and fmt == "md" else "") + piece)
        return "".join(pieces)
    documents = [json.loads(raw) for _session, raw in read.values()]
    return json.dumps(documents, ensure_ascii=False, indent=2) + "\n"


def _recipients(encrypt_to: list[str] | None, fmt: str, out: Path | None) -> list[Any]:
    if not encrypt_to:
        return []
    from ..transfer.age_export import age_recipients

    if fmt == "html":
        raise UsageError("--encrypt-to writes one file: use --format md, json or jsonl")
    if out is None and sys.stdout.isatty():
        raise UsageError("--encrypt-to writes binary age data: give --out FILE, or redirect stdout")
    if out is not None and out.is_dir():
        raise UsageError(f"--encrypt-to writes one file, and {out} is a folder: give a file name")
    return age_recipients(encrypt_to)


def _write_encrypted(data: bytes, recipients: list[Any], out: Path | None, count: int) -> None:
    from .._atomic import write_atomic
    from ..transfer.age_export import encrypt_to

    sealed = encrypt_to(data, recipients)
    if out is None:
        sys.stdout.buffer.write(sealed)
        sys.stdout.flush()
        return
    write_atomic(out, sealed)
    info(f"exported {count} session{'s' if count != 1 else ''} to {out}, encrypted with age")


def _chosen(
    paths: Paths,
    session_ids: list[str] | None,
    all_sessions: bool,
    since: str | None,
    until: str | None,
    model: str | None,
    query: str | None,
    limit: int,
) -> list[str]:
    """The ids to export: those named, or those the selection options pick, in listing order."""
    selecting = all_sessions or any(value is not None for value in (since, until, model, query))
    if selecting and session_ids:
        raise UsageError("give session ids or --all/--since/--until/--model/--query, not both")
    if session_ids:
        store = store_for_home(paths.home, paths.index_dir)
        return list(dict.fromkeys(store.resolve(session_id) for session_id in session_ids))
    if not selecting:
        raise UsageError("name at least one session id, or use --all")
    since_at, until_at = parse_range(since, until)
    if query is not None:  # as `ollm recall` does: the index brought up to date first, within a budget
        from ..index.indexer import Index
        from ..search.searcher import Searcher
        from .recall_command import indexed_share_for_search

        index = Index(paths.home, index_dir=paths.index_dir)
        if not index.store.has_sessions():
            return []
        indexed_share_for_search(paths, index, no_sync=False)
        searcher = Searcher(paths.home, index=index)
        hits = searcher.search(
            query,
            limit=limit,
            since=since_at,
            until=until_at,
            model=model,
            snippets=False,
            relevant_only=True,
        )
        searcher.close()
        return [hit.session_id for hit in hits]
    listing = store_for_home(paths.home, paths.index_dir).list()
    for problem in listing.problems:
        warn(f"skipped {problem}")
    return [
        summary.session_id
        for summary in listing.sessions
        if (since_at is None or summary.last_activity_at >= since_at)
        and (until_at is None or summary.started_at < until_at)
        and (model is None or model_matches(summary.model, model))
    ]


def _stats_page(paths: Paths, store, ids: list[str]) -> list:
    """The site's stats page: `ollm stats --html` of the sessions exported."""
    from ..home import index_dir_for
    from ..index.indexer import Index
    from ..insights.facts_cache import read_all_facts, stats_cache_path
    from ..insights.report import StatsFilter, build_report
    from ..insights.stats_page import stats_page
    from ..insights.topics import find_topics
    from ..transfer.export import ExtraPage

    wanted = set(ids)
    facts = [f for f in read_all_facts(store, stats_cache_path(index_dir_for(paths.home, paths.index_dir)))[0]
             if f.session_id in wanted]  # fmt: skip
    report = build_report(facts, StatsFilter())
    report.topics = [t.to_json() for t in find_topics(Index(paths.home, index_dir=paths.index_dir), facts)]
    return [
        ExtraPage("stats.html", "Statistics: activity, models, topics", stats_page(report).encode("utf-8"))
    ]


def _export_with_progress(
    store, ids: list[str], fmt: str, out: Path, found: dict[str, list[Finding]], extra_pages: list
) -> list[Path]:
    from ..transfer.export import export_to_directory

    def redacted(session_id: str, findings: list[Finding]) -> None:
        found[session_id] = findings

    if not sys.stderr.isatty():
        return export_to_directory(store, ids, fmt, out, redacted=redacted, extra_pages=extra_pages)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(
        TextColumn("exporting"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as progress:
        task = progress.add_task("export", total=len(ids))
        return export_to_directory(
            store,
            ids,
            fmt,
            out,
            progress=lambda n: progress.advance(task, n),
            redacted=redacted,
            extra_pages=extra_pages,
        )
