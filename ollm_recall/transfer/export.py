"""Sessions out as markdown a person wants to read and share, or as the JSON of the file.

Export only reads: it never changes a session file. What it writes is redacted as a save would be
(the store's redactor), so a secret an older save left in a file does not reach the export.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._atomic import write_atomic
from .._jsonio import dumps_compact
from .._time import parse_timestamp
from ..archive.session import Message, Session, ToolCall
from ..errors import ExportError

if TYPE_CHECKING:
    from ..archive.redaction import Finding, Redactor
    from ..archive.store import SessionStore
    from .html_export import IndexEntry

FORMATS = ("md", "json", "html", "jsonl")
_BACKTICK_RUN = re.compile(r"`{3,}")


def check_format(name: str) -> str:
    """Return a known export format name or raise ``ExportError`` naming the known ones."""
    if name not in FORMATS:
        raise ExportError(f"unknown export format {name!r}: use one of {', '.join(FORMATS)}")
    return name


def file_suffix(fmt: str) -> str:
    return {"md": ".md", "json": ".json", "html": ".html", "jsonl": ".jsonl"}[check_format(fmt)]


def format_duration(seconds: float) -> str:
    """``42 s``, ``5 min 30 s``, ``2 h 05 min``: how long a session lasted."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours:02d} h"


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


def exportable(
    session: Session, raw: bytes, redactor: Redactor | None
) -> tuple[Session, bytes, list[Finding]]:
    """The session (and its file's bytes) as an export may hold it: with the secrets an older save
    left in the file redacted, and those secrets' findings. The file itself is left as it is
    (``ollm redact`` rewrites it)."""
    if redactor is None:
        return session, raw, []
    clean, findings = redactor.redact_session(session)
    if not findings:
        return session, raw, []
    return clean, dumps_compact(clean.to_dict()), findings


def render(session: Session, raw: bytes, fmt: str) -> bytes:
    """One session in an export format: markdown, an HTML page, one JSON line, or the file's own bytes."""
    fmt = check_format(fmt)
    if fmt == "json":
        return raw
    if fmt == "jsonl":
        return dumps_compact(session.to_dict()) + b"\n"
    if fmt == "html":
        from .html_export import session_page

        return session_page(session).encode("utf-8")
    return to_markdown(session).encode("utf-8")


def markdown_index(entries: list[IndexEntry]) -> str:
    """The folder's ``index.md``: every session, newest first, linked to its file."""
    lines = ["# Chat sessions", "", "| Started | Model | Title | Messages |", "|---|---|---|---|"]
    for entry in sorted(entries, key=lambda e: e.started, reverse=True):
        title = entry.title.replace("|", "\\|").replace("[", "\\[").replace("]", "\\]")
        lines.append(f"| {human_time(entry.started)[:16]} | {entry.model} | "
                     f"[{title}]({entry.session_id}.md) | {entry.messages} |")
    return "\n".join(lines) + "\n"


def export_to_directory(
    store: SessionStore,
    session_ids: list[str],
    fmt: str,
    out_dir: Path,
    *,
    progress: Callable[[int], None] | None = None,
    redacted: Callable[[str, list[Finding]], None] | None = None,
) -> list[Path]:
    """Write the sessions into ``out_dir``; returns the files written.

    Secrets still in a session file are redacted in what is written (``exportable``, with the store's
    redactor); ``redacted(session_id, findings)`` is told of each session that had some.

    ``md`` and ``html`` write a file per session and an index (``index.md``, ``index.html``: a page
    with a filter box), ``json`` a copy of each file, ``jsonl`` one ``sessions.jsonl``. Every id is
    checked before the first file is written, so an unknown id exports nothing; sessions are then read
    one at a time, so an export of the whole archive needs little memory. Refuses the sessions
    directory and any folder inside it: an export must never write over, or beside, a session file.
    """
    from ..errors import SessionNotFound
    from .html_export import IndexEntry, index_page

    check_format(fmt)
    out_dir = Path(out_dir)
    sessions = store.directory.resolve()
    if out_dir.resolve() == sessions or sessions in out_dir.resolve().parents:
        raise ExportError(f"refusing to export into the sessions directory {store.directory}")
    for session_id in session_ids:
        if not store.exists(session_id):
            raise SessionNotFound(f"no session with id {session_id!r} in {store.directory}")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"cannot create {out_dir}: {exc.strerror}") from None
    written: list[Path] = []
    entries: list[IndexEntry] = []
    lines: list[bytes] = []
    for session_id in session_ids:
        session, raw, findings = exportable(*store.read_with_bytes(session_id), store.redactor)
        if findings and redacted is not None:
            redacted(session_id, findings)
        if fmt == "jsonl":
            lines.append(render(session, raw, fmt))
        else:
            target = out_dir / f"{session.session_id}{file_suffix(fmt)}"
            written.append(_write(target, render(session, raw, fmt)))
        entries.append(IndexEntry.of(session))
        if progress is not None:
            progress(1)
    if fmt == "jsonl":
        written.append(_write(out_dir / "sessions.jsonl", b"".join(lines)))
    elif fmt == "md":
        written.append(_write(out_dir / "index.md", markdown_index(entries).encode("utf-8")))
    elif fmt == "html":
        written.append(_write(out_dir / "index.html", index_page(entries).encode("utf-8")))
    return written


def _write(target: Path, data: bytes) -> Path:
    try:
        write_atomic(target, data, mode=0o644)
    except OSError as exc:
        raise ExportError(f"cannot write {target}: {exc.strerror}") from None
    return target
