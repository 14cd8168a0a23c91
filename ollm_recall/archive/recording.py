"""``ChatRecordingService``: every message and tool call on disk the moment it is recorded.

Sessions being recorded are cached in memory and locked against other processes. A save that fails
raises (never silently drops a message): the message stays in memory and the next save writes it.
"""

from __future__ import annotations

import copy
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from .._locking import SessionLock
from .._time import format_timestamp, now_timestamp, parse_timestamp
from ..errors import CorruptSession, SessionLocked, SessionNotFound, UsageError
from .listing import SessionSummary
from .redaction import DEFAULT_REDACTOR, Redactor
from .session import Message, Session, ToolCall, new_metadata, validate_session_id
from .store import SessionStore


class ChatRecordingService:
    """Create sessions and record messages and tool calls into them, crash-safely.

    ``auto_save`` writes the whole session atomically after every change (on by default);
    ``max_sessions`` keeps only that many sessions, deleting the oldest (off by default: a memory tool
    must not delete history unless asked); ``redactor`` replaces secrets in what is saved (None: off),
    while the session in memory keeps what was recorded; ``locks_dir``: as ``SessionStore`` takes it;
    ``device``: a short tag of this device put in new ids, so that devices sharing the sessions
    folder never mint the same one (``home.device_tag``).
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        *,
        auto_save: bool = True,
        max_sessions: int | None = None,
        redactor: Redactor | None = DEFAULT_REDACTOR,
        locks_dir: str | os.PathLike[str] | None = None,
        device: str | None = None,
    ) -> None:
        if max_sessions is not None and max_sessions < 1:
            raise UsageError(f"max_sessions must be at least 1, not {max_sessions}")
        self.store = SessionStore(
            data_dir, redactor=redactor, locks_dir=locks_dir, device=(lambda: device) if device else None
        )
        self.device = device
        self.auto_save = auto_save
        self.max_sessions = max_sessions
        self._cache: dict[str, Session] = {}
        self._locks: dict[str, SessionLock] = {}
        self._unsaved: set[str] = set()
        self._mutex = threading.RLock()
        self._cleaned = False

    @property
    def data_dir(self) -> Path:
        return self.store.directory

    def session_path(self, session_id: str) -> Path:
        """The file a session is (or will be) saved in: plain, compressed or encrypted."""
        return self.store.file_for(session_id)

    def create_session(
        self,
        *,
        model: str,
        provider: str = "ollama",
        session_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> str:
        """Start a session and save it at once; the file exists when this returns.

        New ids are ``session-<milliseconds>-<device>`` (``session-<milliseconds>`` without a device),
        with ``-2``, ``-3``... if that id is taken.
        """
        if not isinstance(model, str) or not model:
            raise UsageError("a session needs a model name")
        with self._mutex:
            self._prepare_directory()
            if session_id is not None:
                validate_session_id(session_id)
                lock = self._claim(session_id)
            else:
                session_id, lock = self._claim_new_id()
            now = now_timestamp()
            session = Session(
                session_id=session_id,
                start_time=now,
                last_activity=now,
                model=model,
                provider=provider,
                metadata={**new_metadata(), **(metadata or {})},
            )
            try:
                self.store.write(session)
            except BaseException:
                lock.release()
                raise
            self._locks[session_id] = lock
            self._cache[session_id] = session
            if self.max_sessions is not None:
                self.delete_oldest_sessions(keep=self.max_sessions)
            return session_id

    def record_message(self, session_id: str, message: Message) -> None:
        """Append a message; with auto-save it is durable on disk when this returns."""
        if not isinstance(message, Message):
            raise TypeError("record_message takes a Message (e.g. Message.text('user', 'hi'))")
        with self._mutex:
            session = self._recording(session_id)
            session.messages.append(message)
            self._touch(session)
            self._changed(session_id)

    def record_tool_call(self, session_id: str, tool_call: ToolCall) -> None:
        """Append a tool call with its arguments and result; auto-saved like a message."""
        if not isinstance(tool_call, ToolCall):
            raise TypeError("record_tool_call takes a ToolCall")
        with self._mutex:
            session = self._recording(session_id)
            session.tool_calls.append(tool_call)
            self._touch(session)
            self._changed(session_id)

    def replace_last_message(self, session_id: str, message: Message) -> None:
        """Swap the newest message for a longer version of itself (a reply still streaming in)."""
        with self._mutex:
            session = self._recording(session_id)
            if not session.messages:
                raise UsageError(f"session {session_id} has no message to replace")
            session.messages[-1] = message
            self._touch(session)
            self._changed(session_id)

    def update_metadata(self, session_id: str, values: Mapping[str, Any]) -> None:
        """Set metadata keys (``contextSize``, ``recalledSessions``, ``tokenCount``...) and save."""
        with self._mutex:
            session = self._recording(session_id)
            session.metadata.update(copy.deepcopy(dict(values)))
            self._changed(session_id)

    def change_model(self, session_id: str, model: str, provider: str) -> None:
        """Go on with ``model`` of ``provider`` in this session (an imported chat continued with a
        local model): the session's model and provider become these, and ``metadata.modelChanges``
        keeps what they were and when they changed."""
        with self._mutex:
            session = self._recording(session_id)
            if (session.model, session.provider) == (model, provider):
                return
            change = {
                "at": now_timestamp(),
                "from": {"model": session.model, "provider": session.provider},
                "to": {"model": model, "provider": provider},
            }
            changes = session.metadata.get("modelChanges")
            session.metadata["modelChanges"] = [*(changes if isinstance(changes, list) else []), change]
            session.model, session.provider = model, provider
            self._touch(session)
            self._changed(session_id)

    def save_session(self, session_id: str) -> None:
        """Write the session now (what auto-save does after every change); retries a failed save."""
        with self._mutex:
            session = self._cache.get(validate_session_id(session_id))
            if session is None:
                raise SessionNotFound(f"session {session_id} is not being recorded here")
            self.store.write(session)
            self._unsaved.discard(session_id)

    def has_unsaved_changes(self, session_id: str) -> bool:
        """True when a change is only in memory (auto-save off, or the last save failed)."""
        return session_id in self._unsaved

    def get_session(self, session_id: str) -> Session | None:
        """The session (a copy, from memory if it is being recorded, else from disk), or None."""
        with self._mutex:
            cached = self._cache.get(validate_session_id(session_id))
            if cached is not None:
                return _copy_session(cached)
        try:
            return self.store.read(session_id)
        except SessionNotFound:
            return None

    def list_sessions(self) -> list[SessionSummary]:
        """Summaries of the saved sessions, newest activity first (broken files left out)."""
        return self.store.list().sessions

    def delete_session(self, session_id: str) -> None:
        """Delete one session; refused while another process records into it."""
        with self._mutex:
            validate_session_id(session_id)
            lock = self._locks.pop(session_id, None) or self.store.lock(session_id)
            lock.acquire()
            try:
                self.store.delete(session_id)
            finally:
                lock.release()
                self._cache.pop(session_id, None)
                self._unsaved.discard(session_id)

    def sessions_beyond(self, keep: int) -> list[SessionSummary]:
        """The sessions that keeping only the ``keep`` newest would delete, oldest first (pinned ones
        are never among them)."""
        return self.prune_plan(keep=keep)[0]

    def prune_plan(
        self, *, keep: int | None = None, inactive_before: datetime | None = None
    ) -> tuple[list[SessionSummary], list[SessionSummary]]:
        """What a prune would delete and which pinned sessions it keeps, oldest first: the sessions
        beyond the ``keep`` newest, or last active before ``inactive_before``, or (both given) both."""
        if keep is not None and keep < 0:
            raise UsageError(f"--keep must be 0 or more, not {keep}")
        if keep is None and inactive_before is None:
            raise UsageError("say what to prune: --keep N, --older-than AGE, or both")
        sessions = self.store.list().sessions
        chosen = sessions[keep:] if keep is not None else sessions
        if inactive_before is not None:
            chosen = [s for s in chosen if s.last_activity_at < inactive_before]
        doomed: list[SessionSummary] = []
        pinned: list[SessionSummary] = []
        for summary in reversed(chosen):
            try:
                keep_it = self.store.read(summary.session_id).metadata.get("pinned") is True
            except (CorruptSession, SessionNotFound):
                continue  # changed or gone since the listing: left alone
            (pinned if keep_it else doomed).append(summary)
        return doomed, pinned

    def delete_oldest_sessions(self, *, keep: int) -> list[str]:
        """Delete the oldest sessions beyond ``keep``; ones another process is recording are kept."""
        return self.delete_sessions([summary.session_id for summary in self.sessions_beyond(keep)])

    def delete_sessions(self, session_ids: list[str]) -> list[str]:
        """Delete these sessions, skipping any another process is recording into; returns the deleted."""
        deleted = []
        for session_id in session_ids:
            if session_id in self._locks:
                continue
            try:
                self.delete_session(session_id)
            except (SessionLocked, SessionNotFound):
                continue
            deleted.append(session_id)
        return deleted

    def set_pinned(self, session_id: str, pinned: bool) -> None:
        """Mark a session as kept by every prune (``metadata.pinned``), or no longer."""
        self.update_metadata(session_id, {"pinned": pinned})
        self.close_session(session_id)

    def close_session(self, session_id: str) -> None:
        """Save what is unsaved, stop caching the session and release its lock."""
        with self._mutex:
            try:
                if session_id in self._unsaved:
                    self.save_session(session_id)
            finally:
                lock = self._locks.pop(session_id, None)
                if lock is not None:
                    lock.release()
                if session_id not in self._unsaved:
                    self._cache.pop(session_id, None)

    def close(self) -> None:
        """Close every session this service records into."""
        with self._mutex:
            for session_id in list(self._locks):
                self.close_session(session_id)

    def __enter__(self) -> ChatRecordingService:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _prepare_directory(self) -> None:
        self.store.ensure_directory()
        if not self._cleaned:
            self.store.clean_temp_files()
            self._cleaned = True

    def _claim(self, session_id: str) -> SessionLock:
        lock = self.store.lock(session_id)
        lock.acquire()
        if self.store.exists(session_id):
            lock.release()
            raise UsageError(f"a session with id {session_id} already exists")
        return lock

    def _claim_new_id(self) -> tuple[str, SessionLock]:
        base = f"session-{int(time.time() * 1000)}" + (f"-{self.device}" if self.device else "")
        for attempt in range(1, 10_000):
            candidate = base if attempt == 1 else f"{base}-{attempt}"
            if candidate in self._cache:
                continue
            lock = self.store.lock(candidate)
            try:
                lock.acquire()
            except SessionLocked:
                continue
            if self.store.exists(candidate):
                lock.release()
                continue
            return candidate, lock
        raise UsageError(f"could not find a free session id after {base}")

    def _recording(self, session_id: str) -> Session:
        """The cached session, loading and locking it first when it was recorded earlier."""
        validate_session_id(session_id)
        session = self._cache.get(session_id)
        if session is not None:
            return session
        lock = self.store.lock(session_id)
        if not self.store.exists(session_id):
            raise SessionNotFound(f"no session with id {session_id!r} in {self.data_dir}")
        lock.acquire()
        try:
            session = self.store.read(session_id)
        except BaseException:
            lock.release()
            raise
        self._locks[session_id] = lock
        self._cache[session_id] = session
        return session

    def _touch(self, session: Session) -> None:
        now = now_timestamp()
        if parse_timestamp(now) < parse_timestamp(session.start_time):
            now = format_timestamp(parse_timestamp(session.start_time))
        session.last_activity = now

    def _changed(self, session_id: str) -> None:
        self._unsaved.add(session_id)
        if self.auto_save:
            self.save_session(session_id)


def _copy_session(session: Session) -> Session:
    return replace(
        session,
        messages=list(session.messages),
        tool_calls=list(session.tool_calls),
        metadata=copy.deepcopy(session.metadata),
        extra=copy.deepcopy(session.extra),
    )
