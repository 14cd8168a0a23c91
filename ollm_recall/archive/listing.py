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
import re
from dataclasses import dataclass
from datetime import datetime
from json.decoder import scanstring  # type: ignore[attr-defined]
from pathlib import Path
from typing import Any

from .._time import parse_timestamp
from ..errors import CorruptSession
from .compression import COMPRESSED_SUFFIX
from .encryption import ENCRYPTED_SUFFIX
from .session import ROLES, FormatProblem, Message, Session, SessionTimes, title_from_text
from .session_file import open_session_file, read_session_bytes, session_id_of

HEAD_BYTES = 2 * 1024
MAX_HEAD_BYTES = 256 * 1024
_HEADER_FIELDS = ("sessionId", "startTime", "lastActivity", "model", "provider")
_WHITESPACE = re.compile(r"[ \t\n\r]*")
_decoder = json.JSONDecoder()
_JSON_STRING = r'"((?:[^"\\\x00-\x1f]|\\.)*)"'
_OWN_HEAD = re.compile(
    r'\{"sessionId":S,"startTime":S,"lastActivity":S,"model":S,"provider":S,"messages":'.replace(
        "S", _JSON_STRING
    )
)


@dataclass(frozen=True)
class SessionSummary(SessionTimes):
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


class _NeedMore(_NotInHead):
    """The head ended before the summary was complete; read further."""


def read_summary(path: Path) -> SessionSummary:
    """Summarise one session file; raise ``CorruptSession`` (``<file>: <problem>``) if it is broken."""
    if path.name.endswith((COMPRESSED_SUFFIX, ENCRYPTED_SUFFIX)):
        return _compressed_summary(path)
    try:
        handle, status = open_session_file(path)
        with handle:
            size, modified = status.st_size, status.st_mtime
            head = handle.read(HEAD_BYTES)
            fields = None
            while fields is None:
                try:
                    fields = _parse_head(head, complete=len(head) >= size)
                except _NeedMore:
                    if len(head) >= min(size, MAX_HEAD_BYTES):
                        raise _NotInHead from None
                    head += handle.read(len(head) * 3)
            if size > len(head):
                handle.seek(-64, os.SEEK_END)
                tail = handle.read()
            else:
                tail = head
        if not tail.rstrip().endswith(b"}"):
            raise _NotInHead
        return _summary_from_fields(fields, path, size, modified)
    except OSError as exc:
        raise CorruptSession(f"{path.name}: cannot read: {exc.strerror}") from None
    except (_NotInHead, FormatProblem, ValueError, RecursionError):
        return _summary_from_full_parse(path)


def _compressed_summary(path: Path) -> SessionSummary:
    """A compressed or encrypted file is read whole (it is small), then summarised from its head."""
    try:
        status = path.stat()
        raw = read_session_bytes(path)
        fields = _parse_head(raw[:MAX_HEAD_BYTES], complete=len(raw) <= MAX_HEAD_BYTES)
        if not raw.rstrip().endswith(b"}"):
            raise _NotInHead
        return _summary_from_fields(fields, path, status.st_size, status.st_mtime)
    except OSError as exc:
        raise CorruptSession(f"{path.name}: cannot read: {exc.strerror}") from None
    except (_NotInHead, FormatProblem, ValueError, RecursionError):
        return _summary_from_full_parse(path)


def _summary_from_full_parse(path: Path) -> SessionSummary:
    try:
        raw = read_session_bytes(path)
    except OSError as exc:
        raise CorruptSession(f"{path.name}: cannot read: {exc.strerror}") from None
    session = Session.from_bytes(raw, path.name)
    check_name_matches(session.session_id, path)
    return SessionSummary.of_session(session, path)


def check_name_matches(session_id: str, path: Path) -> None:
    """A file must be named after the session it holds; anything else is a broken archive."""
    if session_id_of(path.name) != session_id:
        raise CorruptSession(f"{path.name}: sessionId {session_id!r} does not match the file name")


def _summary_from_fields(fields: dict[str, Any], path: Path, size: int, modified: float) -> SessionSummary:
    session_id = fields["sessionId"]
    if not all(isinstance(fields[key], str) for key in _HEADER_FIELDS):
        raise _NotInHead
    if session_id_of(path.name) != session_id:
        raise _NotInHead
    if parse_timestamp(fields["lastActivity"]) < parse_timestamp(fields["startTime"]):
        raise _NotInHead
    return SessionSummary(
        session_id=session_id,
        start_time=fields["startTime"],
        last_activity=fields["lastActivity"],
        model=fields["model"],
        provider=fields["provider"],
        title=title_from_text(
            own if isinstance(own := fields.get("title"), str) and own.strip() else fields["firstText"]
        ),
        path=path,
        size=size,
        modified=modified,
    )


def _skip_ws(text: str, pos: int) -> int:
    pos = _WHITESPACE.match(text, pos).end()  # type: ignore[union-attr]
    if pos >= len(text):
        raise _NeedMore
    return pos


def _decode_head(head: bytes, complete: bool) -> str:
    try:
        return head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if complete or exc.start < len(head) - 3:
            raise _NotInHead from None
        return head[: exc.start].decode("utf-8")


def _unescape(json_string_body: str) -> str:
    if "\\" not in json_string_body:
        return json_string_body
    return json.loads(f'"{json_string_body}"')


def _raw_decode(text: str, pos: int) -> tuple[Any, int]:
    try:
        return _decoder.raw_decode(text, pos)
    except json.JSONDecodeError:
        raise _NeedMore from None


def _parse_head(head: bytes, *, complete: bool) -> dict[str, Any]:
    """Read the top-level fields before ``messages`` and enough messages to make a title."""
    text = _decode_head(head, complete)
    own = _OWN_HEAD.match(text)
    if own is not None:
        values = [_unescape(value) for value in own.groups()]
        fields: dict[str, Any] = dict(zip(_HEADER_FIELDS, values, strict=True))
        fields["firstText"] = _first_text_in_array(text, own.end())
        return fields
    pos = _skip_ws(text, 0)
    if text[pos] != "{":
        raise _NotInHead
    fields = {}
    pos += 1
    while True:
        pos = _skip_ws(text, pos)
        if text[pos] != '"':
            raise _NotInHead
        try:
            key, pos = scanstring(text, pos + 1)
        except json.JSONDecodeError:
            raise _NeedMore from None
        pos = _skip_ws(text, pos)
        if text[pos] != ":":
            raise _NotInHead
        pos = _skip_ws(text, pos + 1)
        if key == "messages":
            if any(name not in fields for name in _HEADER_FIELDS):
                raise _NotInHead
            fields["firstText"] = _first_text_in_array(text, pos)
            return fields
        value, pos = _raw_decode(text, pos)
        fields[key] = value
        pos = _skip_ws(text, pos)
        if text[pos] != ",":
            raise _NotInHead
        pos += 1


def _first_text_in_array(text: str, pos: int) -> str:
    """The title's text from the first messages, with the checks a listing makes of each."""
    if text[pos] != "[":
        raise _NotInHead
    pos += 1
    fallback = ""
    index = 0
    while True:
        pos = _skip_ws(text, pos)
        if text[pos] == "]":
            return fallback
        raw, pos = _raw_decode(text, pos)
        role, content, hidden = _checked_message(raw, f"messages[{index}]: ")
        if role == "user" and not hidden and content.strip():
            return content
        if not fallback and content.strip():
            fallback = content
        index += 1
        pos = _skip_ws(text, pos)
        if text[pos] == ",":
            pos += 1


def _checked_message(raw: Any, where: str) -> tuple[str, str, bool]:
    """Role, text and hidden flag of a message dict, checked as strictly as ``Message.from_dict``
    checks them, without building a ``Message`` (a listing reads 10,000 of these)."""
    if not isinstance(raw, dict):
        return _full_check(raw, where)
    role, parts, timestamp = raw.get("role"), raw.get("parts"), raw.get("timestamp")
    if role not in ROLES or not isinstance(parts, list) or not parts or not isinstance(timestamp, str):
        return _full_check(raw, where)
    texts = []
    for part in parts:
        if not isinstance(part, dict) or not isinstance(part.get("type"), str):
            return _full_check(raw, where)
        if part["type"] == "text":
            if not isinstance(part.get("text"), str):
                return _full_check(raw, where)
            texts.append(part["text"])
    hidden = raw.get("excludeFromContext", False)
    if not isinstance(hidden, bool) or not isinstance(raw.get("interrupted", False), bool):
        return _full_check(raw, where)
    parse_timestamp(timestamp)
    return role, "\n\n".join(texts), hidden


def _full_check(raw: Any, where: str) -> tuple[str, str, bool]:
    message = Message.from_dict(raw, where)
    return message.role, message.content, message.exclude_from_context


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
