"""Upkeep of a sessions folder that devices share through a sync tool: merging the tool's conflict
copies into their sessions (``conflicts`` has the rule; this writes its result safely), and removing
again the deleted sessions that came back (``tombstones``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .._atomic import fsync_directory
from ..errors import ArchiveReadOnly, CorruptSession, SessionLocked
from .conflicts import merge_sessions, message_key, tool_call_key
from .session import Session
from .store import SessionStore
from .tombstones import deleted_sessions


@dataclass
class MergeReport:
    """What ``merge_conflicts`` did: sessions merged, copies removed, sessions left because a process
    records into them (merged next time), and copies left because a half cannot be read."""

    merged: list[str] = field(default_factory=list)
    copies_removed: int = 0
    busy: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def merge_conflicts(store: SessionStore) -> MergeReport:
    """Merge every conflict copy into its session: the joined session, redacted, is written atomically
    under the session's id, read back, and each copy is removed only once everything it holds is found
    in what was written. A kill at any moment leaves the copies, or the merged session and the copies
    (merged again, to the same result, next time), never less."""
    report = MergeReport()
    redactor = store.redactor

    def redact(session: Session) -> Session:
        return redactor.redact_session(session)[0] if redactor is not None else session

    deleted = deleted_sessions(store.directory)
    for session_id, copies in sorted(store.conflict_copies().items()):
        if session_id in deleted:
            continue  # removed with its copies by remove_deleted
        lock = store.lock(session_id)
        try:
            lock.acquire()
        except SessionLocked:
            report.busy.append(session_id)
            continue
        except ArchiveReadOnly:
            return report  # nothing can be merged here; readers see both halves meanwhile
        try:
            base = [store.read(session_id)] if store.exists(session_id) else []
            halves = [(path, redact(store.read_copy(path))) for path in copies]
            store.write(merge_sessions([redact(half) for half in base] + [half for _path, half in halves]))
            written = store.read(session_id)
            for path, half in halves:
                if holds_all_of(written, half):
                    path.unlink()
                    report.copies_removed += 1
                else:
                    report.problems.append(f"{path.name}: not all of it was found after the merge: kept")
            report.merged.append(session_id)
        except (CorruptSession, OSError) as problem:
            report.problems.append(f"{session_id}: not merged ({problem})")
        finally:
            lock.release()
    if report.copies_removed:
        fsync_directory(store.directory)
    return report


def holds_all_of(merged: Session, half: Session) -> bool:
    """Whether every message and tool call of ``half`` is in ``merged`` (a reply cut short there
    counts when ``merged`` holds it finished)."""
    messages = {message_key(message) for message in merged.messages}
    turns = {(message.timestamp, message.role): message.content for message in merged.messages}
    calls = {tool_call_key(call) for call in merged.tool_calls}
    return all(
        message_key(message) in messages
        or (
            message.interrupted
            and turns.get((message.timestamp, message.role), "").startswith(message.content)
        )
        for message in half.messages
    ) and all(tool_call_key(call) in calls for call in half.tool_calls)


def remove_deleted(store: SessionStore) -> list[str]:
    """Remove again the sessions a device deleted that came back (with their conflict copies): a
    sync tool brought them from a device that had not seen the deletion. A session a process records
    into is left for the next run. Returns the ids removed."""
    deleted = deleted_sessions(store.directory)
    if not deleted:
        return []
    copies = store.conflict_copies()
    removed = []
    for session_id in sorted(deleted):
        own = store.forms_of(session_id)  # back in any form
        paths = [path for path in own if path.exists()] + copies.get(session_id, [])
        if not paths:
            continue
        lock = store.lock(session_id)
        try:
            lock.acquire()
        except (SessionLocked, ArchiveReadOnly):
            continue
        try:
            for path in paths:
                path.unlink(missing_ok=True)
            removed.append(session_id)
        except OSError:
            continue
        finally:
            lock.release()
    if removed:
        fsync_directory(store.directory)
    return removed
