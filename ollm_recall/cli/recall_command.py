"""``ollm recall``: search the archive and show the sessions that match, with snippets."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

import typer
from rich.text import Text

from .._time import parse_range
from ..config import load_settings
from .output import Paths, fail, handle_errors, info, stdout, visible, warn

if TYPE_CHECKING:
    from ..index.background import IndexedShare
    from ..index.indexer import Index
    from ..search.results import Hit


def indexed_share_for_search(paths: Paths, index: Index, *, no_sync: bool, say: bool = True) -> IndexedShare:
    """Before a search: the index brought up to date within the search's budget (the rest handed to
    the background indexer), unless ``no_sync``; what the search can see, said on stderr if partial
    (unless ``say`` is False: the caller says it after the search)."""
    from ..index.background import IndexedShare, catch_up, indexed_share

    if no_sync:
        if not index.manifest_path.exists():  # no index yet: the search reads the sessions
            return IndexedShare(index.store.count(), 0, 0)
        seen = indexed_share(index)
    else:
        settings = load_settings(paths.home)
        report, seen = catch_up(index, background=settings.background_index, budget=settings.search_budget)
        for broken in report.broken:
            warn(f"skipped {broken}")
    line = seen.line()
    if line and say:
        info(line)
    return seen


def hit_json(hit: Hit, seen: IndexedShare | None = None) -> dict[str, object]:
    """A hit as ``--json`` prints it (one object per line); ``coverage`` is there when the search
    could not see the whole archive yet."""
    from ..agent.tools import hit_json as archive_hit_json

    extra = {} if seen is None or seen.complete else {"coverage": seen.to_json()}
    return {**archive_hit_json(hit), **extra}


def render_hit(number: int, hit: Hit) -> list[Text]:
    """A hit as the terminal shows it: a heading line, then its snippets with the matched words bold."""
    head = Text(f"{number}. ", style="bold")
    head.append(hit.start_time[:10], style="cyan")
    head.append(f"  {visible(hit.model)}  ", style="dim")
    head.append(visible(hit.title), style="bold")
    head.append(f"  {hit.session_id}  score {hit.score:.2f}", style="dim")
    lines = [head]
    for snippet in hit.snippets:
        line = Text(f"   {snippet.role}: ", style="dim")
        position = 0
        for start, end in snippet.highlights:  # escaped piece by piece: the spans stay on their words
            line.append(visible(snippet.text[position:start]))
            line.append(visible(snippet.text[start:end]), style="bold yellow")
            position = end
        line.append(visible(snippet.text[position:]))
        lines.append(line)
    return lines


@handle_errors
def recall(
    ctx: typer.Context,
    query: str = typer.Argument(..., help="What you remember, in your own words."),
    limit: int = typer.Option(5, "--limit", "-n", min=1, help="How many sessions to show."),
    since: str | None = typer.Option(None, "--since", help="Active on or after: 2026-03-01, 7d, 2w, 3m."),
    until: str | None = typer.Option(None, "--until", help="Started before the end of: same forms."),
    model: str | None = typer.Option(None, "--model", "-m", help="Only this model or model family."),
    provider: str | None = typer.Option(None, "--provider", help="Only this provider (ollama, openai...)."),
    role: str | None = typer.Option(None, "--role", help="Match only user, assistant or system messages."),
    session: str | None = typer.Option(None, "--session", help="Search within one session."),
    mode: str = typer.Option("hybrid", "--mode", help="hybrid (default), text or semantic."),
    no_sync: bool = typer.Option(False, "--no-sync", help="Do not bring the index up to date first."),
    show_all: bool = typer.Option(
        False,
        "--all",
        help="Also show sessions below the relevance floor (estimated unlikely to be what you asked about).",
    ),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per hit, one per line."),
) -> None:
    """Find past sessions by what was said in them, in words or in meaning.

    The query is plain words: quotes, AND, ? and parentheses are just words. Before searching, the
    index is brought up to date with new and changed sessions for about a second (skip with
    --no-sync); what that leaves is indexed in the background, and a line on stderr says how much of
    the archive the search could see. Sessions too far in meaning from the query are not shown
    (--all shows them); scores run from 0 to about 1 in every mode, higher is closer. Date words in
    the query ("from march", "last week", "two years ago") move sessions of that time up, counted
    back from the archive's newest session; stderr says which dates were understood.

    Example: ollm recall "that nginx thing from march"
    """
    from ..index.indexer import Index
    from ..search.results import check_options
    from ..search.scan import SCAN_BUDGET_SECONDS, SCAN_MIN_SECONDS
    from ..search.searcher import Searcher

    paths: Paths = ctx.obj
    check_options(mode=mode, role=role, limit=limit, query=query)
    since_at, until_at = parse_range(since, until)
    if not query.strip():
        raise fail("nothing to search for: the query is empty", 2)
    index = Index(paths.home, index_dir=paths.index_dir)
    if session is not None:  # the id (or a unique prefix of it) is checked first
        session = index.store.resolve(session)
    if not index.store.has_sessions():
        info("no sessions recorded yet")
        return
    started = time.monotonic()
    seen = indexed_share_for_search(paths, index, no_sync=no_sync, say=False)
    searcher = Searcher(paths.home, index=index)
    searcher.read_budget = max(SCAN_MIN_SECONDS, SCAN_BUDGET_SECONDS - (time.monotonic() - started))
    result = searcher.find(
        query,
        limit=limit,
        since=since_at,
        until=until_at,
        model=model,
        provider=provider,
        role=role,
        session=session,
        mode=mode,  # type: ignore[arg-type]
        relevant_only=not show_all,
    )
    hits, below_floor = result.hits, result.below_floor
    line = seen.line(read=result.sessions_read)
    if line:
        info(line)
    if result.dates:
        info(
            "dates understood: "
            + "; ".join(found.describe() for found in result.dates)
            + " (sessions active then rank higher)"
        )
    searcher.close()
    if as_json:
        import orjson

        for hit in hits:
            sys.stdout.write(orjson.dumps(hit_json(hit, seen)).decode("utf-8") + "\n")
        return
    if not hits:
        info(
            f"nothing relevant found ({below_floor} below the relevance floor: --all shows them)"
            if below_floor
            else "nothing found"
        )
        return
    for number, hit in enumerate(hits, start=1):
        for rendered in render_hit(number, hit):
            stdout.print(rendered, soft_wrap=True)
