"""Deletions that stay deleted when the sessions folder is shared by a sync tool.

Deleting a session (``ollm sessions delete``, ``prune``) first appends a line to this device's own
tombstone file, ``<sessions>/.tombstones/<device>.jsonl``: each device writes only its own file, so the
files never conflict with one another. A session named there that comes back (from a device that had
not synced the deletion, or had changed the session meanwhile) is not listed, and is removed again by
the next ``ollm index`` or ``ollm doctor --fix``; an import does not bring it back either.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import orjson

from .._atomic import NO_FOLLOW, fsync_directory, make_private_dir
from .._time import now_timestamp
from ..errors import InvalidSessionId
from .session import validate_session_id

TOMBSTONES_DIR = ".tombstones"


def tombstone_file(directory: Path, device: str) -> Path:
    """This device's tombstone file in a sessions folder."""
    return directory / TOMBSTONES_DIR / f"{device}.jsonl"


def record_deletion(directory: Path, device: str, session_id: str) -> None:
    """Append (and sync to disk) the deletion of ``session_id`` before its file goes: a crash in
    between leaves a file the next sync removes, never a deletion that is forgotten."""
    path = tombstone_file(directory, device)
    make_private_dir(path.parent)
    created = not path.exists()
    line = orjson.dumps({"sessionId": session_id, "deletedAt": now_timestamp(), "device": device}) + b"\n"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | NO_FOLLOW, 0o600)
    try:
        os.write(descriptor, line)
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    if created:
        fsync_directory(path.parent)


def deleted_sessions(directory: Path) -> dict[str, str]:
    """Every session id some device deleted, with when it was deleted last. A line cut short (a
    device stopped while appending, or a file synced half way) is skipped."""
    deleted: dict[str, str] = {}
    folder = directory / TOMBSTONES_DIR
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        for path in sorted(folder.glob("*.jsonl")):
            try:
                raw = path.read_bytes()
            except OSError:
                continue
            for line in raw.splitlines():
                try:
                    entry = orjson.loads(line)
                    session_id, at = entry["sessionId"], entry["deletedAt"]
                except (orjson.JSONDecodeError, KeyError, TypeError):
                    continue
                if not isinstance(at, str) or at <= deleted.get(session_id, ""):
                    continue
                try:  # a synced file is input like any other: never a path
                    deleted[validate_session_id(session_id)] = at
                except InvalidSessionId:
                    continue
    return deleted
