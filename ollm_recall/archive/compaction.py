"""Compacting: sessions idle for a while stored compressed (``compression``), one at a time and safely.

For each idle session, under its recording lock: the compressed file is written atomically beside the
plain one and read back; only if it gives the same bytes, and the plain file did not change meanwhile,
is the plain file removed. Killed at any moment, the folder holds the plain file, or both (the plain
one is read first and the next run finishes), or the compressed one: never less.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from .._atomic import fsync_directory
from ..errors import CorruptSession
from .compression import TRAINING_SAMPLES, archive_dictionary, compress_session
from .form_change import session_held, write_new_form
from .listing import SessionSummary
from .session_file import read_session_bytes
from .store import SessionStore
from .unlocking import encrypting


@dataclass
class CompactReport:
    """What a compaction did (or, with ``dry_run``, would do)."""

    dry_run: bool
    compressed: list[str] = field(default_factory=list)
    bytes_before: int = 0
    bytes_after: int = 0
    busy: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        if self.dry_run:
            return f"would compress {len(self.compressed)} sessions ({self.bytes_before / 1e6:.1f} MB)"
        saved = self.bytes_before - self.bytes_after
        return (
            f"compressed {len(self.compressed)} sessions: {self.bytes_before / 1e6:.1f} MB -> "
            f"{self.bytes_after / 1e6:.1f} MB ({saved / 1e6:.1f} MB saved)"
            + (f"; {len(self.busy)} being recorded, left for next time" if self.busy else "")
        )

    def to_json(self) -> dict[str, object]:
        return {
            "dryRun": self.dry_run,
            "compressed": self.compressed,
            "bytesBefore": self.bytes_before,
            "bytesAfter": self.bytes_after,
            "busy": self.busy,
            "problems": self.problems,
        }


def idle_sessions(store: SessionStore, idle_days: float) -> list[SessionSummary]:
    """The plain session files last active more than ``idle_days`` ago, oldest first."""
    if encrypting(store.directory):
        return []  # encrypted files are compressed already; a zstd file would be readable
    cutoff = datetime.now(UTC) - timedelta(days=idle_days)
    listing = store.list()
    return sorted(
        (s for s in listing.sessions if s.path.name.endswith(".json") and s.last_activity_at < cutoff),
        key=lambda summary: summary.last_activity_at,
    )


def compact(
    store: SessionStore,
    *,
    idle_days: float = 30.0,
    sessions: list[SessionSummary] | None = None,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
) -> CompactReport:
    """Compress the sessions idle for ``idle_days`` (or the ``sessions`` given, from
    ``idle_sessions``); see the module for how it stays safe."""
    report = CompactReport(dry_run)
    candidates = sessions if sessions is not None else idle_sessions(store, idle_days)
    if dry_run or not candidates:
        report.compressed = [summary.session_id for summary in candidates]
        report.bytes_before = sum(summary.size for summary in candidates)
        return report
    dictionary = archive_dictionary(store.directory, _samples(store))
    for summary in candidates:
        _compact_one(store, summary.session_id, dictionary, report)
        if progress is not None:
            progress(1)
    if report.compressed:
        fsync_directory(store.directory)
    return report


def _compact_one(store: SessionStore, session_id: str, dictionary: object, report: CompactReport) -> None:
    with session_held(store, session_id, report.busy, report.problems) as held:
        if not held:
            return
        plain, packed_path = store.path_for(session_id), store.compressed_path_for(session_id)
        try:
            raw = read_session_bytes(plain)
            if not write_new_form(plain, packed_path, raw, compress_session(raw, dictionary)):
                report.problems.append(f"{plain.name}: changed while it was compressed: left plain")
                return
            plain.unlink()
            report.compressed.append(session_id)
            report.bytes_before += len(raw)
            report.bytes_after += packed_path.stat().st_size
        except (CorruptSession, OSError) as exc:
            report.problems.append(f"{plain.name}: not compressed ({exc})")


def _samples(store: SessionStore) -> list[bytes]:
    """Up to ``TRAINING_SAMPLES`` session files, spread over the archive, to train a dictionary on."""
    files = [path for path in store.session_files() if path.name.endswith(".json")]
    step = max(1, len(files) // TRAINING_SAMPLES)
    samples = []
    for path in sorted(files)[::step][:TRAINING_SAMPLES]:
        try:
            samples.append(read_session_bytes(path))
        except (CorruptSession, OSError):
            continue
    return samples
