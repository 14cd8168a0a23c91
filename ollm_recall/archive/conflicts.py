"""Conflict copies that sync tools make of a session file changed on two devices, and their merge.

When two devices change ``X.json`` before they sync, Syncthing, Dropbox, iCloud, Nextcloud/ownCloud and
OneDrive keep both, one of them under another name. ``conflict_bases`` recognises those names;
``merge_sessions`` joins the halves so nothing either device recorded is lost: messages and tool calls
are a grow-only set (key: time, role or call, hash of content), metadata and unknown fields key by key
with the later write winning. ``shared_folder.merge_conflicts`` writes the result and removes a copy
only once the written session is verified to hold all of it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from .._jsonio import dumps_compact
from ..errors import InvalidSessionId
from .session import Message, Session, ToolCall, validate_session_id

CONFLICT_NAMES = (
    re.compile(r"(?P<base>.+)\.sync-conflict-\d{8}-\d{6}-[A-Z0-9]{7}"),  # Syncthing
    re.compile(  # Dropbox ("X (conflicted copy)", "X (Ann's conflicted copy 2026-05-21)"), Nextcloud
        r"(?P<base>.+) \((?:[^()]+'s )?conflicted copy(?: \d{4}-\d{2}-\d{2})?(?: \d{6})?(?: \(\d+\))?\)"
    ),
    re.compile(r"(?P<base>.+)_conflict-\d{8}-\d{6}"),  # ownCloud
    re.compile(r"(?P<base>.+) \d{1,3}"),  # iCloud ("X 2")
)
ONEDRIVE_DEVICE = re.compile(r"(?=[A-Z0-9-]*[A-Z])[A-Z0-9][A-Z0-9-]{0,30}")
"""OneDrive appends the computer's name: ``X-DESKTOP-1A2B3C.json``."""


def conflict_bases(stem: str) -> list[str]:
    """The session ids whose conflict copy a file named ``<stem>.json`` may be, by its name (none: no
    sync tool's conflict copy). The copy's own ``sessionId`` says which, where it is read."""
    found = [match["base"] for pattern in CONFLICT_NAMES if (match := pattern.fullmatch(stem))]
    found += [
        stem[:position]
        for position, char in enumerate(stem)
        if char == "-" and ONEDRIVE_DEVICE.fullmatch(stem[position + 1 :])
    ]
    bases = []
    for base in found:
        try:
            bases.append(validate_session_id(base))
        except InvalidSessionId:
            continue
    return bases


def _digest(value: Any) -> str:
    return hashlib.sha256(dumps_compact(value)).hexdigest()


def message_key(message: Message) -> tuple[str, str, str]:
    """What makes two messages the same message on two devices: time, role and content."""
    return (message.timestamp, message.role, _digest([part.to_dict() for part in message.parts]))


def tool_call_key(call: ToolCall) -> tuple[str, str, str]:
    return (call.timestamp, call.id, _digest([call.name, dict(call.args), dict(call.result)]))


def merge_sessions(halves: list[Session]) -> Session:
    """One session holding everything of ``halves`` (the same session as devices saw it): messages and
    tool calls of all, in time order, each once; where a reply was cut short on one device and
    finished on another (same time and role, the one text a start of the other), the finished one."""
    ordered = sorted(halves, key=lambda half: half.last_activity_at)
    latest = ordered[-1]
    messages = _without_cut_short(_union(message_key, (half.messages for half in ordered)))
    calls = _union(tool_call_key, (half.tool_calls for half in ordered))
    metadata: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for half in ordered:  # later writes win, key by key
        metadata.update(half.metadata)
        extra.update(half.extra)
    return replace(
        latest,
        start_time=min(ordered, key=lambda half: half.started_at).start_time,
        messages=sorted(messages, key=lambda message: message.timestamp),
        tool_calls=sorted(calls, key=lambda call: call.timestamp),
        metadata=metadata,
        extra=extra,
        source_title=next((half.source_title for half in reversed(ordered) if half.source_title), None),
    )


def _union(key: Any, groups: Iterable[list[Any]]) -> list[Any]:
    seen: dict[Any, Any] = {}
    for group in groups:
        for item in group:
            seen.setdefault(key(item), item)
    return list(seen.values())


def _without_cut_short(messages: list[Message]) -> list[Message]:
    by_turn: dict[tuple[str, str], list[Message]] = {}
    for message in messages:
        by_turn.setdefault((message.timestamp, message.role), []).append(message)
    kept = []
    for message in messages:
        others = by_turn[(message.timestamp, message.role)]
        superseded = message.interrupted and any(
            other is not message
            and other.content.startswith(message.content)
            and (len(other.content) > len(message.content) or not other.interrupted)
            for other in others
        )
        if not superseded:
            kept.append(message)
    return kept
