"""``Chat``: one conversation with a model server, recorded as it happens and helped by recall.

Each turn: the user's words are saved before anything is sent; relevant past sessions are searched
(the current one excluded) and put, within a token budget, into a system message the session file never
holds (only their ids, in ``metadata.recalledSessions``); the reply is saved while it streams (at
least every second, marked ``interrupted`` until it is complete), so a Ctrl-C, a dropped connection or
a crash keeps what had arrived. The index (created on a new home) is brought up to date, within a
search's budget, in a thread when the chat starts and whenever a session ends, and once more when the
chat closes; what the budget leaves goes to the background indexer. So what one chat recorded is
recalled by the next without a manual ``ollm index``, and no turn waits for indexing.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .chatclient import ChatClient, ReplyStream, Usage
from .config import Settings
from .errors import ChatError, OllmRecallError, SessionWriteError, UsageError
from .home import sessions_dir
from .indexer import Index
from .manager import SessionManager
from .model import Message
from .recall_context import Recall, estimate_tokens, message_tokens, recall_for
from .recording import ChatRecordingService
from .redaction import redactor_for, summarize
from .search import Hit, Searcher

SAVE_EVERY_SECONDS = 1.0
REPLY_RESERVE_SHARE = 0.25
REPLY_RESERVE_MAX = 2048

Warn = Callable[[str], None]


@dataclass
class Turn:
    """One exchange: the reply as received, what was recalled for it, the server's token counts."""

    reply: str
    recall: Recall | None = None
    usage: Usage = field(default_factory=Usage)
    interrupted: bool = False


class Chat:
    """A chat with one model server, recorded into ``<home>/sessions`` and helped by the archive."""

    def __init__(
        self,
        home: str | os.PathLike[str],
        settings: Settings,
        *,
        index_dir: str | os.PathLike[str] | None = None,
        client: ChatClient | None = None,
        warn: Warn | None = None,
    ) -> None:
        self.home = Path(home)
        self.settings = settings
        self.client = client or ChatClient(
            settings.provider,
            settings.base_url,
            api_key=os.environ.get(settings.api_key_env) if settings.provider == "openai" else None,
            read_timeout=settings.timeout,
        )
        self.recording = ChatRecordingService(sessions_dir(self.home), redactor=redactor_for(settings))
        self.manager = SessionManager(self.recording, model=settings.model, provider=settings.provider)
        self.index = Index(self.home, index_dir=index_dir)
        self.recall_enabled = bool(settings.recall)
        self._warn = warn or (lambda message: None)
        self._searcher: Searcher | None = None
        self._recall_broken = False
        self._save_failing = False
        self._sync_mutex = threading.Lock()
        self._sync_thread: threading.Thread | None = None
        self._sync_again = False
        self._sync_error: OllmRecallError | None = None
        self.manager.on_session_change(self._session_changed)
        self._start_background_sync()

    @property
    def session_id(self) -> str | None:
        return self.manager.current_session_id

    @property
    def model(self) -> str | None:
        return self.manager.current_model

    def context_size(self) -> int:
        """The current session's context window: its own ``contextSize``, else the setting."""
        session_id = self.manager.current_session_id
        if session_id is not None:
            session = self.recording.get_session(session_id)
            size = session.metadata.get("contextSize") if session is not None else None
            if isinstance(size, int) and not isinstance(size, bool) and size > 0:
                return size
            return int(self.settings.context_size)
        return self.manager.pending_context_size or int(self.settings.context_size)

    def send(
        self,
        text: str,
        *,
        on_recall: Callable[[Recall], None] | None = None,
        on_piece: Callable[[str], None] | None = None,
        stream: bool = True,
    ) -> Turn:
        """Record ``text``, recall what bears on it, stream the model's reply and record it.

        Raises ``ChatError`` if the server fails (the user's message stays recorded, and so does any
        part of the reply that arrived) and ``KeyboardInterrupt`` after saving a partial reply.
        """
        if not text.strip():
            raise UsageError("an empty message is not sent")
        if not self.manager.current_model:
            raise UsageError("no model chosen: pass --model NAME or set model in config.toml")
        session_id = self.manager.ensure_session()
        message = Message.text("user", text)
        self._record(session_id, message, replace=False)
        self._say_redacted(message, "your message was saved with {} redacted; the model sees it as typed")
        context_size = self.context_size()
        history = self._history(session_id)
        recall = self._recall(text, session_id, context_size, history[-1])
        if recall is not None:
            self._remember_recall(session_id, recall)
            if on_recall is not None:
                on_recall(recall)
        messages = _fit(history, recall, context_size)
        reply = self.client.chat(
            self.manager.current_model, messages, context_size=context_size, stream=stream
        )
        return self._receive(session_id, reply, recall, on_piece)

    def preview_recall(self, query: str, limit: int = 5) -> list[Hit]:
        """What the archive holds for ``query`` (``/recall``), the current session left out."""
        exclude = frozenset([self.session_id]) if self.session_id else frozenset()
        return self._get_searcher().search(query, limit=limit, exclude=exclude)

    def new_session(self) -> None:
        """End the current session; the next message starts a new one (``/new``), so an empty
        session file never exists."""
        self.manager.end_session()

    def switch_model(self, model: str) -> bool:
        """Talk to another model from the next message on (``/model``): a different model ends the
        current session and the next message starts one with it. True when the model changed."""
        model = model.strip()
        if not model:
            raise UsageError("/model needs a model name, e.g. /model llama3.2")
        if model == self.model:
            return False
        self.manager.end_session()
        self.manager.choose_model(model)
        return True

    def set_context_size(self, size: int) -> None:
        """Context size for the next new session only (``/context N``)."""
        self.manager.set_pending_context_size(size)

    def resume(self, session_id: str) -> str:
        """Go on with an earlier session (``/resume ID`` or ``--resume``)."""
        return self.manager.resume(session_id)

    def wait_for_index(self, timeout: float | None = None) -> bool:
        """Wait for the background index sync (started when a session ends) to finish; False if it is
        still running after ``timeout`` seconds. For scripts and measurements: turns never wait."""
        thread = self._sync_thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    def close(self) -> None:
        """Release the session and index what this chat recorded, so the next recall finds it."""
        recorded = self.session_id is not None
        self.recording.close()
        if self._sync_thread is not None:
            self._sync_thread.join()
        if recorded and self.recall_enabled and not self._recall_broken:
            try:
                self._sync()
            except OllmRecallError as exc:
                self._warn(f"the index was not brought up to date ({exc}); `ollm index` will do it")
        if self._searcher is not None:
            self._searcher.close()
        self.client.close()

    def _session_changed(self, _session_id: str, _model: str) -> None:
        self._start_background_sync()

    def _start_background_sync(self) -> None:
        """Index what changed (a session this chat just ended, say) off the turn's path; searches go on
        over the index as it was until the sync's new manifest lands."""
        if not self.recall_enabled or self._recall_broken:
            return
        with self._sync_mutex:
            if self._sync_thread is not None and self._sync_thread.is_alive():
                self._sync_again = True
                return
            self._sync_thread = threading.Thread(target=self._sync_in_background, daemon=True)
            self._sync_thread.start()

    def _sync_in_background(self) -> None:
        while True:
            self._sync_again = False
            try:
                self._sync()
                load_for_queries = getattr(self.index.embedder, "load_for_queries", None)
                if load_for_queries is not None:  # off the turn's path: later queries embed faster
                    load_for_queries()
            except OllmRecallError as exc:
                self._sync_error = exc
                return
            with self._sync_mutex:
                if not self._sync_again:
                    return

    def _record(self, session_id: str, message: Message, *, replace: bool) -> None:
        if replace:
            self._save(self.recording.replace_last_message, session_id, message)
        else:
            self._save(self.recording.record_message, session_id, message)

    def _say_redacted(self, message: Message, template: str) -> None:
        """One line when what was saved of ``message`` had secrets replaced (never the secrets)."""
        redactor = self.recording.store.redactor
        if redactor is None:
            return
        kinds = redactor.redact_message(message)[1]  # remembered from the save: no second scan
        if kinds:
            self._warn(template.format(summarize(kinds)))

    def _save(self, change: Callable[..., None], *args: object) -> None:
        """Apply a recording change; a failed save warns once (until saving works again) and the chat
        goes on: the change stays in memory and the next save writes it."""
        try:
            change(*args)
        except SessionWriteError as exc:
            if not self._save_failing:
                self._warn(f"{exc} (kept in memory; the next save retries)")
            self._save_failing = True
            return
        if self._save_failing:
            self._save_failing = False
            self._warn("saving works again: everything recorded so far is on disk")

    def _history(self, session_id: str) -> list[dict[str, str]]:
        session = self.recording.get_session(session_id)
        assert session is not None
        return [
            {"role": m.role, "content": m.content} for m in session.messages if not m.exclude_from_context
        ]

    def _recall(self, text: str, session_id: str, context_size: int, last: dict[str, str]) -> Recall | None:
        if not self.recall_enabled or self._recall_broken:
            return None
        budget = min(
            int(context_size * self.settings.recall_budget),
            context_size - _reply_reserve(context_size) - message_tokens(last),
        )
        if budget < 64:
            return None
        try:
            if not self._index_ready():
                return None
            return recall_for(
                self._get_searcher(),
                text,
                budget_tokens=budget,
                threshold=self.settings.recall_threshold,
                most=self.settings.recall_sessions,
                exclude=frozenset([session_id]),
            )
        except OllmRecallError as exc:
            self._recall_broken = True
            self._warn(f"recall is off for this chat: {exc}")
            return None

    def _index_ready(self) -> bool:
        """Whether there is an index to search; says once why recall is off when there is none."""
        if self._sync_error is not None:
            error, self._sync_error = self._sync_error, None
            self._warn(f"the index could not be brought up to date ({error}); searching it as it is")
        return self.index.manifest_path.exists()  # none yet: the first sync is under way

    def _sync(self) -> None:
        """Index what changed within a search's budget, words first (a busy index is left to its
        writer); what is left goes to the background indexer, or waits for the next sync."""
        from .background import sync_within

        sync_within(self.index, background=self.settings.background_index, budget=self.settings.search_budget)

    def _get_searcher(self) -> Searcher:
        if self._searcher is None:
            self._searcher = Searcher(self.home, index=self.index)
        return self._searcher

    def _remember_recall(self, session_id: str, recall: Recall) -> None:
        session = self.recording.get_session(session_id)
        before = session.metadata.get("recalledSessions") if session is not None else None
        known = list(before) if isinstance(before, list) else []
        added = [s.session_id for s in recall.sessions if s.session_id not in known]
        if added:
            self._save(self.recording.update_metadata, session_id, {"recalledSessions": known + added})

    def _receive(
        self,
        session_id: str,
        reply: ReplyStream,
        recall: Recall | None,
        on_piece: Callable[[str], None] | None,
    ) -> Turn:
        started = None
        saved_at = 0.0
        timestamp = None
        try:
            for piece in reply:
                if on_piece is not None:
                    on_piece(piece)
                now = time.monotonic()
                if started is None or now - saved_at >= SAVE_EVERY_SECONDS:
                    partial = Message.text("assistant", reply.text, timestamp=timestamp, interrupted=True)
                    timestamp = partial.timestamp
                    self._record(session_id, partial, replace=started is not None)
                    started, saved_at = True, now
        except (KeyboardInterrupt, ChatError):
            reply.close()
            if reply.text:
                message = Message.text("assistant", reply.text, timestamp=timestamp, interrupted=True)
                self._record(session_id, message, replace=started is not None)
            raise
        final = Message.text("assistant", reply.text, timestamp=timestamp)
        self._record(session_id, final, replace=started is not None)
        self._say_redacted(final, "the reply was saved with {} redacted")
        if reply.usage.total:
            session = self.recording.get_session(session_id)
            count = session.metadata.get("tokenCount", 0) if session is not None else 0
            count = count if isinstance(count, int) else 0
            self._save(self.recording.update_metadata, session_id, {"tokenCount": count + reply.usage.total})
        return Turn(reply.text, recall, reply.usage)


def _reply_reserve(context_size: int) -> int:
    """Tokens kept free for the model's answer."""
    return min(REPLY_RESERVE_MAX, int(context_size * REPLY_RESERVE_SHARE))


def _fit(history: list[dict[str, str]], recall: Recall | None, context_size: int) -> list[dict[str, str]]:
    """The messages to send: the recall block just before the newest message, and as much of the
    conversation as fits beside it and the reply's reserve (oldest turns dropped first)."""
    room = context_size - _reply_reserve(context_size) - (recall.tokens if recall else 0)
    kept: list[dict[str, str]] = []
    for message in reversed(history):
        cost = message_tokens(message)
        if kept and cost > room:
            break
        kept.append(message)
        room -= cost
    kept.reverse()
    if recall is not None:
        kept.insert(len(kept) - 1, {"role": "system", "content": recall.system_message})
    return kept


__all__ = ["Chat", "Turn", "estimate_tokens"]
