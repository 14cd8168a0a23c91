"""The index a chat searches, kept up to date off the turn's path: a sync in a thread when the chat
starts and whenever a session ends, within a search's budget; what the budget leaves goes to the
background indexer. Searches go on over the index as it was until a sync's new manifest lands.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

from ..config import Settings
from ..errors import OllmRecallError
from ..index.background import sync_within
from ..index.indexer import Index
from ..search.searcher import Searcher


class ChatIndex:
    """One home's index as a chat uses it: synced in the background, searched without waiting."""

    def __init__(
        self, home: Path, settings: Settings, index_dir: str | os.PathLike[str] | None = None
    ) -> None:
        self.home = home
        self.settings = settings
        self.index = Index(home, index_dir=index_dir)
        self._searcher: Searcher | None = None
        self._mutex = threading.Lock()
        self._thread: threading.Thread | None = None
        self._again = False
        self._error: OllmRecallError | None = None

    def start_sync(self) -> None:
        """Index what changed (a session the chat just ended, say) in a thread; a sync asked for while
        one runs makes it go round once more."""
        with self._mutex:
            if self._thread is not None and self._thread.is_alive():
                self._again = True
                return
            self._thread = threading.Thread(target=self._sync_in_background, daemon=True)
            self._thread.start()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the background sync; False if it is still running after ``timeout`` seconds."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    def sync(self) -> None:
        """Index what changed within a search's budget, words first (a busy index is left to its
        writer); what is left goes to the background indexer, or waits for the next sync."""
        sync_within(self.index, background=self.settings.background_index, budget=self.settings.search_budget)

    def ready(self, warn: Callable[[str], None]) -> bool:
        """Whether there is an index to search; says once why a background sync failed."""
        if self._error is not None:
            error, self._error = self._error, None
            warn(f"the index could not be brought up to date ({error}); searching it as it is")
        return self.index.manifest_path.exists()  # none yet: the first sync is under way

    def searcher(self) -> Searcher:
        """The chat's searcher, opened on first use; it never reads unindexed files (a turn never
        waits for them)."""
        if self._searcher is None:
            self._searcher = Searcher(self.home, index=self.index)
            self._searcher.read_unindexed = False
        return self._searcher

    def close(self) -> None:
        """Wait for the background sync and close the searcher."""
        if self._thread is not None:
            self._thread.join()
        if self._searcher is not None:
            self._searcher.close()

    def _sync_in_background(self) -> None:
        while True:
            self._again = False
            try:
                self.sync()
                load_for_queries = getattr(self.index.embedder, "load_for_queries", None)
                if load_for_queries is not None:  # off the turn's path: later queries embed faster
                    load_for_queries()
            except OllmRecallError as exc:
                self._error = exc
                return
            except OSError as exc:  # a thread never prints a traceback: said once, like the others
                self._error = OllmRecallError(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "))
                return
            with self._mutex:
                if not self._again:
                    return
