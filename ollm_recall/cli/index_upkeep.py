"""After sessions were deleted or rewritten: their old text leaves the index now, or in the background."""

from __future__ import annotations

from ..archive.store import SessionStore
from ..errors import IndexProblem
from .output import Paths, info, warn

FOREGROUND_PURGE_SESSIONS = 1000
"""Up to this many indexed sessions, whoosh's segments are rewritten before the command returns
(seconds); past it the background indexer does it (about 100 s at 10,000 sessions, 2 cores)."""


def purge_from_index(paths: Paths, store: SessionStore, *, budget: float | None = 0.0) -> int:
    """Bring the index up to date with the sessions folder, words only, so what was deleted or
    redacted leaves the index: its vectors and the listing cache at once, its words too on an archive
    of up to ``FOREGROUND_PURGE_SESSIONS`` (else the background indexer rewrites those files next).
    A background worker holding the index is stopped first. ``budget``: seconds for changed sessions
    (deletions are always done whole). Returns how many sessions left the index."""
    from ..config import load_settings
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
        warn("another `ollm index` is updating the index; run `ollm index` when it ends to remove the "
             "old text from it")
        return 0
    if report.complete:
        return report.removed
    if load_settings(paths.home).background_index and start_worker(index):
        if report.purge_pending:
            info("their words leave the index files in the background (`ollm index status`)")
    elif report.purge_pending:
        warn("their words are still in the index files until `ollm index` runs")
    return report.removed
