"""Sessions as markdown a person wants to read: the one renderer behind the markdown export, the HTML
pages (rendered from it) and the agent tools' transcripts."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .._time import format_duration, parse_timestamp
from ..archive.session import Message, Session, ToolCall

_BACKTICK_RUN = re.compile(r"`{3,}")


@dataclass(frozen=True)
class IndexEntry:
    """What the index page shows of one session."""

    session_id: str
    started: str
    model: str
    provider: str
    title: str
    messages: int

    @classmethod
    def of(cls, session: Session) -> IndexEntry:
        visible = sum(1 for m in session.messages if not m.exclude_from_context)
        return cls(
            session.session_id,
            session.start_time,
            session.model,
            session.provider,
            session.title or "(no text)",
            visible,
        )


def human_time(timestamp: str, *, with_date: bool = True) -> str:
    """A stored time stamp as ``2026-01-27 12:00:05 UTC`` (or just the time of day)."""
    moment = parse_timestamp(timestamp).astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC" if with_date else "%H:%M:%S")


def fence_for(text: str) -> str:
    """A code fence longer than any backtick run inside ``text``, so the block cannot close early."""
    longest = max((len(run) for run in _BACKTICK_RUN.findall(text)), default=0)
    return "`" * max(3, longest + 1)


def _fenced(text: str, language: str = "") -> str:
    fence = fence_for(text)
    return f"{fence}{language}\n{text.rstrip()}\n{fence}"


def _timeline(session: Session) -> list[Message | ToolCall]:
    """Messages and tool calls in the order they happened (messages first on equal times)."""
    events: list[tuple[datetime, int, int, Message | ToolCall]] = []
    for index, message in enumerate(session.messages):
        events.append((parse_timestamp(message.timestamp), 0, index, message))
    for index, call in enumerate(session.tool_calls):
        events.append((parse_timestamp(call.timestamp), 1, index, call))
    events.sort(key=lambda event: (event[0], event[1], event[2]))
    return [event[3] for event in events]


def _render_message(message: Message) -> str:
    heading = f"### {message.role.capitalize()} · {human_time(message.timestamp, with_date=False)}"
    if message.exclude_from_context:
        return f"> _{message.content.strip()}_"
    body = message.content.rstrip() or "_(no text)_"
    other_parts = [part.type for part in message.parts if part.type != "text"]
    lines = [heading, "", body]
    if other_parts:
        lines += ["", f"_(also: {', '.join(other_parts)} parts, not shown)_"]
    if message.interrupted:
        lines += ["", "_(reply interrupted)_"]
    return "\n".join(lines)


def _json_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False)


def _render_tool_call(call: ToolCall) -> str:
    lines = [f"#### Tool call: `{call.name}` · {human_time(call.timestamp, with_date=False)}", ""]
    lines += ["Arguments:", "", _fenced(_json_text(dict(call.args)), "json"), ""]
    display = call.result.get("returnDisplay")
    label = f"Result ({_json_text(display).strip()}):" if display else "Result:"
    content = _json_text(call.result.get("llmContent"))
    lines += [label, "", _fenced(content, "" if isinstance(call.result.get("llmContent"), str) else "json")]
    return "\n".join(lines)


def to_markdown(session: Session) -> str:
    """A readable document: title, a facts table, then every message and tool call in order."""
    started = parse_timestamp(session.start_time)
    ended = parse_timestamp(session.last_activity)
    visible = [m for m in session.messages if not m.exclude_from_context]
    facts = [
        ("Session", f"`{session.session_id}`"),
        ("Model", f"{session.model} ({session.provider})"),
        ("Started", human_time(session.start_time)),
        ("Duration", format_duration((ended - started).total_seconds())),
        ("Messages", str(len(visible))),
    ]
    if session.tool_calls:
        facts.append(("Tool calls", str(len(session.tool_calls))))
    title = session.title.replace("\n", " ")
    out = [f"# {title}", "", "| | |", "|---|---|"]
    out += [f"| {name} | {value} |" for name, value in facts]
    for event in _timeline(session):
        out += ["", "---" if isinstance(event, Message) else "", ""]
        if isinstance(event, Message):
            out.append(_render_message(event))
        else:
            out.append(_render_tool_call(event))
    return "\n".join(line for line in _squeeze_blank_lines(out)) + "\n"


def _squeeze_blank_lines(lines: Iterable[str]) -> Iterable[str]:
    previous_blank = False
    for line in lines:
        blank = line == ""
        if not (blank and previous_blank):
            yield line
        previous_blank = blank


def markdown_index(entries: list[IndexEntry], links: list[tuple[str, str]] | None = None) -> str:
    """The folder's ``index.md``: every session, newest first, linked to its file (and ``links``:
    other pages of the folder, as (file, text))."""
    lines = ["# Chat sessions", ""]
    lines += [f"[{text}]({name})  " for name, text in links or []] + ([""] if links else [])
    lines += ["| Started | Model | Title | Messages |", "|---|---|---|---|"]
    for entry in sorted(entries, key=lambda e: e.started, reverse=True):
        title = entry.title.replace("|", "\\|").replace("[", "\\[").replace("]", "\\]")
        lines.append(
            f"| {human_time(entry.started)[:16]} | {entry.model} | "
            f"[{title}]({entry.session_id}.md) | {entry.messages} |"
        )
    return "\n".join(lines) + "\n"
