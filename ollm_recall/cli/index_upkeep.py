"""After sessions were deleted or rewritten: their old text leaves the index at once, not later."""

from __future__ import annotations

from ..errors import IndexProblem
from ..store import SessionStore
from .output import Paths, warn


def purge_from_index(paths: Paths, store: SessionStore, *, budget: float | None = 0.0) -> int:
    """Bring the index up to date with the sessions folder, words only, so what was deleted or
    redacted leaves the full-text index (segments rewritten, not just masked), the vector files and
    the listing cache now. A background worker holding the index is stopped first and started again
    for what is left. ``budget``: seconds for changed sessions (deletions are always done whole).
    Returns how many sessions left the index."""
    from ..background import start_worker, stop_worker
    from ..config import load_settings
    from ..indexer import Index

    store.list()  # the listing cache drops deleted sessions and reads rewritten ones again
    index = Index(paths.home, index_dir=paths.index_dir)
    if not index.manifest_path.exists():
        return 0
    stop_worker(index)
    try:
        report = index.sync(budget=budget, meaning=False)
    except IndexProblem as exc:
        warn(f"the index was not updated ({exc}); `ollm index` drops the old text from it")
        return 0
    if report.busy:
        warn("another `ollm index` is updating the index; run `ollm index` when it ends to drop the old "
             "text from it")
        return 0
    if (report.pending_words or report.pending_meaning) and load_settings(paths.home).background_index:
        start_worker(index)
    return report.removed
