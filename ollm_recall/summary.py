"""Session summaries for listings, read from the head of each file instead of every message.

The format writes the header fields before ``messages``, so a listing of 10,000 sessions reads a few
kilobytes of each file. A file whose head does not fit that shape (another tool's key order, a huge first
message, damage) is parsed in full, which also gives the exact reason when the file is broken.

What a listing checks is the head (header fields, the first messages) and that the file is complete;
a fault deeper in the body is reported when the session itself is read (show, export, index).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from .errors import CorruptSession
from .model import Message, Session, _Problem, first_user_text, title_from_text
from .timestamps import parse_timestamp

HEAD_BYTES = 16 * 1024
_HEADER_FIELDS = ("sessionId", "startTime", "lastActivity", "model", "provider")
_WHITESPACE = " \t\n\r"
_decoder = json.JSONDecoder()


@dataclass(frozen=True)
class SessionSummary:
    """What a listing shows of a session, without its messages."""

    session_id: str
    start_time: str
    last_activity: str
    model: str
    provider: str
    title: str
    path: Path
    size: int
    modified: float

    @property
    def started_at(self) -> datetime:
        return parse_timestamp(self.start_time)

    @property
    def last_activity_at(self) -> datetime:
        return parse_timestamp(self.last_activity)

    @classmethod
    def of_session(cls, session: Session, path: Path) -> SessionSummary:
        """The summary of a session already in memory."""
        try:
            stat = path.stat()
            size, modified = stat.st_size, stat.st_mtime
        except OSError:
            size, modified = 0, 0.0
        return cls(
            session_id=session.session_id,
            start_time=session.start_time,
            last_activity=session.last_activity,
            model=session.model,
            provider=session.provider,
            title=session.title,
            path=path,
            size=size,
            modified=modified,
        )


class _NotInHead(Exception):
    """The head alone cannot give the summary; parse the whole file."""


def read_summary(path: Path) -> SessionSummary:
    """Summarise one session file; raise ``CorruptSession`` (``<file>: <problem>``) if it is broken."""
    try:
        with open(path, "rb") as handle:
            stat = os.fstat(handle.fileno())
            head = handle.read(HEAD_BYTES)
            if stat.st_size > len(head):
                handle.seek(-64, os.SEEK_END)
                tail = handle.read()
            else:
                tail = head
    except OSError as exc:
        raise CorruptSession(f"{path.name}: cannot read: {exc.strerror}") from None
    try:
        fields = _parse_head(head, complete=stat.st_size == len(head))
        if not tail.rstrip().endswith(b"}"):
            raise _NotInHead
        return _summary_from_fields(fields, path, stat.st_size, stat.st_mtime)
    except (_NotInHead, _Problem, ValueError, RecursionError):
        return _summary_from_full_parse(path, stat.st_size, stat.st_mtime)


def _summary_from_full_parse(path: Path, size: int, modified: float) -> SessionSummary:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CorruptSession(f"{path.name}: cannot read: {exc.strerror}") from None
    session = Session.from_bytes(raw, path.name)
    check_name_matches(session.session_id, path)
    return SessionSummary.of_session(session, path)


def check_name_matches(session_id: str, path: Path) -> None:
    """A file must be named after the session it holds; anything else is a broken archive."""
    if path.name != f"{session_id}.json":
        raise CorruptSession(
            f"{path.name}: sessionId {session_id!r} does not match the file name"
        )


def _summary_from_fields(
    fields: dict[str, Any], path: Path, size: int, modified: float
) -> SessionSummary:
    session_id = fields["sessionId"]
    if not all(isinstance(fields[key], str) for key in _HEADER_FIELDS):
        raise _NotInHead
    if path.name != f"{session_id}.json":
        raise _NotInHead
    if parse_timestamp(fields["lastActivity"]) < parse_timestamp(fields["startTime"]):
        raise _NotInHead
    return SessionSummary(
        session_id=session_id,
        start_time=fields["startTime"],
        last_activity=fields["lastActivity"],
        model=fields["model"],
        provider=fields["provider"],
        title=title_from_text(fields["firstText"]),
        path=path,
        size=size,
        modified=modified,
    )


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _WHITESPACE:
        pos += 1
    if pos >= len(text):
        raise _NotInHead
    return pos


def _decode_head(head: bytes, complete: bool) -> str:
    try:
        return head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if complete or exc.start < len(head) - 3:
            raise _NotInHead from None
        return head[: exc.start].decode("utf-8")


def _parse_head(head: bytes, *, complete: bool) -> dict[str, Any]:
    """Read the top-level fields before ``messages`` and enough messages to make a title."""
    text = _decode_head(head, complete)
    pos = _skip_ws(text, 0)
    if text[pos] != "{":
        raise _NotInHead
    fields: dict[str, Any] = {}
    pos += 1
    while True:
        pos = _skip_ws(text, pos)
        if text[pos] != '"':
            raise _NotInHead
        key, pos = json.decoder.scanstring(text, pos + 1)
        pos = _skip_ws(text, pos)
        if text[pos] != ":":
            raise _NotInHead
        pos = _skip_ws(text, pos + 1)
        if key == "messages":
            if any(name not in fields for name in _HEADER_FIELDS):
                raise _NotInHead
            fields["firstText"] = _first_text_in_array(text, pos)
            return fields
        try:
            value, pos = _decoder.raw_decode(text, pos)
        except json.JSONDecodeError:
            raise _NotInHead from None
        fields[key] = value
        pos = _skip_ws(text, pos)
        if text[pos] != ",":
            raise _NotInHead
        pos += 1


def _first_text_in_array(text: str, pos: int) -> str:
    if text[pos] != "[":
        raise _NotInHead
    pos += 1
    messages: list[Message] = []
    while True:
        pos = _skip_ws(text, pos)
        if text[pos] == "]":
            break
        try:
            raw, pos = _decoder.raw_decode(text, pos)
        except json.JSONDecodeError:
            raise _NotInHead from None
        message = Message.from_dict(raw, f"messages[{len(messages)}]: ")
        messages.append(message)
        if message.role == "user" and not message.exclude_from_context and message.content.strip():
            return message.content
        pos = _skip_ws(text, pos)
        if text[pos] == ",":
            pos += 1
    return first_user_text(messages)


def model_matches(model: str, wanted: str) -> bool:
    """``gemma3`` matches ``gemma3:4b`` and ``gemma3:12b``; ``gemma3:4b`` matches only itself."""
    wanted = wanted.strip().lower()
    model = model.lower()
    return model == wanted or (":" not in wanted and model.split(":", 1)[0] == wanted)


def select_sessions(
    summaries: list[SessionSummary],
    *,
    model: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = None,
) -> list[SessionSummary]:
    """Sessions of a model that were active between ``since`` and ``until``, at most ``limit``.

    A session counts as active in the range when it overlaps it: it was still going at ``since``
    (last activity after it) and had started by ``until``.
    """
    chosen = []
    for summary in summaries:
        if model is not None and not model_matches(summary.model, model):
            continue
        if since is not None and summary.last_activity_at < since:
            continue
        if until is not None and summary.started_at > until:
            continue
        chosen.append(summary)
        if limit is not None and len(chosen) >= limit:
            break
    return chosen
