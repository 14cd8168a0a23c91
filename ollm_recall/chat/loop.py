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
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..archive.manager import SessionManager
from ..archive.recording import ChatRecordingService
from ..archive.redaction import redactor_for, summarize
from ..archive.session import Message, ToolCall
from ..config import Settings
from ..errors import ChatError, OllmRecallError, SessionWriteError, ToolsUnsupported, UsageError
from ..home import device_tag, locks_dir, sessions_dir
from ..search.results import Hit
from ..search.searcher import RELEVANCE_FLOOR
from .chat_index import ChatIndex
from .client import ChatClient, ReplyStream, Usage
from .recall import (
    TOOL_HEADER,
    Recall,
    estimate_tokens,
    fit_to_context,
    message_tokens,
    recall_for,
    reply_reserve,
)
from .tools import RECALL_TOOL, RECALL_TOOL_NAME, RequestedCall, assistant_turn, tool_result

SAVE_EVERY_SECONDS = 1.0
MAX_TOOL_ROUNDS = 3
"""Tool calls the model may make for one message; the round after the last is sent without tools."""
OLLAMA_DEFAULT_CONTEXT = 4096
"""The context window Ollama gives a model whose Modelfile sets none (unless its server is started
with another ``OLLAMA_CONTEXT_LENGTH``, which no API tells: the budget then stays on the safe side)."""

Warn = Callable[[str], None]


@dataclass(frozen=True)
class ToolUse:
    """One call of the recall tool by the model: what it asked for and what it got."""

    query: str
    recall: Recall | None
    note: str

    def summary(self) -> str:
        """One line for the user: ``recall tool: "nginx 502" -> recalled 1 session: ...``."""
        return f'recall tool: "{self.query}" -> {self.recall.summary() if self.recall else self.note}'


@dataclass
class Reply:
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
        self.recording = ChatRecordingService(
            sessions_dir(self.home),
            redactor=redactor_for(settings),
            locks_dir=locks_dir(self.home),
            device=device_tag(self.home),
        )
        self.manager = SessionManager(self.recording, model=settings.model, provider=settings.provider)
        self.chat_index = ChatIndex(self.home, settings, index_dir)
        self.index = self.chat_index.index
        self.recall_enabled = bool(settings.recall)
        self._warn = warn or (lambda message: None)
        self._recall_broken = False
        self._tools_refused: set[str] = set()
        """Models that refused the recall tool in this chat: they get automatic recall only."""
        self._save_failing = False
        self._checked_models: set[str] = set()
        self._server_contexts: dict[str, int] = {}
        self.manager.on_session_change(self._session_changed)
        self._start_background_sync()

    @property
    def session_id(self) -> str | None:
        return self.manager.current_session_id

    @property
    def model(self) -> str | None:
        return self.manager.current_model

    def context_size(self) -> int:
        """The current session's context window: its own ``contextSize``, the one chosen (``/context``,
        ``--context-size``, config), else what the server says of the model (``server_context_size``)."""
        chosen = self.chosen_context_size()
        return chosen if chosen is not None else self.server_context_size()

    def chosen_context_size(self) -> int | None:
        """The context window the user chose for this session, or None: then the server's own
        stands, and none is sent with the request (a larger one set in Ollama is never cut)."""
        session_id = self.manager.current_session_id
        if session_id is not None:
            session = self.recording.get_session(session_id)
            size = session.metadata.get("contextSize") if session is not None else None
            if isinstance(size, int) and not isinstance(size, bool) and size > 0:
                return size
        elif self.manager.pending_context_size:
            return self.manager.pending_context_size
        if self.settings.source("context_size") != "default":
            return int(self.settings.context_size)
        return None

    def server_context_size(self) -> int:
        """The model's context window as the server runs it: Ollama's Modelfile ``num_ctx``, else
        Ollama's own default (``OLLAMA_DEFAULT_CONTEXT``), never more than the model was trained for;
        the ``context_size`` default where the server does not say (once per model and chat)."""
        model = self.manager.current_model
        fallback = int(self.settings.context_size)
        if not model or self.client.provider != "ollama":
            return fallback
        if model not in self._server_contexts:
            try:
                context = self.client.model_context(model)
            except ChatError:
                return fallback
            size = context.configured or OLLAMA_DEFAULT_CONTEXT
            self._server_contexts[model] = min(size, context.trained) if context.trained else size
        return self._server_contexts[model]

    def send(
        self,
        text: str,
        *,
        on_recall: Callable[[Recall], None] | None = None,
        on_piece: Callable[[str], None] | None = None,
        on_tool: Callable[[ToolUse], None] | None = None,
        stream: bool = True,
    ) -> Reply:
        """Record ``text``, recall what bears on it, stream the model's reply and record it.

        Raises ``ChatError`` if the server fails (the user's message stays recorded, and so does any
        part of the reply that arrived) and ``KeyboardInterrupt`` after saving a partial reply.
        """
        if not text.strip():
            raise UsageError("an empty message is not sent")
        if not self.manager.current_model:
            raise UsageError("no model chosen: pass --model NAME or set model in config.toml")
        if self.manager.current_session_id is None:  # a first message would start a session
            self._check_model(self.manager.current_model)
        session_id = self.manager.ensure_session()
        message = Message.text("user", text)
        self._record(session_id, message, replace=False)
        self._say_redacted(message, "your message was saved with {} redacted; the model sees it as typed")
        context_size = self.context_size()
        sent_size = self.chosen_context_size()  # None: the server's own window stands
        history = self._history(session_id)
        recall = self._recall(text, session_id, context_size, history[-1])
        if recall is not None:
            self._remember_recall(session_id, recall)
            if on_recall is not None:
                on_recall(recall)
        messages: list[dict[str, Any]] = list(fit_to_context(history, recall, context_size))
        tool_budget = [self._recall_budget(context_size, history[-1]) - (recall.tokens if recall else 0)]
        shown = {session_id} | {s.session_id for s in recall.sessions} if recall else {session_id}
        model = self.manager.current_model

        def ask(rounds: int) -> ReplyStream:
            offer = rounds < MAX_TOOL_ROUNDS and self._tool_offered(model)
            try:
                return self.client.chat(
                    model,
                    messages,
                    context_size=sent_size,
                    stream=stream,
                    tools=[RECALL_TOOL] if offer else None,
                )
            except ToolsUnsupported:
                self._tools_refused.add(model)
                self._warn(
                    f"{model} takes no tools here: automatic recall only (recall_tool = false "
                    "in config.toml stops offering it)"
                )
                return self.client.chat(model, messages, context_size=sent_size, stream=stream)

        def answer_calls(reply: ReplyStream, rounds: int) -> ReplyStream:
            messages.append(assistant_turn(self.client.provider, reply.text, reply.tool_calls))
            for call in reply.tool_calls:
                content, use = self._run_tool(session_id, call, tool_budget, shown)
                messages.append(tool_result(self.client.provider, call, content))
                if use is not None and on_tool is not None:
                    on_tool(use)
            return ask(rounds)

        return self._receive(session_id, ask(0), recall, on_piece, answer_calls)

    def preview_recall(self, query: str, limit: int = 5) -> list[Hit]:
        """What the archive holds for ``query`` (``/recall``), the current session left out."""
        exclude = frozenset([self.session_id]) if self.session_id else frozenset()
        return self.chat_index.searcher().search(query, limit=limit, exclude=exclude)

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

    def resume(self, session_id: str, model: str | None = None) -> str:
        """Go on with an earlier session (``/resume ID`` or ``--resume``); with ``model``, talking to
        that model of this chat's server from now on (the change is recorded in the session). A
        unique prefix of the id will do."""
        session_id = self.recording.store.resolve(session_id)
        if model is None:
            return self.manager.resume(session_id)
        self._check_model(model)
        return self.manager.resume(session_id, model=model, provider=self.client.provider)

    def wait_for_index(self, timeout: float | None = None) -> bool:
        """Wait for the background index sync (started when a session ends) to finish; False if it is
        still running after ``timeout`` seconds. For scripts and measurements: turns never wait."""
        return self.chat_index.wait(timeout)

    def close(self) -> None:
        """Release the session and index what this chat recorded, so the next recall finds it."""
        recorded = self.session_id is not None
        self.recording.close()
        self.chat_index.wait()
        if recorded and self.recall_enabled and not self._recall_broken:
            try:
                self.chat_index.sync()
            except OllmRecallError as exc:
                self._warn(f"the index was not brought up to date ({exc}); `ollm index` will do it")
        self.chat_index.close()
        self.client.close()

    def _session_changed(self, _session_id: str, _model: str) -> None:
        self._start_background_sync()

    def _start_background_sync(self) -> None:
        if self.recall_enabled and not self._recall_broken:
            self.chat_index.start_sync()

    def _check_model(self, model: str) -> None:
        """``ModelNotFound``, ``ServerUnreachable`` or ``ServerError`` before a new session is started
        for a model the server does not have, or a server that cannot be reached at that URL, so a
        chat that cannot start leaves no session behind; once per model and chat."""
        if model not in self._checked_models:
            self.client.require_model(model)
            self._checked_models.add(model)

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

    def _recall_budget(self, context_size: int, last: dict[str, str]) -> int:
        """Tokens recalled excerpts may take for one message, automatic recall and tool calls together."""
        return min(
            int(context_size * self.settings.recall_budget),
            context_size - reply_reserve(context_size) - message_tokens(last),
        )

    def _tool_offered(self, model: str | None) -> bool:
        return (
            bool(self.settings.recall_tool)
            and self.recall_enabled
            and not self._recall_broken
            and model not in self._tools_refused
            and self.index.manifest_path.exists()
        )

    def _run_tool(
        self, session_id: str, call: RequestedCall, budget: list[int], shown: set[str]
    ) -> tuple[str, ToolUse | None]:
        """Answer one tool call: run recall within what is left of the message's recall budget
        (``budget[0]``, lowered by what this result takes), leaving out the sessions already in the
        conversation (``shown``, which grows), record the call in the session, and return the result
        for the model and what to tell the user. The model asked, so the bar is ``ollm recall``'s
        relevance floor, not the stricter threshold of recall nobody asked for."""
        query = call.arguments.get("query")
        recall = None
        if call.name != RECALL_TOOL_NAME:
            content = note = f"there is no tool {call.name!r}; the only one is {RECALL_TOOL_NAME}"
        elif not isinstance(query, str) or not query.strip():
            content = note = "recall needs a query: what to look for, in plain words"
        elif budget[0] < 64:
            content = note = "the recall budget for this message is spent; answer with what you have"
        else:
            try:
                recall = recall_for(
                    self.chat_index.searcher(),
                    query,
                    budget_tokens=budget[0],
                    exclude=frozenset(shown),
                    threshold=RELEVANCE_FLOOR,
                    most=self.settings.recall_sessions,
                    header=TOOL_HEADER,
                )
            except OllmRecallError as exc:
                content = note = f"the archive could not be searched: {exc}"
            else:
                content = (
                    recall.system_message
                    if recall
                    else (
                        "No other earlier session is relevant to that"
                        + (" beyond those already in the conversation." if len(shown) > 1 else ".")
                    )
                )
                note = "nothing more relevant"
                if recall is not None:
                    budget[0] -= recall.tokens
                    shown.update(s.session_id for s in recall.sessions)
        display = recall.summary() if recall else note
        self._save(
            self.recording.record_tool_call,
            session_id,
            ToolCall(
                id=call.id,
                name=call.name,
                args=dict(call.arguments),
                result={"llmContent": content, "returnDisplay": display},
            ),
        )
        return content, ToolUse(str(query or ""), recall, note) if call.name == RECALL_TOOL_NAME else None

    def _recall(self, text: str, session_id: str, context_size: int, last: dict[str, str]) -> Recall | None:
        if not self.recall_enabled or self._recall_broken:
            return None
        budget = self._recall_budget(context_size, last)
        if budget < 64:
            return None
        try:
            if not self.chat_index.ready(self._warn):
                return None
            return recall_for(
                self.chat_index.searcher(),
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
        answer_calls: Callable[[ReplyStream, int], ReplyStream] | None = None,
    ) -> Reply:
        """Stream the reply into the session (saved as it grows); when the model calls tools, answer
        them and stream the reply that follows into the same message."""
        started = None
        saved_at = 0.0
        timestamp = None
        before = ""  # what the model said in earlier rounds of this reply
        usage = Usage()
        rounds = 0
        try:
            while True:
                for piece in reply:
                    if on_piece is not None:
                        on_piece(piece)
                    now = time.monotonic()
                    if (started is None or now - saved_at >= SAVE_EVERY_SECONDS) and (before + reply.text):
                        partial = Message.text(
                            "assistant", before + reply.text, timestamp=timestamp, interrupted=True
                        )
                        timestamp = partial.timestamp
                        self._record(session_id, partial, replace=started is not None)
                        started, saved_at = True, now
                usage = usage.plus(reply.usage)
                if not reply.tool_calls or answer_calls is None:
                    break
                before += reply.text
                rounds += 1
                reply = answer_calls(reply, rounds)
        except (KeyboardInterrupt, ChatError):
            reply.close()
            if before + reply.text:
                message = Message.text(
                    "assistant", before + reply.text, timestamp=timestamp, interrupted=True
                )
                self._record(session_id, message, replace=started is not None)
            raise
        text = before + reply.text
        final = Message.text("assistant", text, timestamp=timestamp)
        if usage.to_json():  # what the server reported, for `ollm stats`
            final = replace(final, extra={"usage": usage.to_json()})
        self._record(session_id, final, replace=started is not None)
        self._say_redacted(final, "the reply was saved with {} redacted")
        if usage.total:
            session = self.recording.get_session(session_id)
            count = session.metadata.get("tokenCount", 0) if session is not None else 0
            count = count if isinstance(count, int) else 0
            self._save(self.recording.update_metadata, session_id, {"tokenCount": count + usage.total})
        return Reply(text, recall, usage)


__all__ = ["Chat", "ToolUse", "Reply", "estimate_tokens"]
