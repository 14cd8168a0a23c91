"""A session moved from one form of file to another (compacted, encrypted, decrypted), one way for all:
under its recording lock, the new file written and read back, the old one removed only then."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from .._atomic import write_atomic
from ..errors import ArchiveReadOnly, SessionLocked
from .session_file import read_session_bytes
from .store import SessionStore


@contextlib.contextmanager
def session_held(
    store: SessionStore, session_id: str, busy: list[str], problems: list[str]
) -> Iterator[bool]:
    """Hold a session's recording lock for the block (True), or say why not (False): the id goes to
    ``busy`` while a chat records into it, the reason to ``problems`` in a read-only folder."""
    lock = store.lock(session_id)
    try:
        lock.acquire()
    except SessionLocked:
        busy.append(session_id)
        yield False
        return
    except ArchiveReadOnly as exc:
        problems.append(str(exc))
        yield False
        return
    try:
        yield True
    finally:
        lock.release()


def write_new_form(source: Path, target: Path, raw: bytes, data: bytes) -> bool:
    """Write ``data`` (the session file ``source``, whose JSON is ``raw``, in a new form) to ``target``,
    and check both read as ``raw``; when ``source`` changed meanwhile (a sync tool wrote it), remove
    ``target`` and return False: the source stays the session."""
    write_atomic(target, data)
    if read_session_bytes(target) != raw or read_session_bytes(source) != raw:
        target.unlink()
        return False
    return True
