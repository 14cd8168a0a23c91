"""``SessionManager``: which session is current, and when a new one starts.

A chat has one current session and model. A model swap or ``/new`` starts a new session; a context
size chosen before that (``/context N``) is applied once, to the next session only; listeners hear of
every change (the chat loop redraws its status line, the indexer syncs the finished session).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..errors import SessionNotFound, UsageError
from .recording import ChatRecordingService

SessionChangeCallback = Callable[[str, str], None]


class SessionManager:
    """Own the current session id and model on top of a ``ChatRecordingService``."""

    def __init__(
        self,
        recording: ChatRecordingService,
        *,
        model: str | None = None,
        provider: str = "ollama",
    ) -> None:
        self.recording = recording
        self.provider = provider
        self._model = model
        self._session_id: str | None = None
        self._pending_context_size: int | None = None
        self._listeners: list[SessionChangeCallback] = []

    @property
    def current_session_id(self) -> str | None:
        return self._session_id

    @property
    def current_model(self) -> str | None:
        return self._model

    @property
    def pending_context_size(self) -> int | None:
        """The context size the next new session will get, if one was chosen."""
        return self._pending_context_size

    def set_pending_context_size(self, size: int | None) -> None:
        """Choose the context size for the next new session only (None clears it)."""
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
            raise UsageError(f"context size must be a positive whole number, not {size!r}")
        self._pending_context_size = size

    def session_file_path(self) -> Path | None:
        """The current session's file, or None before the first session."""
        if self._session_id is None:
            return None
        return self.recording.session_path(self._session_id)

    def create_new_session(self, model: str | None = None) -> str:
        """End the current session and start another (with ``model``, else the current one)."""
        model = model or self._model
        if not model:
            raise UsageError("no model chosen: pass one (e.g. create_new_session('gemma3:4b'))")
        metadata = {}
        if self._pending_context_size is not None:
            metadata["contextSize"] = self._pending_context_size
        previous = self._session_id
        session_id = self.recording.create_session(model=model, provider=self.provider, metadata=metadata)
        self._pending_context_size = None
        if previous is not None:
            self.recording.close_session(previous)
        self._session_id = session_id
        self._model = model
        self._notify()
        return session_id

    def end_session(self) -> str | None:
        """End the current session without starting another: the next ``ensure_session`` does, so
        no session file exists before its first message. Listeners hear of the ended session.
        Returns its id (None when there was none)."""
        previous = self._session_id
        if previous is None:
            return None
        self.recording.close_session(previous)
        self._session_id = None
        for listener in list(self._listeners):
            listener(previous, self._model or "")
        return previous

    def choose_model(self, model: str) -> None:
        """The model for the next session started; the current session, if any, goes on unchanged
        (end it first to talk to ``model`` from the next message on)."""
        if not model:
            raise UsageError("a model name is needed")
        self._model = model

    def ensure_session(self) -> str:
        """The current session, started now if there is none yet."""
        return self._session_id or self.create_new_session()

    def switch_model(self, model: str) -> str:
        """Swap the model; a different model starts a new session, the same one changes nothing."""
        if model == self._model and self._session_id is not None:
            return self._session_id
        return self.create_new_session(model)

    def resume(self, session_id: str, *, model: str | None = None, provider: str | None = None) -> str:
        """Make an earlier session current again (recording into it takes its lock); with ``model``
        (and ``provider``), go on in it with that model, the change recorded in the session."""
        session = self.recording.get_session(session_id)
        if session is None:
            raise SessionNotFound(f"no session with id {session_id!r} in {self.recording.data_dir}")
        previous = self._session_id
        if previous is not None and previous != session_id:
            self.recording.close_session(previous)
        self._session_id = session_id
        self._model = session.model
        self.provider = session.provider
        if model is not None:
            self.recording.change_model(session_id, model, provider or session.provider)
            self._model, self.provider = model, provider or session.provider
        self._notify()
        return session_id

    def on_session_change(self, callback: SessionChangeCallback) -> Callable[[], None]:
        """Call ``callback(session_id, model)`` on every session change; returns an unsubscribe."""
        self._listeners.append(callback)

        def unsubscribe() -> None:
            if callback in self._listeners:
                self._listeners.remove(callback)

        return unsubscribe

    def _notify(self) -> None:
        assert self._session_id is not None and self._model is not None
        for listener in list(self._listeners):
            listener(self._session_id, self._model)
