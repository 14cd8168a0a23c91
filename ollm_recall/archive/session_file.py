"""Reading a session file with bounds: only a regular file (a FIFO named ``x.json`` would block a
reader forever), and only up to ``MAX_SESSION_BYTES`` (a huge file would take gigabytes to parse).

Every reader of session files opens them here; what is refused is a ``CorruptSession`` naming the
file, which listing, search and ``ollm doctor`` report as they report a broken file, never touching it.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Collection
from pathlib import Path
from typing import BinaryIO

from ..errors import CorruptSession
from .compression import COMPRESSED_SUFFIX, decompress_session
from .conflicts import conflict_bases
from .encryption import ENCRYPTED_SUFFIX, open_session
from .unlocking import archive_key, encrypting

SUFFIXES = (".json", COMPRESSED_SUFFIX, ENCRYPTED_SUFFIX)

MAX_SESSION_BYTES = 64 * 1024 * 1024
"""Far above what recording writes (a session rewritten whole at every message stays well under a
few megabytes); parsing a file this size already takes about half a gigabyte of memory."""

_KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a device",
    stat.S_IFBLK: "a device",
}


def open_session_file(path: Path) -> tuple[BinaryIO, os.stat_result]:
    """The file open for reading and its status, once it is known to be a regular file of a size
    that may be read; ``CorruptSession`` otherwise. ``OSError`` (missing, unreadable) passes through."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        status = os.fstat(descriptor)
        kind = stat.S_IFMT(status.st_mode)
        if kind != stat.S_IFREG:
            what = _KINDS.get(kind, "not a regular file")
            raise CorruptSession(f"{path.name}: is {what}, not a session file: skipped")
        if status.st_size > MAX_SESSION_BYTES:
            raise too_large(path.name, status.st_size)
        os.set_blocking(descriptor, True)
        handle = os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise
    return handle, status


def read_session_bytes(path: Path) -> bytes:
    """The JSON bytes of a session file, plain or compressed (``<id>.json.zst``), within the bounds
    of ``open_session_file`` (a file that grows past the limit while read is refused too)."""
    handle, _status = open_session_file(path)
    with handle:
        data = handle.read(MAX_SESSION_BYTES + 1)
    if len(data) > MAX_SESSION_BYTES:
        raise too_large(path.name, len(data))
    if path.name.endswith(COMPRESSED_SUFFIX):
        return decompress_session(path.name, path.parent, data, MAX_SESSION_BYTES)
    if path.name.endswith(ENCRYPTED_SUFFIX):
        return decrypt_session_file(path, data)
    return data


def decrypt_session_file(path: Path, data: bytes) -> bytes:
    """An encrypted file's JSON, with the key of its folder; a conflict copy's associated data is its
    session's id, which its name gives only as one of ``conflict_bases``."""
    key = archive_key(path.parent)
    stem = path.name[: -len(ENCRYPTED_SUFFIX)]
    try:
        return open_session(key, stem, data, name=path.name, limit=MAX_SESSION_BYTES)
    except CorruptSession as problem:
        for session_id in conflict_bases(stem):
            with contextlib.suppress(CorruptSession):
                return open_session(key, session_id, data, name=path.name, limit=MAX_SESSION_BYTES)
        raise problem from None


def session_id_of(name: str) -> str | None:
    """The session id a file name in a sessions folder stands for (``X.json``, ``X.json.zst``,
    ``X.json.enc``), or None for any other file."""
    if name.startswith("."):
        return None
    for suffix in SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return None


def preferred_suffixes(directory: Path) -> tuple[str, ...]:
    """The forms of a session file, the one that holds it first when several exist: the form writes
    make now. A write makes its file then removes the others, and a migration (compaction, ``ollm
    encrypt``, ``ollm decrypt``) removes the old form only once the new one reads back the same, so a
    kill between leaves the newer form, or two that hold the same."""
    if encrypting(directory):
        return (ENCRYPTED_SUFFIX, ".json", COMPRESSED_SUFFIX)
    return (".json", COMPRESSED_SUFFIX, ENCRYPTED_SUFFIX)


def session_path(directory: Path, session_id: str) -> Path:
    """The file that holds a session (``preferred_suffixes``); the plain file's path when none exists."""
    for suffix in preferred_suffixes(directory):
        path = directory / f"{session_id}{suffix}"
        if path.exists():
            return path
    return directory / f"{session_id}.json"


def preferred_name(session_id: str, names: Collection[str], preference: tuple[str, ...]) -> str | None:
    """The file among ``names`` that holds the session (the first form of ``preference`` there), or None."""
    for suffix in preference:
        if f"{session_id}{suffix}" in names:
            return f"{session_id}{suffix}"
    return None


def shadowed(name: str, names: set[str], preference: tuple[str, ...]) -> bool:
    """Whether the file ``name`` is an older form of a session whose preferred form is in ``names``."""
    session_id = session_id_of(name)
    if session_id is None:
        return False
    holder = preferred_name(session_id, names, preference)
    return holder is not None and holder != name


def too_large(name: str, size: int) -> CorruptSession:
    return CorruptSession(
        f"{name}: {size / 1024 / 1024:.0f} MB, more than the {MAX_SESSION_BYTES // 1024 // 1024} MB "
        "a session file may have: not read"
    )
