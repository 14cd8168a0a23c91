"""``Index``: keeps the full-text and vector indexes in step with the sessions folder.

A sync runs in two phases. Words first: new and changed sessions, newest first, go into the full-text
index (cheap: tens of milliseconds a session), so they are searchable at once. Meaning second: the
sessions whose vectors are missing, newest first, are embedded (~15 ms of CPU a text) and written as
vector segments. Each phase commits often (the whoosh commit or the segment, then the manifest), by
time as well as by size, so Ctrl-C, a kill or a deadline keeps every finished piece and the next run
goes on from there. A sync given a ``budget`` stops when it is spent: what a search does before it
answers, leaving the rest to ``ollm index`` or the background indexer.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import orjson

from .._atomic import make_private_dir
from .._locking import IndexLock
from .._time import milliseconds, parse_timestamp
from ..archive.listing import check_name_matches
from ..archive.redaction import DEFAULT_REDACTOR, redactor_for_home
from ..archive.sealed_files import Sealer
from ..archive.session import Session
from ..archive.session_file import preferred_suffixes, read_session_bytes, session_id_of, shadowed
from ..archive.shared_folder import merge_conflicts, remove_deleted
from ..archive.store import SessionStore
from ..embedding.embedder import DEFAULT_VARIANT, DIMENSION, Embedder, model_id_for, variant_of
from ..errors import (
    ArchiveReadOnly,
    ConfigError,
    CorruptSession,
    IndexBusy,
    IndexMissing,
    IndexProblem,
    InvalidSessionId,
)
from ..home import locks_dir, model_cache_dir, sessions_dir
from .manifest import REBUILD_HINT, IndexedSession, Manifest
from .meaning import compact_stale_segments, index_meaning
from .sync_run import Deadline, EmbedderLike, SyncProgress, SyncReport, SyncRun
from .textsearch import ANALYSIS_VERSION, TextIndex
from .units import chunk_text, embedding_units

__all__ = [
    "EmbedderLike",
    "Index",
    "SyncProgress",
    "SyncReport",
    "chunk_text",
    "embedding_units",
    "messages_digest",
    "start_ms",
]

TEXT_BATCH_SESSIONS = 200
BUDGET_TEXT_BATCH_SESSIONS = 20
"""Within a search's budget the words phase commits every 20 sessions: whoosh adds the documents at the
commit (~10 ms a session), which the deadline, looked at between sessions, cannot cut short. A first
recall on 10,000 unindexed sessions took 4.7 s with one 200-session commit."""
TEXT_COMMIT_SECONDS = 5.0
"""The full-text phase commits every 200 sessions or 5 s, whichever comes first."""
MERGE_BATCH_SESSIONS = 50
LARGE_SYNC_SESSIONS = 400  # a sync this large (a build, an import) ends by merging the session index


def start_ms(timestamp: str) -> int:
    return milliseconds(parse_timestamp(timestamp))


def messages_digest(session: Session, count: int) -> str:
    """A hash of the first ``count`` messages: equal means the session only grew after them."""
    digest = hashlib.sha256()
    for message in session.messages[:count]:
        digest.update(orjson.dumps(message.to_dict(), option=orjson.OPT_SORT_KEYS))
    return digest.hexdigest()


@dataclass
class _Change:
    session: Session
    raw_size: int
    mtime_ns: int
    sha256: str
    first_new: int
    known: IndexedSession | None


class Index:
    """The search index of one home: ``<home>/index`` unless ``index_dir`` says otherwise."""

    def __init__(
        self,
        home: str | os.PathLike[str],
        *,
        index_dir: str | os.PathLike[str] | None = None,
        embedder: EmbedderLike | None = None,
        variant: str | None = None,
    ) -> None:
        self._requested_variant = variant or getattr(embedder, "variant", None)
        self._variant: str | None = self._requested_variant
        self.home = Path(home)
        self.directory = Path(index_dir) if index_dir is not None else self.home / "index"
        self.store = SessionStore(sessions_dir(self.home), locks_dir=locks_dir(self.home))
        self.sealer = Sealer(self.store.directory)
        """Derived files sealed while the archive is encrypted (``archive.sealed_files``)."""
        self._embedder = embedder
        self.synced: tuple[Manifest, int] | None = None

    @property
    def embedder(self) -> EmbedderLike:
        if self._embedder is None:
            self._embedder = Embedder(cache_dir=model_cache_dir(), variant=self.variant)
        return self._embedder

    @property
    def variant(self) -> str:
        """The embedding variant: the one asked for, else the one the existing index was built with
        (an index of fp32 vectors stays fp32 until rebuilt), else the default for a new index."""
        if self._variant is None:
            try:
                self._variant = variant_of(self._read_manifest().model_id)
            except IndexProblem:
                self._variant = DEFAULT_VARIANT
        return self._variant

    def _read_manifest(self) -> Manifest:
        """The manifest as on disk now: the one this process last read or wrote when the file has not
        changed since (``synced``), else parsed (``IndexMissing``, ``IndexCorrupt``)."""
        try:
            stamp = self.manifest_path.stat().st_mtime_ns
        except OSError:
            stamp = None
        if stamp is not None and self.synced is not None and self.synced[1] == stamp:
            return self.synced[0]
        manifest = Manifest.load(self.manifest_path, sealer=self.sealer)
        if stamp is not None:
            self.synced = (manifest, stamp)
        return manifest

    @property
    def manifest_path(self) -> Path:
        return self.directory / "manifest.json"

    @property
    def text_dir(self) -> Path:
        return self.directory / "fulltext"

    @property
    def vector_dir(self) -> Path:
        return self.directory / "vectors"

    @property
    def lock_path(self) -> Path:
        return self.directory / ".lock"

    @property
    def model_id(self) -> str:
        """The embedding model id this index holds vectors of (known without loading the model, so a
        search by words works where the model package is missing)."""
        return self._embedder.model_id if self._embedder is not None else model_id_for(self.variant)

    def load_manifest(self, *, fresh: bool = False) -> Manifest:
        """The manifest, checked against the model and the full-text folder. For reading it is parsed
        once per version of the file (a new process's search would otherwise parse a 10,000-session
        manifest three or four times) and shared, so it must not be changed: a writer asks for a
        ``fresh`` copy of its own (a search may be holding the shared one while a sync runs)."""
        manifest = Manifest.load(self.manifest_path, sealer=self.sealer) if fresh else self._read_manifest()
        manifest.check_model(self.manifest_path, self.model_id, DIMENSION)
        if not TextIndex(self.text_dir, self.sealer).exists():
            raise IndexProblem(f"the full-text index in {self.text_dir} is missing: {REBUILD_HINT}")
        return manifest

    def sync(
        self,
        *,
        rebuild: bool = False,
        progress: SyncProgress | None = None,
        budget: float | None = None,
        meaning: bool = True,
        purge: bool = True,
    ) -> SyncReport:
        """Bring both indexes up to date with the sessions folder (from scratch with ``rebuild``).

        With ``budget`` (seconds), stop starting new work once it is spent (the newest session is
        always done, so a chat that just ended is found by the next one) and say in the report what
        is left; and when another process holds the index, return at once (``busy``) instead of
        raising: a search then answers from the last committed state. ``meaning=False`` indexes
        words only, leaving the embedding to a later sync. Deleted or changed sessions leave the
        vector files at once; their words leave whoosh's files in the next sync without a budget
        (``purge=False``: not this one either).
        """
        started = time.perf_counter()
        if not self.directory.is_dir():
            make_private_dir(self.directory)  # it holds the text of every session
        lock = IndexLock(self.lock_path)
        try:
            lock.acquire()
        except IndexBusy:
            if budget is not None:
                return SyncReport(busy=True)
            raise IndexProblem(f"another `ollm index` is updating {self.directory}; try again") from None
        except ArchiveReadOnly:
            if budget is not None:  # a search's sync: it answers from the index as it is
                return SyncReport(read_only=True)
            raise
        deadline = Deadline.after(budget)
        merged = self._merge_conflicts()
        if rebuild and self._requested_variant is None:  # a rebuild moves an older index to the default
            if self.variant != DEFAULT_VARIANT:
                self._variant, self._embedder = DEFAULT_VARIANT, None
        try:
            if rebuild:
                report = self._rebuild(progress)
            else:
                manifest = self._manifest_for_update()
                report = self._update(
                    manifest,
                    TextIndex(self.text_dir, self.sealer),
                    self.vector_dir,
                    progress,
                    deadline=deadline,
                    meaning=meaning,
                    purge=purge,
                )
                if not report.interrupted and self.manifest_path.exists():
                    self.synced = (manifest, self.manifest_path.stat().st_mtime_ns)
                else:  # changes may be in memory that never reached the file
                    self.synced = None
        except BaseException:
            self.synced = None
            raise
        finally:
            lock.release()
        report.seconds = time.perf_counter() - started
        report.conflicts_merged = merged
        return report

    def _merge_conflicts(self) -> int:
        """Remove deleted sessions that a sync tool brought back, and merge its conflict copies, with the
        home's redaction (the built-in rules when its config cannot be read), so what is indexed is the
        joined session; returns copies merged."""
        try:
            redactor = redactor_for_home(self.home)
        except ConfigError:
            redactor = DEFAULT_REDACTOR
        store = SessionStore(self.store.directory, redactor=redactor, locks_dir=self.store.locks_dir)
        remove_deleted(store)  # first: a deleted session's copies are not merged into it
        return merge_conflicts(store).copies_removed

    def forget_segments(self, names: set[str]) -> int:
        """Drop vector segments found damaged: the sessions with vectors in them lose all theirs
        and are embedded again by the next sync (only those); the segments' files are deleted.
        Returns how many sessions will be embedded again."""
        lock = IndexLock(self.lock_path)
        try:
            lock.acquire()
        except IndexBusy:
            raise IndexProblem(f"another `ollm index` is updating {self.directory}; try again") from None
        try:
            manifest = self.load_manifest(fresh=True)
            affected = [entry for entry in manifest.sessions.values() if names & set(entry.segments)]
            for entry in affected:
                manifest.forget_vectors(entry)
            manifest.segments = [name for name in manifest.segments if name not in names]
            _drop_unused_segments(manifest)
            manifest.save(self.manifest_path)
            _remove_orphan_segments(self.vector_dir, manifest)
        finally:
            lock.release()
        return len(affected)

    def _manifest_for_update(self) -> Manifest:
        """The current manifest, or a new empty index when there is none.

        Without a manifest nothing in the folder is known to be complete (a first build interrupted
        before its first commit), so derived files are cleared and the build starts over; the empty
        manifest is written at once, so a build interrupted later resumes from its last commit.
        """
        try:
            return self.load_manifest(fresh=True)
        except IndexMissing:
            shutil.rmtree(self.text_dir, ignore_errors=True)
            shutil.rmtree(self.vector_dir, ignore_errors=True)
            manifest = self._fresh(self.text_dir)
            manifest.save(self.manifest_path)
            return manifest

    def _fresh(self, text_dir: Path) -> Manifest:
        TextIndex(text_dir, self.sealer).create()
        return Manifest(
            model_id=self.model_id, dimension=DIMENSION, analysis=ANALYSIS_VERSION, sealer=self.sealer
        )

    def _rebuild(self, progress: SyncProgress | None) -> SyncReport:
        """Build beside the old index and swap at the end: an interrupted rebuild changes nothing, and
        searches read the old index until the new manifest replaces it."""
        staging = self.directory / "rebuild"
        shutil.rmtree(staging, ignore_errors=True)
        manifest = self._fresh(staging / "fulltext")
        report = self._update(
            manifest,
            TextIndex(staging / "fulltext", self.sealer),
            staging / "vectors",
            progress,
            manifest_path=staging / "manifest.json",
            deadline=Deadline(None),
        )
        if report.interrupted:
            return report
        retired = self.directory / "retired"
        shutil.rmtree(retired, ignore_errors=True)
        make_private_dir(retired)
        for name in ("fulltext", "vectors"):
            if (self.directory / name).exists():
                os.replace(self.directory / name, retired / name)
            if (staging / name).exists():
                os.replace(staging / name, self.directory / name)
        os.replace(staging / "manifest.json", self.manifest_path)
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(retired, ignore_errors=True)
        return report

    def _update(
        self,
        manifest: Manifest,
        text_index: TextIndex,
        vector_dir: Path,
        progress: SyncProgress | None,
        *,
        deadline: Deadline,
        manifest_path: Path | None = None,
        meaning: bool = True,
        purge: bool = True,
    ) -> SyncReport:
        manifest_path = manifest_path or self.manifest_path
        report = SyncReport()
        _remove_orphan_segments(vector_dir, manifest)
        on_disk: dict[str, os.stat_result] = {}
        copies = {path for paths in self.store.conflict_copies().values() for path in paths}
        files = self.store.session_files()
        names, preference = {path.name for path in files}, preferred_suffixes(self.store.directory)
        for path in files:
            if path in copies:  # merged into its session when that one is free (a chat records into it)
                continue
            session_id = session_id_of(path.name) or ""
            if shadowed(path.name, names, preference):
                continue  # an older form beside the one that holds the session
            try:
                on_disk[session_id] = path.stat()
            except OSError:
                continue
        candidates = []
        for name, stat in on_disk.items():
            known = manifest.sessions.get(name)
            if known and (known.size, known.mtime_ns) == (stat.st_size, stat.st_mtime_ns):
                report.unchanged += 1
            else:
                candidates.append(name)
        candidates.sort(key=lambda name: (-on_disk[name].st_mtime_ns, name))  # newest first
        removed = [sid for sid in manifest.sessions if sid not in on_disk]
        report.pending_words = len(candidates)
        try:
            if removed:
                text_index.replace_sessions(removed, [], merge=len(removed) >= MERGE_BATCH_SESSIONS)
                for sid in removed:
                    manifest.forget_vectors(manifest.sessions.pop(sid))
                _drop_unused_segments(manifest)
                manifest.save(manifest_path)
                report.removed = len(removed)
            self._index_words(candidates, manifest, text_index, manifest_path, report, progress, deadline)
            if meaning:
                run = SyncRun(
                    self.store.directory,
                    vector_dir,
                    manifest_path,
                    lambda: self.embedder,
                    report,
                    progress,
                    deadline,
                )
                index_meaning(run, manifest)
            if manifest.stale_segments:
                compact_stale_segments(manifest, vector_dir, manifest_path)
            _remove_orphan_segments(vector_dir, manifest)
            if manifest.purge_words and deadline.at is None and purge:
                text_index.purge_deleted()  # minutes at 10,000 sessions: never within a budget
                manifest.purge_words = False
                manifest.save(manifest_path)
                report.purged = True
        except KeyboardInterrupt:
            report.interrupted = True
        finally:
            text_index.close()
        report.pending_meaning = sum(1 for entry in manifest.sessions.values() if entry.vectors_pending)
        report.purge_pending = manifest.purge_words
        return report

    def _index_words(
        self,
        candidates: list[str],
        manifest: Manifest,
        text_index: TextIndex,
        manifest_path: Path,
        report: SyncReport,
        progress: SyncProgress | None,
        deadline: Deadline,
    ) -> None:
        """The full-text phase: read each new or changed session and add its words, newest first."""
        if progress is not None:
            progress.planned(len(candidates), 0)
        batch: list[_Change] = []
        batch_limit = TEXT_BATCH_SESSIONS if deadline.at is None else BUDGET_TEXT_BATCH_SESSIONS
        last_commit = time.monotonic()
        for name in candidates:
            if deadline.passed and (batch or report.added or report.updated):
                break
            change = self._read_change(name, manifest, report)
            if change is None:
                report.pending_words -= 1
                if progress is not None:
                    progress.advanced(1, 0)
                continue
            batch.append(change)
            if len(batch) >= batch_limit or time.monotonic() - last_commit >= TEXT_COMMIT_SECONDS:
                self._commit_words(batch, manifest, text_index, manifest_path, report, progress)
                batch, last_commit = [], time.monotonic()
        if batch:
            self._commit_words(batch, manifest, text_index, manifest_path, report, progress)
        if report.added + report.updated >= LARGE_SYNC_SESSIONS and not report.pending_words:
            text_index.optimize_sessions()
        dropped = [sid for sid in report.broken_ids if sid in manifest.sessions]
        if dropped:
            text_index.replace_sessions(dropped, [])
            for sid in dropped:
                manifest.forget_vectors(manifest.sessions.pop(sid))
            _drop_unused_segments(manifest)
            manifest.save(manifest_path)

    def _read_change(self, name: str, manifest: Manifest, report: SyncReport) -> _Change | None:
        path = self.store.directory / f"{name}.json"
        try:
            path = self.store.file_for(name)  # validates the id first
            raw = read_session_bytes(path)
            stat = path.stat()
            sha = hashlib.sha256(raw).hexdigest()
            known = manifest.sessions.get(name)
            if known and known.sha256 == sha:  # only its file changed (compacted, encrypted): not parsed
                known.size, known.mtime_ns = stat.st_size, stat.st_mtime_ns
                report.unchanged += 1
                return None
            session = Session.from_bytes(raw, path.name)
            check_name_matches(session.session_id, path)
        except FileNotFoundError:
            return None
        except (CorruptSession, InvalidSessionId, OSError) as exc:
            report.broken.append(str(exc) if isinstance(exc, CorruptSession) else f"{path.name}: {exc}")
            report.broken_ids.append(name)
            return None
        first_new = 0
        if known and len(session.messages) >= known.messages:
            if messages_digest(session, known.messages) == known.prefix_sha256:
                first_new = known.messages
        return _Change(session, stat.st_size, stat.st_mtime_ns, sha, first_new, known)

    def _commit_words(
        self,
        batch: list[_Change],
        manifest: Manifest,
        text_index: TextIndex,
        manifest_path: Path,
        report: SyncReport,
        progress: SyncProgress | None,
    ) -> None:
        # Every session of the batch is deleted first, new ones too: a crash between the whoosh commit
        # and the manifest's leaves documents that the manifest does not know of. A session whose
        # earlier messages changed (redacted, say) must leave no trace of them: its old vectors are
        # dropped from their segments, its old words from whoosh's (``purge_words``).
        changed = [c for c in batch if c.known is not None and c.first_new != c.known.messages]
        text_index.replace_sessions(
            [c.session.session_id for c in batch],
            [(c.session, start_ms(c.session.start_time)) for c in batch],
            merge=len(batch) >= MERGE_BATCH_SESSIONS,
        )
        for change in changed:
            assert change.known is not None
            manifest.forget_vectors(change.known)
        for change in batch:
            session, known = change.session, change.known
            grown = known is not None and change.first_new == known.messages
            manifest.sessions[session.session_id] = IndexedSession(
                size=change.raw_size,
                mtime_ns=change.mtime_ns,
                sha256=change.sha256,
                messages=len(session.messages),
                prefix_sha256=messages_digest(session, len(session.messages)),
                start_ms=start_ms(session.start_time),
                last_ms=start_ms(session.last_activity),
                model=session.model,
                provider=session.provider,
                title=session.title,
                segments=list(known.segments) if grown and known is not None else [],
                embedded=known.embedded if grown and known is not None else 0,
            )
            if known is None:
                report.added += 1
            else:
                report.updated += 1
        if changed:
            _drop_unused_segments(manifest)
        manifest.save(manifest_path)
        report.pending_words -= len(batch)
        if progress is not None:
            progress.advanced(len(batch), 0)


def _drop_unused_segments(manifest: Manifest) -> None:
    """Forget segments no session uses any more (their files go with the next sync's clean-up)."""
    used = {segment for entry in manifest.sessions.values() for segment in entry.segments}
    manifest.segments = [segment for segment in manifest.segments if segment in used]
    manifest.stale_segments = [segment for segment in manifest.stale_segments if segment in used]


def _remove_orphan_segments(vector_dir: Path, manifest: Manifest) -> None:
    """Segment files no manifest names (a crash between writing them and the manifest)."""
    if not vector_dir.is_dir():
        return
    named = set(manifest.segments)
    for path in vector_dir.iterdir():
        segment = path.name.split(".", 1)[0]
        if segment.startswith("seg-") and segment not in named:
            with contextlib.suppress(OSError):
                path.unlink()
