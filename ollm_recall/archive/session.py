"""The types of the session file format: session, message, part, tool call.

Parsing is strict (one ``CorruptSession`` line per broken file) and serialisation keeps every key it
does not know, so files written by other tools survive a round trip.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any, Literal

from .._jsonio import JSONProblem, kind_name, loads_strict
from .._time import now_timestamp, parse_timestamp
from ..errors import CorruptSession, InvalidSessionId, UsageError

Role = Literal["user", "assistant", "system"]
ROLES: tuple[str, ...] = ("user", "assistant", "system")
SESSION_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def validate_session_id(session_id: object) -> str:
    """Return the id if it may name a session file; raise ``InvalidSessionId`` otherwise.

    Checked before any path is built, so an id can never reach outside the sessions directory.
    """
    if not isinstance(session_id, str) or session_id == "":
        raise InvalidSessionId("invalid session id: it is empty")
    if len(session_id) > 128:
        raise InvalidSessionId(f"invalid session id {session_id[:20]!r}...: longer than 128 characters")
    if SESSION_ID_PATTERN.fullmatch(session_id) is None:
        raise InvalidSessionId(
            f"invalid session id {session_id!r}: use letters, digits, '.', '_' and '-', "
            "starting with a letter or digit"
        )
    return session_id


class FormatProblem(Exception):
    """A format rule broken at a place inside the document; turned into ``CorruptSession`` once, where
    the file's name is known (the listing reads a file's head and does the same)."""


def _require(data: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in data:
        raise FormatProblem(f"{where}missing field '{key}'")
    value = data[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise FormatProblem(f"{where}'{key}' must be {kind_name(kind)}, not {_json_type(value)}")
    return value


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    names: dict[type, str] = {str: "a string", list: "an array", dict: "an object"}
    return names.get(type(value), type(value).__name__)


def _require_timestamp(data: Mapping[str, Any], key: str, where: str) -> str:
    text = _require(data, key, str, where)
    try:
        parse_timestamp(text)
    except ValueError as exc:
        raise FormatProblem(f"{where}'{key}': {exc}") from None
    return text


def _extras(data: Mapping[str, Any], known: tuple[str, ...]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if key not in known}


@dataclass(frozen=True)
class Part:
    """One part of a message. Text parts are indexed; parts of other types are kept as they are."""

    type: str
    text: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Any, where: str) -> Part:
        if not isinstance(data, dict):
            raise FormatProblem(f"{where}must be an object, not {_json_type(data)}")
        kind = _require(data, "type", str, where)
        if kind == "text":
            text = _require(data, "text", str, where)
            return cls(type=kind, text=text, extra=_extras(data, ("type", "text")))
        return cls(type=kind, text=None, extra=_extras(data, ("type",)))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        if self.text is not None:
            out["text"] = self.text
        out.update(self.extra)
        return out


_MESSAGE_KEYS = ("role", "parts", "timestamp", "excludeFromContext", "interrupted")


@dataclass(frozen=True)
class Message:
    """One message of a chat, in the order it happened."""

    role: Role
    parts: tuple[Part, ...]
    timestamp: str = field(default_factory=now_timestamp)
    exclude_from_context: bool = False
    interrupted: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise UsageError(f"unknown role {self.role!r} (expected user, assistant or system)")
        if not self.parts:
            raise UsageError("a message needs at least one part")

    @classmethod
    def text(
        cls,
        role: Role,
        text: str,
        *,
        timestamp: str | None = None,
        exclude_from_context: bool = False,
        interrupted: bool = False,
    ) -> Message:
        """A message of one text part, stamped now unless a time stamp is given."""
        return cls(
            role=role,
            parts=(Part(type="text", text=text),),
            timestamp=timestamp or now_timestamp(),
            exclude_from_context=exclude_from_context,
            interrupted=interrupted,
        )

    @property
    def content(self) -> str:
        """The text of all text parts, joined by blank lines."""
        return "\n\n".join(part.text for part in self.parts if part.text is not None)

    @classmethod
    def from_dict(cls, data: Any, where: str) -> Message:
        if not isinstance(data, dict):
            raise FormatProblem(f"{where}must be an object, not {_json_type(data)}")
        role = _require(data, "role", str, where)
        if role not in ROLES:
            raise FormatProblem(f"{where}unknown role {role!r} (expected user, assistant or system)")
        raw_parts = _require(data, "parts", list, where)
        if not raw_parts:
            raise FormatProblem(f"{where}'parts' is empty (a message needs at least one part)")
        parts = tuple(Part.from_dict(p, f"{where}parts[{i}]: ") for i, p in enumerate(raw_parts))
        timestamp = _require_timestamp(data, "timestamp", where)
        flags = {}
        for key in ("excludeFromContext", "interrupted"):
            if key in data:
                flags[key] = _require(data, key, bool, where)
        return cls(
            role=role,
            parts=parts,
            timestamp=timestamp,
            exclude_from_context=flags.get("excludeFromContext", False),
            interrupted=flags.get("interrupted", False),
            extra=_extras(data, _MESSAGE_KEYS),
        )

    @cached_property
    def _wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "role": self.role,
            "parts": [part.to_dict() for part in self.parts],
            "timestamp": self.timestamp,
        }
        if self.exclude_from_context:
            out["excludeFromContext"] = True
        if self.interrupted:
            out["interrupted"] = True
        out.update(self.extra)
        return out

    def to_dict(self) -> dict[str, Any]:
        """The message as the file holds it. Computed once: messages do not change after recording."""
        return self._wire


_TOOL_CALL_KEYS = ("id", "name", "args", "result", "timestamp")


@dataclass(frozen=True)
class ToolCall:
    """A tool the model called, its arguments and its result (``llmContent``, ``returnDisplay``)."""

    id: str
    name: str
    args: Mapping[str, Any]
    result: Mapping[str, Any]
    timestamp: str = field(default_factory=now_timestamp)
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise UsageError("a tool call needs a non-empty string id")
        if not isinstance(self.name, str) or not self.name:
            raise UsageError("a tool call needs a non-empty string name")
        if not isinstance(self.args, Mapping):
            raise UsageError("tool call args must be a mapping")
        if not isinstance(self.result, Mapping) or "llmContent" not in self.result:
            raise UsageError("tool call result must be a mapping with 'llmContent'")

    @classmethod
    def from_dict(cls, data: Any, where: str) -> ToolCall:
        if not isinstance(data, dict):
            raise FormatProblem(f"{where}must be an object, not {_json_type(data)}")
        call_id = _require(data, "id", str, where)
        name = _require(data, "name", str, where)
        args = _require(data, "args", dict, where)
        result = _require(data, "result", dict, where)
        if "llmContent" not in result:
            raise FormatProblem(f"{where}result: missing field 'llmContent'")
        timestamp = _require_timestamp(data, "timestamp", where)
        return cls(
            id=call_id,
            name=name,
            args=args,
            result=result,
            timestamp=timestamp,
            extra=_extras(data, _TOOL_CALL_KEYS),
        )

    @cached_property
    def _wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "args": dict(self.args),
            "result": dict(self.result),
            "timestamp": self.timestamp,
        }
        out.update(self.extra)
        return out

    def to_dict(self) -> dict[str, Any]:
        """The tool call as the file holds it."""
        return self._wire


_SESSION_KEYS = (
    "sessionId",
    "startTime",
    "lastActivity",
    "model",
    "provider",
    "title",
    "messages",
    "toolCalls",
    "metadata",
)
_REQUIRED_METADATA: tuple[tuple[str, type], ...] = (
    ("tokenCount", int),
    ("compressionCount", int),
    ("modeHistory", list),
)


def new_metadata() -> dict[str, Any]:
    """The metadata every session starts with."""
    return {"tokenCount": 0, "compressionCount": 0, "modeHistory": []}


class SessionTimes:
    """Start and last activity as aware datetimes, for anything with the two stamps."""

    start_time: str
    last_activity: str

    @property
    def started_at(self) -> datetime:
        return parse_timestamp(self.start_time)

    @property
    def last_activity_at(self) -> datetime:
        return parse_timestamp(self.last_activity)


@dataclass
class Session(SessionTimes):
    """One chat: its messages, tool calls and metadata. Mutable only through the recording service."""

    session_id: str
    start_time: str
    last_activity: str
    model: str
    provider: str
    messages: list[Message] = field(default_factory=list)
    tool_calls: list[ToolCall] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=new_metadata)
    extra: dict[str, Any] = field(default_factory=dict)
    source_title: str | None = None
    """The conversation's own title where it had one (an import's), the optional top-level ``title``."""

    @property
    def title(self) -> str:
        """A one-line title: the conversation's own (``source_title``, or an older import's
        ``metadata.originalTitle``), else the start of the first user message, else of the first."""
        own = self.source_title or self.metadata.get("originalTitle")
        if isinstance(own, str) and own.strip():
            return title_from_text(own)
        return title_from_text(first_user_text(self.messages))

    @classmethod
    def from_dict(cls, data: Any, source: str) -> Session:
        """Build a session from a parsed document; raise ``CorruptSession`` as ``<source>: <problem>``."""
        try:
            return cls._from_dict(data)
        except FormatProblem as problem:
            raise CorruptSession(f"{source}: {problem}") from None

    @classmethod
    def _from_dict(cls, data: Any) -> Session:
        if not isinstance(data, dict):
            raise FormatProblem(f"the document must be a JSON object, not {_json_type(data)}")
        session_id = _require(data, "sessionId", str, "")
        try:
            validate_session_id(session_id)
        except InvalidSessionId as exc:
            raise FormatProblem(f"'sessionId': {exc}") from None
        start = _require_timestamp(data, "startTime", "")
        last = _require_timestamp(data, "lastActivity", "")
        if parse_timestamp(last) < parse_timestamp(start):
            raise FormatProblem(f"'lastActivity' ({last}) is before 'startTime' ({start})")
        model = _require(data, "model", str, "")
        provider = _require(data, "provider", str, "")
        raw_messages = _require(data, "messages", list, "")
        messages = [Message.from_dict(m, f"messages[{i}]: ") for i, m in enumerate(raw_messages)]
        raw_calls = _require(data, "toolCalls", list, "")
        calls = [ToolCall.from_dict(c, f"toolCalls[{i}]: ") for i, c in enumerate(raw_calls)]
        metadata = _require(data, "metadata", dict, "")
        for key, kind in _REQUIRED_METADATA:
            _require(metadata, key, kind, "metadata: ")
        return cls(
            session_id=session_id,
            start_time=start,
            last_activity=last,
            model=model,
            provider=provider,
            messages=messages,
            tool_calls=calls,
            metadata=dict(metadata),
            extra=_extras(data, _SESSION_KEYS),
            source_title=_optional_title(data),
        )

    @classmethod
    def from_bytes(cls, raw: bytes, source: str) -> Session:
        """Parse a session file's bytes; raise ``CorruptSession`` as ``<source>: <problem>``."""
        try:
            data = loads_strict(raw)
        except JSONProblem as problem:
            raise CorruptSession(f"{source}: {problem}") from None
        return cls.from_dict(data, source)

    def to_dict(self) -> dict[str, Any]:
        """The session as the file holds it; the header fields first, so listings read only the head."""
        out: dict[str, Any] = {
            "sessionId": self.session_id,
            "startTime": self.start_time,
            "lastActivity": self.last_activity,
            "model": self.model,
            "provider": self.provider,
            **({"title": self.source_title} if self.source_title else {}),
            "messages": [message.to_dict() for message in self.messages],
            "toolCalls": [call.to_dict() for call in self.tool_calls],
            "metadata": self.metadata,
        }
        out.update(self.extra)
        return out


def _optional_title(data: dict[str, Any]) -> str | None:
    """The optional top-level ``title``: a string, or absent (anything else is a format problem)."""
    title = data.get("title")
    if title is None:
        return None
    if not isinstance(title, str):
        raise FormatProblem(f"'title' must be a string, not {_json_type(title)}")
    return title or None


def first_user_text(messages: list[Message]) -> str:
    """The text a title is made from: the first user message's, else the first message's."""
    for message in messages:
        if message.role == "user" and not message.exclude_from_context and message.content.strip():
            return message.content
    for message in messages:
        if message.content.strip():
            return message.content
    return ""


def title_from_text(text: str, width: int = 72) -> str:
    """First line of ``text``, whitespace folded, cut at a word boundary to ``width`` characters."""
    line = " ".join(text.strip().split("\n", 1)[0].split()) if text.strip() else ""
    if not line:
        return "(empty session)"
    if len(line) <= width:
        return line
    cut = line[: width - 1].rsplit(" ", 1)[0]
    return (cut if len(cut) > width // 2 else line[: width - 1]) + "…"
