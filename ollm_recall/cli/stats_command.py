"""``ollm stats``: what the archive says about how you use local models, as charts on the terminal,
``--json`` for scripts, or ``--html FILE`` for a page."""

from __future__ import annotations

import sys
from datetime import date, timedelta
from pathlib import Path

import typer

from .._time import parse_range
from ..archive.store import store_for_home
from ..home import index_dir_for
from .output import handle_errors, info, print_json, stdout, visible, warn

SPARKS = "▁▂▃▄▅▆▇█"
SHADES = ("·", "░", "▒", "▓", "█")
HEATMAP_WEEKS = 26


@handle_errors
def stats(
    ctx: typer.Context,
    since: str | None = typer.Option(None, "--since", help="Sessions active since: 2026-03-01, 7d, 3m, 1y."),
    until: str | None = typer.Option(None, "--until", help="Sessions started before the end of: same forms."),
    model: str | None = typer.Option(None, "--model", help="One model, or a family (llama3.2)."),
    provider: str | None = typer.Option(None, "--provider", help="ollama, openai, or an importer's name."),
    as_json: bool = typer.Option(False, "--json", help="Print every figure as JSON."),
    html: Path | None = typer.Option(None, "--html", help="Write a page with the charts to this file."),
) -> None:
    """How you use local models: activity by day, week, hour and weekday, time spent, tokens and speed
    by model, how often past sessions were recalled, what was imported, and the period covered.

    Tokens are what the server reported (Ollama, OpenAI-compatible servers); for replies without a
    report (imported chats) they are estimated from the text and marked ~. A cache beside the listing
    cache keeps each session's figures, so only new or changed sessions are read.

    Example: ollm stats --since 3m --model llama3.2
    """
    from ..insights.facts_cache import read_all_facts, stats_cache_path
    from ..insights.report import StatsFilter, build_report
    from .output import progress_bar

    since_at, until_at = parse_range(since, until)
    store = store_for_home(ctx.obj.home, ctx.obj.index_dir)
    cache = stats_cache_path(index_dir_for(ctx.obj.home, ctx.obj.index_dir))
    with progress_bar(store.count(), "reading sessions", at_least=500) as advance:
        facts, problems = read_all_facts(store, cache, progress=lambda _done, _total: advance())
    for problem in problems[:3]:
        warn(f"skipped {problem}")
    if len(problems) > 3:
        warn(f"skipped {len(problems) - 3} more unreadable session files (ollm doctor lists them)")
    chosen = StatsFilter(since_at, until_at, model, provider)
    report = build_report(facts, chosen)
    report.topics = _topics(ctx.obj, [f for f in facts if chosen.keeps(f)])
    if html is not None:
        from ..insights.stats_page import write_stats_page

        write_stats_page(html, report)
        info(f"wrote {html}")
    if as_json:
        print_json(report.to_json())
    elif html is None:
        titles = _titles(store, [sid for sid, _n in report.most_recalled])
        render(report, titles)


def _topics(paths, facts) -> list[dict]:
    """The topics, when the index holds the sessions' vectors (none before a first `ollm index`)."""
    from ..index.indexer import Index
    from ..insights.topics import find_topics

    return [topic.to_json() for topic in find_topics(Index(paths.home, index_dir=paths.index_dir), facts)]


def _titles(store, session_ids: list[str]) -> dict[str, str]:
    if not session_ids:
        return {}
    return {s.session_id: s.title for s in store.list().sessions if s.session_id in session_ids}


def spark(values: list[float]) -> str:
    """A sparkline: one block per value, as tall as its share of the largest."""
    top = max(values, default=0)
    if top <= 0:
        return SPARKS[0] * len(values)
    return "".join(
        SPARKS[min(len(SPARKS) - 1, int(value / top * (len(SPARKS) - 1) + 0.5))] for value in values
    )


def bar(value: float, top: float, width: int = 24) -> str:
    return "█" * max(1 if value > 0 else 0, round(value / top * width)) if top > 0 else ""


def heatmap(days: dict[str, int], last: date, weeks: int = HEATMAP_WEEKS) -> list[str]:
    """A calendar of ``weeks`` weeks to ``last``: a row per weekday, a column per week, each day
    shaded by its messages (quartiles of the active days)."""
    counts = sorted(n for n in days.values() if n > 0)
    cuts = [counts[int(len(counts) * q)] for q in (0.25, 0.5, 0.75)] if counts else [0, 0, 0]
    start = last - timedelta(days=last.weekday() + 7 * (weeks - 1))
    rows = []
    for weekday in range(7):
        cells = []
        for week in range(weeks):
            day = start + timedelta(days=7 * week + weekday)
            count = days.get(day.isoformat(), 0)
            if day > last:
                cells.append(" ")
            elif count == 0:
                cells.append(SHADES[0])
            else:
                cells.append(SHADES[1 + sum(count > cut for cut in cuts)])
        rows.append("".join(cells))
    return rows


def _tokens(figures: dict, direction: str) -> str:
    reported, estimated = figures[f"tokens{direction}"], figures[f"estimatedTokens{direction}"]
    if estimated and not reported:
        return f"~{estimated:,}"
    return f"{reported:,}" + (f" (+~{estimated:,})" if estimated else "")


def render(report, titles: dict[str, str]) -> None:
    """The report on the terminal: figures, a calendar, sparklines and bars."""
    from rich.table import Table

    data = report.to_json()
    activity, memory = data["activity"], data["memory"]
    if not report.sessions:
        info("no session matches: nothing to count")
        return
    first, last = report.first.astimezone().date(), report.last.astimezone().date()
    span = (last - first).days + 1
    hours, minutes = divmod(round(report.seconds / 60), 60)
    messages = sum(activity["messages"].values())
    stdout.print(
        f"[bold]{first} to {last}[/] ({span} days)\n{report.sessions:,} sessions, {messages:,} messages, "
        f"{activity['activeDays']} active days, {hours} h {minutes:02d} min spent",
        highlight=False,
    )
    stdout.print(f"\n[bold]Activity[/], messages a day, last {HEATMAP_WEEKS} weeks (· none, ░▒▓█ more)")
    for label, row in zip(("Mon", "", "Wed", "", "Fri", "", "Sun"), heatmap(report.days, last), strict=True):
        stdout.print(f"  {label:>3} {row}", highlight=False)
    weeks = list(report.weeks.values())[-HEATMAP_WEEKS:]
    stdout.print(
        f"  weekly  {spark(weeks)}  (busiest week {max(weeks, default=0)} messages)", highlight=False
    )
    stdout.print(
        f"  by hour {spark(report.hours)}  0h to 23h, busiest {report.hours.index(max(report.hours))}h"
    )
    top_day = max(report.weekdays)
    for name, count in zip(("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"), report.weekdays, strict=True):
        stdout.print(f"  {name} {bar(count, top_day):<24} {count:,}", highlight=False)

    rows = []
    for name, figures in sorted(data["models"].items(), key=lambda item: -item[1]["sessions"]):
        monthly = [v or 0.0 for v in figures["tokensPerSecondByMonth"].values()]
        speed = figures["tokensPerSecond"]
        rows.append(
            [
                visible(name),
                f"{figures['sessions']:,}",
                f"{figures['replies']:,}",
                _tokens(figures, "In"),
                _tokens(figures, "Out"),
                f"{speed:.1f}" if speed is not None else "-",
                spark(monthly) if len(monthly) > 1 else "",
                f"{figures['interruptedReplies']:,}",
            ]
        )
    headers = ["model", "sessions", "replies", "tokens in", "out", "tok/s", "by month", "cut short"]
    if not any(cells[6] for cells in rows):  # no speed trend to show: no column for it
        headers.pop(6)
        rows = [cells[:6] + cells[7:] for cells in rows]
    table = Table(title="Models (tokens as reported, ~ estimated)", title_justify="left", show_edge=False)
    for position, header in enumerate(headers):
        table.add_column(header, justify="left" if position == 0 else "right", no_wrap=position > 0)
    for cells in rows:
        table.add_row(*cells)
    stdout.print()
    stdout.print(table)
    stdout.print("\n[bold]Memory[/]")
    stdout.print(
        f"  automatic recall brought past sessions into {memory['sessionsWithAutomaticRecall']:,} chats "
        f"({memory['sessionsRecalledAutomatically']:,} sessions in all)\n  the recall tool was called "
        f"{memory['recallToolCalls']:,} time{'s' if memory['recallToolCalls'] != 1 else ''}",
        highlight=False,
    )
    for entry in memory["mostRecalled"]:
        title = visible(titles.get(entry["sessionId"], ""))
        stdout.print(f"  {entry['times']:>4}x  {entry['sessionId']}  {title}", highlight=False)
    if memory["importedFrom"]:
        shown = ", ".join(f"{source} {count:,}" for source, count in memory["importedFrom"].items())
        stdout.print(f"  imported sessions: {visible(shown)}", highlight=False)
    if data["topics"]:
        months = sorted({month for topic in data["topics"] for month in topic["sessionsByMonth"]})
        stdout.print(f"\n[bold]Topics[/] (sessions a month, {months[0]} to {months[-1]})")
        for topic in data["topics"]:
            line = spark([topic["sessionsByMonth"].get(month, 0) for month in months])
            words = visible(", ".join(topic["words"]))
            stdout.print(f"  {topic['sessions']:>5}  {line}  {words}", highlight=False)
    sys.stdout.flush()
