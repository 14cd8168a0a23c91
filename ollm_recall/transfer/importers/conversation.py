"""What every importer produces: conversations in a common shape, made into sessions with stable ids.

An imported session's id comes from the source and the source's own conversation id, so importing the
same export twice, or a newer export that overlaps it, finds the sessions it made before. A hash of
the messages tells an unchanged conversation from one that grew.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from ..._time import format_timestamp, parse_timestamp
from ...archive.session import Message, Role, Session, new_metadata
from ...archive.usage import estimated_usage

_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


@dataclass(frozen=True)
class Turn:
    """One message of an imported conversation."""

    role: Role
    text: str
    time: datetime | None = None


@dataclass(frozen=True)
class Conversation:
    """One conversation read from another tool's export."""

    source: str
    original_id: str
    title: str
    turns: list[Turn]
    model: str
    created: datetime | None = None
    updated: datetime | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    left_out: dict[str, int] = field(default_factory=dict)
    """What the export had that the session does not keep, counted by kind ("messages on other
    branches", "attachments"): said after the import, never dropped without a word."""


@dataclass(frozen=True)
class Broken:
    """A conversation (or file) of an export that could not be read; the rest still imports."""

    where: str
    reason: str


Item = Conversation | Session | Broken
"""What a source yields: a conversation to convert, a session as it is (ollm files), or a problem."""

Items = Iterator[Item]


def branch_to(nodes: dict[str, Any], leaf: str, parent_key: str) -> list[dict[str, Any]]:
    """The nodes from the root down to ``leaf``, following each node's ``parent_key`` up (a cycle or a
    missing parent ends the walk): the branch of a message tree the user last saw."""
    branch, seen, node_id = [], set(), leaf
    while isinstance(node_id, str) and node_id in nodes and node_id not in seen:
        seen.add(node_id)
        branch.append(nodes[node_id])
        node_id = nodes[node_id].get(parent_key)
    return branch[::-1]


def imported_session_id(source: str, original_id: str) -> str:
    """``<source>-<original id>`` when that is a valid session id, else the source and a digest of it."""
    candidate = f"{source}-{original_id}"
    if _ID_PATTERN.match(candidate) and ".." not in candidate:
        return candidate
    digest = hashlib.sha256(original_id.encode("utf-8")).hexdigest()[:32]
    return f"{source}-{digest}"


def messages_hash(messages: list[Message]) -> str:
    """A digest of what was said, by whom and when: equal for the same conversation exported twice."""
    canonical = [[m.role, m.content, m.timestamp] for m in messages]
    return hashlib.sha256(json.dumps(canonical, ensure_ascii=False).encode("utf-8")).hexdigest()


def to_session(conversation: Conversation) -> Session | None:
    """The session for a conversation, or None when it has no message with text."""
    turns = [turn for turn in conversation.turns if turn.text.strip()]
    if not turns:
        return None
    fallback = conversation.created or conversation.updated or datetime.fromtimestamp(0, UTC)
    times: list[datetime] = []
    for turn in turns:  # a message without a time of its own takes the one before it
        times.append(turn.time or (times[-1] if times else fallback))
    messages = []
    before = 0  # characters the model had read before each reply: an estimate of its prompt
    for turn, moment in zip(turns, times, strict=True):
        message = Message.text(turn.role, turn.text, timestamp=format_timestamp(moment))
        if turn.role == "assistant":  # no server said: an estimate, marked as one
            message = replace(message, extra={"usage": estimated_usage(before, len(turn.text))})
        messages.append(message)
        before += len(turn.text)
    start = min([*times, *([conversation.created] if conversation.created else [])])
    last = max([*times, *([conversation.updated] if conversation.updated else [])])
    metadata = new_metadata()
    metadata.update(conversation.metadata)
    metadata.update(
        {
            "importedFrom": conversation.source,
            "originalId": conversation.original_id,
            "originalTitle": conversation.title,
            "importedHash": messages_hash(messages),
        }
    )
    return Session(
        session_id=imported_session_id(conversation.source, conversation.original_id),
        start_time=format_timestamp(start),
        last_activity=format_timestamp(last),
        model=conversation.model,
        provider=conversation.source,
        messages=messages,
        metadata=metadata,
        source_title=conversation.title or None,
    )


def epoch_time(value: Any) -> datetime | None:
    """A moment from a count since the epoch, None if absent or absurd: seconds (ChatGPT, Open WebUI
    messages), or milliseconds or nanoseconds, told apart by size (Open WebUI writes all three)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    seconds = float(value)
    if seconds > 1e16:
        seconds /= 1e9
    elif seconds > 1e11:
        seconds /= 1e3
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def iso_time(value: Any) -> datetime | None:
    """A moment from an ISO-8601 string with a zone (a zoneless one is read as UTC), else None."""
    if not isinstance(value, str):
        return None
    try:
        return parse_timestamp(value)
    except ValueError:
        try:
            return datetime.fromisoformat(value).replace(tzinfo=UTC)
        except ValueError:
            return None
