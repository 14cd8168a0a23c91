"""`ollm stats --html FILE`: the figures as one self-contained page of inline SVG charts.

Nothing is fetched and nothing runs: no script at all, the page's one style allowed by its hash (a
Content-Security-Policy says so), colours from CSS so the charts follow a light or a dark system
theme. Every chart has a title and a description for screen readers, and its figures as a table.
"""

from __future__ import annotations

import base64
import hashlib
import html
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from .._atomic import write_atomic
from ..errors import ExportError
from .report import WEEKDAYS, StatsReport

STYLE = """
:root{--ink:#1d1f21;--muted:#5b6068;--paper:#fafafa;--rule:#dde0e4;--bar:#2f6fb3;--l0:#eceef1;
--l1:#c6dbef;--l2:#7fb0dc;--l3:#3b82c4;--l4:#174f8a}
@media (prefers-color-scheme:dark){:root{--ink:#e6e8eb;--muted:#a3a9b1;--paper:#16181b;--rule:#33373d;
--bar:#6aa9ec;--l0:#24282d;--l1:#1f3b57;--l2:#28598a;--l3:#3f86cf;--l4:#8cc3f7}}
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:var(--ink);
background:var(--paper)}main{max-width:60rem;margin:0 auto;padding:1.5rem 1rem 4rem}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}.muted{color:var(--muted)}
figure{margin:1rem 0}figcaption{color:var(--muted);font-size:.9rem}svg{max-width:100%;height:auto}
svg text{fill:var(--muted);font-size:10px}.bar{fill:var(--bar)}.line{fill:none;stroke:var(--bar);
stroke-width:2}.l0{fill:var(--l0)}.l1{fill:var(--l1)}.l2{fill:var(--l2)}.l3{fill:var(--l3)}
.l4{fill:var(--l4)}table{border-collapse:collapse;font-size:.9rem}td,th{padding:.2rem .6rem;
border-bottom:1px solid var(--rule);text-align:right}td:first-child,th:first-child{text-align:left}
details{margin:.3rem 0 1rem}summary{color:var(--muted);cursor:pointer}
"""
POLICY = (
    "default-src 'none'; style-src 'sha256-"
    + base64.b64encode(hashlib.sha256(STYLE.encode("utf-8")).digest()).decode("ascii")
    + "'; base-uri 'none'; form-action 'none'"
)


def _chart(title: str, description: str, width: int, height: int, body: str, rows: list[list[str]]) -> str:
    """A figure: the SVG (titled and described for screen readers) and its figures as a table."""
    ident = "chart-" + hashlib.sha256(title.encode("utf-8")).hexdigest()[:8]  # titles differ per page
    table = "".join(
        "<tr>" + "".join(f"<{'th' if n == 0 else 'td'}>{html.escape(c)}</{'th' if n == 0 else 'td'}>"
                         for c in row) + "</tr>" for n, row in enumerate(rows)
    )  # fmt: skip
    return (
        f'<figure><svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-labelledby="{ident}t {ident}d"><title id="{ident}t">{html.escape(title)}</title>'
        f'<desc id="{ident}d">{html.escape(description)}</desc>{body}</svg>'
        f"<figcaption>{html.escape(title)}</figcaption>"
        f"<details><summary>the figures</summary><table>{table}</table></details></figure>"
    )


def calendar(days: dict[str, int], last: date) -> str:
    """A year of days to ``last``: a column a week, a row a weekday, shaded by messages."""
    counts = sorted(n for n in days.values() if n > 0)
    cuts = [counts[int(len(counts) * q)] for q in (0.25, 0.5, 0.75)] if counts else [0, 0, 0]
    start = last - timedelta(days=last.weekday() + 7 * 52)
    cells = []
    for offset in range((last - start).days + 1):
        day = start + timedelta(days=offset)
        count = days.get(day.isoformat(), 0)
        level = 0 if count == 0 else 1 + sum(count > cut for cut in cuts)
        x, y = 30 + (offset // 7) * 12, 4 + (offset % 7) * 12
        cells.append(
            f'<rect class="l{level}" x="{x}" y="{y}" width="10" height="10" rx="2">'
            f"<title>{day}: {count} messages</title></rect>"
        )
    labels = "".join(f'<text x="0" y="{13 + row * 12}">{WEEKDAYS[row]}</text>' for row in (0, 2, 4, 6))
    active = sorted(days.items())
    return _chart(
        "Messages a day, the last 53 weeks",
        f"A calendar: {len(active)} active days, the busiest with {max(days.values(), default=0)} messages.",
        30 + 53 * 12,
        90,
        labels + "".join(cells),
        [["day", "messages"], *[[day, str(count)] for day, count in active]],
    )


def bars(title: str, labels: list[str], values: list[float], unit: str) -> str:
    """A vertical bar chart, a label under every bar (or every few when there are many)."""
    width, height, top = max(300, 22 * len(values) + 80), 150, max(values, default=0) or 1
    slot = (width - 80) / max(1, len(values))
    step = max(1, -int(-6 * max((len(label) for label in labels), default=1) // slot))  # labels never overlap
    body = []
    for n, (label, value) in enumerate(zip(labels, values, strict=True)):
        tall = round(value / top * 110)
        x = 30 + n * slot
        body.append(
            f'<rect class="bar" x="{x:.1f}" y="{120 - tall}" width="{slot * 0.8:.1f}" height="{tall}">'
            f"<title>{html.escape(label)}: {value:,.0f} {unit}</title></rect>"
        )
        if n % step == 0:
            body.append(f'<text x="{x:.1f}" y="136">{html.escape(label)}</text>')
    body.append(f'<text x="0" y="12">{top:,.0f}</text>')
    busiest = labels[values.index(max(values))] if values else "-"
    return _chart(
        title,
        f"{len(values)} bars; the highest is {busiest} with {max(values, default=0):,.0f} {unit}.",
        width,
        height,
        "".join(body),
        [["", unit], *[[label, f"{value:,.0f}"] for label, value in zip(labels, values, strict=True)]],
    )


def hbars(title: str, labels: list[str], values: list[float], unit: str) -> str:
    """A horizontal bar chart, its labels at the left (model names are long)."""
    top = max(values, default=0) or 1
    body = []
    for n, (label, value) in enumerate(zip(labels, values, strict=True)):
        y, wide = 4 + n * 20, round(value / top * 440)
        body.append(f'<text x="0" y="{y + 12}">{html.escape(label[:30])}</text>')
        body.append(
            f'<rect class="bar" x="190" y="{y}" width="{wide}" height="14">'
            f"<title>{html.escape(label)}: {value:,.0f} {unit}</title></rect>"
            f'<text x="{196 + wide}" y="{y + 12}">{value:,.0f}</text>'
        )
    biggest = labels[values.index(max(values))] if values else "-"
    return _chart(
        title,
        f"{len(values)} bars; the longest is {biggest} with {max(values, default=0):,.0f} {unit}.",
        700,
        8 + 20 * len(values),
        "".join(body),
        [["", unit], *[[label, f"{value:,.0f}"] for label, value in zip(labels, values, strict=True)]],
    )


def speed_lines(series: dict[str, dict[str, float | None]]) -> str:
    """Tokens a second by month, a line a model."""
    months = sorted({month for points in series.values() for month in points})
    values = [v for points in series.values() for v in points.values() if v]
    if len(months) < 2 or not values:
        return ""
    width, top = max(320, 60 * len(months)), max(values)
    body = []
    for row, (model, points) in enumerate(sorted(series.items())):
        xy = [
            f"{40 + months.index(m) * (width - 60) / (len(months) - 1):.1f},{130 - v / top * 110:.1f}"
            for m, v in sorted(points.items())
            if v
        ]
        if len(xy) > 1:
            line = f'<polyline class="line" points="{" ".join(xy)}">'
            body.append(f"{line}<title>{html.escape(model)}</title></polyline>")
        body.append(f'<text x="{width - 150}" y="{12 + row * 12}">{html.escape(model)}</text>')
    body += [f'<text x="0" y="24">{top:.0f}/s</text>', f'<text x="40" y="146">{months[0]}</text>']
    body.append(f'<text x="{width - 60}" y="146">{months[-1]}</text>')
    rows = [["model", *months]] + [
        [model, *(f"{points[m]:.1f}" if points.get(m) else "-" for m in months)]
        for model, points in sorted(series.items())
    ]
    return _chart(
        "Tokens a second, by month",
        f"How fast each of {len(series)} models answered, month by month.",
        width,
        150,
        "".join(body),
        rows,
    )


def topics_chart(topics: list[dict[str, Any]]) -> str:
    """The topics, a row each: their words, and a bar a month of how many sessions they had."""
    if not topics:
        return ""
    months = sorted({month for topic in topics for month in topic["sessionsByMonth"]})
    top = max(n for topic in topics for n in topic["sessionsByMonth"].values()) or 1
    slot = min(24.0, 440 / max(1, len(months)))
    body = []
    for row, topic in enumerate(topics):
        y = 4 + row * 34
        words = html.escape(", ".join(topic["words"]))
        body.append(f'<text x="0" y="{y + 22}">{words} ({topic["sessions"]})</text>')
        for column, month in enumerate(months):
            count = topic["sessionsByMonth"].get(month, 0)
            tall = round(count / top * 28)
            x = 230 + column * slot
            body.append(
                f'<rect class="bar" x="{x:.1f}" y="{y + 28 - tall}" width="{slot * 0.8:.1f}" height="{tall}">'
                f"<title>{words}, {month}: {count} sessions</title></rect>"
            )
    rows = [["topic", *months]] + [
        [", ".join(t["words"]), *(str(t["sessionsByMonth"].get(m, 0)) for m in months)] for t in topics
    ]
    return "<h2>Topics</h2>" + _chart(
        f"Topics, sessions a month from {months[0]} to {months[-1]}",
        f"{len(topics)} topics, found by grouping sessions by meaning; the largest: "
        f"{', '.join(topics[0]['words'])}.",
        700,
        8 + 34 * len(topics),
        "".join(body),
        rows,
    )


def stats_page(report: StatsReport) -> str:
    """The whole page."""
    data = report.to_json()
    activity, memory = data["activity"], data["memory"]
    if report.first is None or report.last is None:
        body = "<h1>Your local models</h1><p>No session matches: nothing to count.</p>"
    else:
        first, last = report.first.astimezone().date(), report.last.astimezone().date()
        hours, minutes = divmod(round(report.seconds / 60), 60)
        messages = sum(activity["messages"].values())
        models = sorted(
            data["models"].items(), key=lambda item: -item[1]["tokensOut"] - item[1]["estimatedTokensOut"]
        )
        parts = [
            "<h1>Your local models</h1>",
            f'<p class="muted">{first} to {last}: {report.sessions:,} sessions, {messages:,} messages on '
            f"{activity['activeDays']} days, about {hours} h {minutes:02d} min spent.</p>",
            "<h2>Activity</h2>",
            calendar(report.days, last),
            bars(
                "Messages a week", list(report.weeks), [float(v) for v in report.weeks.values()], "messages"
            ),
            bars(
                "Messages by hour of the day",
                [f"{h}h" for h in range(24)],
                [float(v) for v in report.hours],
                "messages",
            ),
            bars("Messages by weekday", list(WEEKDAYS), [float(v) for v in report.weekdays], "messages"),
            "<h2>Models</h2>",
            hbars(
                "Tokens written, by model (estimated where the server did not say)",
                [name for name, _f in models],
                [float(f["tokensOut"] + f["estimatedTokensOut"]) for _n, f in models],
                "tokens",
            ),
            speed_lines(
                {name: f["tokensPerSecondByMonth"] for name, f in models if f["tokensPerSecondByMonth"]}
            ),
            topics_chart(data["topics"]),
            "<h2>Memory</h2>",
            f"<p>Automatic recall brought past sessions into {memory['sessionsWithAutomaticRecall']:,} "
            f"chats; the recall tool was called {memory['recallToolCalls']:,} times.</p>",
        ]
        body = "\n".join(part for part in parts if part)
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta http-equiv="Content-Security-Policy" content="{POLICY}">'
        f"<title>ollm stats</title><style>{STYLE}</style></head>\n"
        f"<body><main>\n{body}\n</main></body></html>\n"
    )


def write_stats_page(path: Path, report: StatsReport) -> None:
    """Write the page atomically (0600: it says how you spend your days); ``ExportError`` in one line
    when it cannot be written there."""
    if path.is_dir():
        raise ExportError(f"{path} is a folder: give a file name for the page (stats.html)")
    try:
        write_atomic(path, stats_page(report).encode("utf-8"))
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from None
