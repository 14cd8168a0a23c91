"""Index upkeep that commands share: a sync with progress bars, and after sessions were deleted or
rewritten, their old text out of the index now, or in the background."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from ..archive.store import SessionStore
from ..config import load_settings
from ..errors import IndexProblem
from .output import Paths, info, warn

if TYPE_CHECKING:
    from ..index.indexer import Index, SyncReport

FOREGROUND_PURGE_SESSIONS = 1000
"""Up to this many indexed sessions, whoosh's segments are rewritten before the command returns
(seconds); past it the background indexer does it (about 100 s at 10,000 sessions, 2 cores)."""


def purge_from_index(paths: Paths, store: SessionStore, *, budget: float | None = 0.0) -> int:
    """Bring the index up to date with the sessions folder, words only, so what was deleted or
    redacted leaves the index: its vectors and the listing cache at once, its words too on an archive
    of up to ``FOREGROUND_PURGE_SESSIONS`` (else the background indexer rewrites those files next).
    A background worker holding the index is stopped first. ``budget``: seconds for changed sessions
    (deletions are always done whole). Returns how many sessions left the index."""
    from ..index.background import start_worker, stop_worker
    from ..index.indexer import Index

    store.list()  # the listing cache drops deleted sessions and reads rewritten ones again
    index = Index(paths.home, index_dir=paths.index_dir)
    if not index.manifest_path.exists():
        return 0
    stop_worker(index)
    try:
        small = len(index.load_manifest(fresh=True).sessions) <= FOREGROUND_PURGE_SESSIONS
        report = index.sync(budget=None if small else budget, meaning=False, purge=small)
    except IndexProblem as exc:
        warn(f"the index was not updated ({exc}); `ollm index` removes the old text from it")
        return 0
    if report.busy:
        warn(
            "another `ollm index` is updating the index; run `ollm index` when it ends to remove the "
            "old text from it"
        )
        return 0
    if report.complete:
        return report.removed
    if load_settings(paths.home).background_index and start_worker(index):
        if report.purge_pending:
            info("their words leave the index files in the background (`ollm index status`)")
    elif report.purge_pending:
        warn("their words are still in the index files until `ollm index` runs")
    return report.removed


class BarProgress:
    """Rich progress bars on stderr, one a phase, in sessions: words (full-text) and meaning
    (embedding), with counts and ETA."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.progress = Progress(
            TextColumn("{task.description:<10}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self.words = self.progress.add_task("words", total=None, visible=False)
        self.meaning = self.progress.add_task("meaning", total=None, visible=False)

    def planned(self, words: int, meaning: int) -> None:
        for task, extra in ((self.words, words), (self.meaning, meaning)):
            if extra:
                total = self.progress.tasks[task].total or 0
                self.progress.update(task, total=total + extra, visible=True)

    def advanced(self, words: int, meaning: int) -> None:
        if words:
            self.progress.advance(self.words, words)
        if meaning:
            self.progress.advance(self.meaning, meaning)

    def status(self, text: str | None) -> None:
        """Say what the meaning line waits on (None: embedding again)."""
        self.progress.update(self.meaning, description=text or "meaning", visible=True)

    def __enter__(self) -> BarProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.progress.stop()


def run_sync(
    paths: Paths, *, rebuild: bool = False, quiet: bool = False, index: Index | None = None
) -> SyncReport:
    """Sync the index of ``paths``, with a progress bar when stderr is a terminal."""
    from ..index.indexer import Index

    index = index or Index(paths.home, index_dir=paths.index_dir)
    if quiet or not sys.stderr.isatty():
        return index.sync(rebuild=rebuild)
    with BarProgress() as bar:
        return index.sync(rebuild=rebuild, progress=bar)
