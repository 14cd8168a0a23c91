"""The archive as tools an agent can call: search it, read a session, list sessions.

One ``ArchiveTools`` serves many calls (the MCP server, the chat's recall tool): the index stays open
and the model loaded between them. It reads the archive only, and never waits for indexing: when the
sessions folder changed since the last call, the background indexer is started and the search
answers from what is indexed, saying what it could not see yet.
"""

from __future__ import annotations

import os
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

from .._time import parse_date, parse_range
from ..archive.listing import select_sessions
from ..archive.session import Session
from ..archive.store import store_for_home
from ..errors import UsageError
from ..index.background import IndexedShare, indexed_share, start_worker
from ..index.indexer import Index
from ..search.results import Hit, check_options
from ..search.searcher import Searcher
from ..transfer.markdown import to_markdown

MAX_RECALL_LIMIT = 50
SERVER_EXACT_ROWS = 50_000
"""A long-lived server scores every vector row only up to this many (about 1,500 sessions); past it, by
sign bits first, so the float rows (460 MB at 10,000 sessions) never stay resident in it."""
SESSION_CHARS = 24_000
"""The most of a session ``get_session`` returns (about 6,000 tokens), whole messages only."""


def hit_json(hit: Hit) -> dict[str, Any]:
    """A hit as ``ollm recall --json`` prints it and the tools return it."""
    return {
        "sessionId": hit.session_id,
        "score": hit.score,
        "title": hit.title,
        "startTime": hit.start_time,
        "model": hit.model,
        "provider": hit.provider,
        "snippets": [
            {
                "messageIndex": s.message_index,
                "role": s.role,
                "timestamp": s.timestamp,
                "text": s.text,
                "highlights": [list(span) for span in s.highlights],
            }
            for s in hit.snippets
        ],
    }


class ArchiveTools:
    """Search, read and list one archive, read-only, with the index kept open between calls."""

    def __init__(
        self,
        home: str | os.PathLike[str],
        *,
        index_dir: str | os.PathLike[str] | None = None,
        background: bool = True,
    ) -> None:
        self.home = Path(home)
        self.index = Index(self.home, index_dir=index_dir)
        self.store = store_for_home(self.home, Path(index_dir) if index_dir is not None else None)
        self.background = background
        self._searcher = Searcher(self.home, index=self.index)
        self._searcher.exact_rows = SERVER_EXACT_ROWS
        self._folder_stamp: int | None = None
        self._seen: IndexedShare | None = None
        """What the index covered at the last call (read again while it covers less than all)."""
        self._lock = threading.Lock()

    def warm(self) -> None:
        """Open the index and load the model now, so the first search does not pay for it."""
        with self._lock:
            if self.index.manifest_path.exists():
                self._searcher.search("warm up", limit=1, snippets=False)
            load = getattr(self.index.embedder, "load_for_queries", None)
            if load is not None:
                load()

    def recall(
        self,
        query: str,
        *,
        limit: int = 5,
        since: str | None = None,
        until: str | None = None,
        model: str | None = None,
        exclude: frozenset[str] = frozenset(),
    ) -> dict[str, Any]:
        """The sessions that match ``query`` (hybrid, above the relevance floor), best first, with
        snippets; ``note`` says what the search could not see yet, when it could not see everything."""
        if not query.strip():
            raise UsageError("nothing to search for: the query is empty")
        check_options(query=query)
        if not 1 <= limit <= MAX_RECALL_LIMIT:
            raise UsageError(f"limit must be between 1 and {MAX_RECALL_LIMIT}, not {limit}")
        since_at, until_at = parse_range(since, until)
        with self._lock:
            self._keep_current()
            if not self.store.has_sessions():
                return {"hits": [], "note": "no sessions recorded yet"}
            found = self._searcher.find(
                query,
                limit=limit,
                since=since_at,
                until=until_at,
                model=model,
                relevant_only=True,
                exclude=exclude,
                snippets=True,
            )
            note = self._seen.line(read=found.sessions_read) if self._seen is not None else None
        result: dict[str, Any] = {"hits": [hit_json(hit) for hit in found.hits]}
        if note:
            result["note"] = note
        return result

    def get_session(self, session_id: str, *, max_messages: int | None = None) -> str:
        """A session as markdown: its first ``max_messages`` messages, or as many whole messages as
        fit in ``SESSION_CHARS``, with a line at the end saying what was left out. Secrets a save
        before redaction left in the file are redacted (an agent's transcript is on disk too)."""
        if max_messages is not None and max_messages < 1:
            raise UsageError(f"max_messages must be at least 1, not {max_messages}")
        session = self.store.read(self.store.resolve(session_id))  # validated, one-line errors
        session = self._searcher.redacted(session)  # the home's rules, custom patterns too
        total = len(session.messages)
        shown = min(total, max_messages) if max_messages is not None else total
        text = _markdown_of(session, shown)
        while len(text) > SESSION_CHARS and shown > 1:
            shown = min(shown - 1, max(1, shown * SESSION_CHARS // len(text)))
            text = _markdown_of(session, shown)
        if len(text) > SESSION_CHARS:
            text = text[:SESSION_CHARS].rsplit("\n", 1)[0] + "\n"
            return text + f"\n[cut: the first message alone is longer than {SESSION_CHARS:,} characters]\n"
        if shown < total:
            why = (
                "as asked"
                if max_messages is not None and shown == max_messages
                else f"the rest did not fit in {SESSION_CHARS:,} characters"
            )
            text += f"\n[cut: showing the first {shown} of {total} messages, {why}]\n"
        return text

    def list_sessions(
        self, *, limit: int = 20, since: str | None = None, model: str | None = None
    ) -> list[dict[str, Any]]:
        """The newest sessions (by last activity), optionally of a model or family and since a date."""
        if not 1 <= limit <= 500:
            raise UsageError(f"limit must be between 1 and 500, not {limit}")

        since_at = parse_date(since) if since else None
        chosen = select_sessions(self.store.list().sessions, model=model, since=since_at, limit=limit)
        return [
            {
                "sessionId": s.session_id,
                "startTime": s.start_time,
                "lastActivity": s.last_activity,
                "model": s.model,
                "provider": s.provider,
                "title": self._searcher.redactor.redact_text(s.title).text
                if self._searcher.redactor
                else s.title,
            }
            for s in chosen
        ]

    def close(self) -> None:
        self._searcher.close()

    def _keep_current(self) -> None:
        """When the sessions folder changed since the last call (a rename into it changes its time),
        start the background indexer and note what the index does not cover yet; never wait."""
        try:
            stamp = self.store.directory.stat().st_mtime_ns
        except OSError:
            stamp = None
        if stamp == self._folder_stamp and (self._seen is None or self._seen.complete):
            return
        started = stamp != self._folder_stamp and self.background and start_worker(self.index)
        self._folder_stamp = stamp
        self._seen = indexed_share(self.index, just_started=started)  # what is true now, every call


def _markdown_of(session: Session, messages: int) -> str:
    if messages >= len(session.messages):
        return to_markdown(session)

    cut = replace(session, messages=session.messages[:messages])
    last = cut.messages[-1].timestamp if cut.messages else session.start_time
    cut.tool_calls = [call for call in session.tool_calls if call.timestamp <= last]
    return to_markdown(cut)
