"""What a sync reports and needs: its report, the progress display it feeds, the embedder it calls,
and the deadline a time budget sets, gathered in one ``SyncRun`` that the indexer's two phases share."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


class EmbedderLike(Protocol):
    model_id: str
    dimension: int

    def embed(
        self, texts: list[str], *, progress: Callable[[int], None] | None = None, bulk: bool | None = None
    ): ...

    def embed_query(self, text: str): ...


class SyncProgress(Protocol):
    """What a progress display needs, counted in sessions for each phase (``words``: full-text,
    ``meaning``: embedding), and optionally a ``status(text | None)`` method for a pause that is
    not embedding, such as exporting the model."""

    def planned(self, words: int, meaning: int) -> None: ...

    def advanced(self, words: int, meaning: int) -> None: ...


@dataclass
class SyncReport:
    """What a sync did; ``broken`` holds one ``<file>: <problem>`` line per unreadable file.

    ``pending_words`` / ``pending_meaning`` count the sessions left for a later run (a budget or an
    interruption stopped this one); ``busy`` says another process held the index, so nothing was done.
    """

    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    embedded: int = 0
    broken: list[str] = field(default_factory=list)
    broken_ids: list[str] = field(default_factory=list)
    seconds: float = 0.0
    interrupted: bool = False
    pending_words: int = 0
    pending_meaning: int = 0
    busy: bool = False
    read_only: bool = False
    """The index's folder cannot be written (a read-only archive): nothing was done."""
    slow_embedding: str | None = None
    """Why large batches were embedded by the slower numpy pass (exporting the model failed)."""
    purged: bool = False
    """Whoosh's segments were rewritten without the documents of deleted or changed sessions."""
    purge_pending: bool = False
    """...or that is still to do (a budget or ``purge=False`` left it to a later sync)."""
    conflicts_merged: int = 0
    """Sync tools' conflict copies merged into their sessions (and removed) before indexing."""

    @property
    def complete(self) -> bool:
        return not (
            self.busy
            or self.read_only
            or self.interrupted
            or self.pending_words
            or self.pending_meaning
            or self.purge_pending
        )

    def summary(self) -> str:
        parts = [
            f"{self.added} added",
            f"{self.updated} updated",
            f"{self.removed} removed",
            f"{len(self.broken)} skipped as broken",
            f"{self.unchanged} unchanged",
        ]
        if self.conflicts_merged:
            parts.append(
                f"{self.conflicts_merged} conflict cop{'ies' if self.conflicts_merged > 1 else 'y'} merged"
            )
        return ", ".join(parts) + f" in {self.seconds:.1f} s"


@dataclass
class Deadline:
    """When a budgeted sync stops starting new work (never, without a budget)."""

    at: float | None

    @classmethod
    def after(cls, seconds: float | None) -> Deadline:
        return cls(None if seconds is None else time.monotonic() + seconds)

    @property
    def passed(self) -> bool:
        return self.at is not None and time.monotonic() >= self.at


@dataclass
class SyncRun:
    """What one sync's phases share: where sessions are read and vectors and the manifest written, the
    embedder (loaded on first use: a sync with nothing to embed never loads it), the report they fill,
    the progress display and the deadline."""

    sessions_dir: Path
    vector_dir: Path
    manifest_path: Path
    load_embedder: Callable[[], EmbedderLike]
    report: SyncReport
    progress: SyncProgress | None
    deadline: Deadline

    @property
    def embedder(self) -> EmbedderLike:
        return self.load_embedder()
