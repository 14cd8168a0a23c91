"""``Index``: keeps the full-text and vector indexes in step with the sessions folder.

Incremental: a scan compares each file's size and mtime with the manifest; only new and changed
sessions are read, and a session that only grew has only its new messages embedded. Work is committed
in batches (segment file, then the whoosh commit, then the manifest), so Ctrl-C or a crash keeps every
finished batch and the next run goes on from there.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import orjson

from .errors import CorruptSession, IndexMissing, IndexProblem, InvalidSessionId, SessionLocked
from .home import sessions_dir
from .locking import SessionLock
from .manifest import REBUILD_HINT, IndexedSession, Manifest
from .model import Session, validate_session_id
from .store import SessionStore
from .summary import check_name_matches
from .textsearch import TextIndex

BATCH_TEXTS = 2048
BATCH_SESSIONS = 200
MERGE_BATCH_SESSIONS = 50
LARGE_SYNC_SESSIONS = 400  # a sync this large (a build, an import) ends by merging the session index


class EmbedderLike(Protocol):
    model_id: str
    dimension: int

    def embed(self, texts: list[str], *, progress: Callable[[int], None] | None = None): ...

    def embed_query(self, text: str): ...


class SyncProgress(Protocol):
    """What a progress bar needs: the plan, then how much is done (and, optionally, a
    ``status(text | None)`` method for a pause that is not embedding, such as exporting the model)."""

    def planned(self, sessions: int, texts: int) -> None: ...

    def advanced(self, sessions: int, texts: int) -> None: ...


@dataclass
class SyncReport:
    """What a sync did; ``broken`` holds one ``<file>: <problem>`` line per unreadable file."""

    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    embedded: int = 0
    broken: list[str] = field(default_factory=list)
    broken_ids: list[str] = field(default_factory=list)
    seconds: float = 0.0
    interrupted: bool = False
    slow_embedding: str | None = None
    """Why large batches were embedded by the slower numpy pass (exporting the model failed)."""

    def summary(self) -> str:
        parts = [f"{self.added} added", f"{self.updated} updated", f"{self.removed} removed",
                 f"{len(self.broken)} skipped as broken", f"{self.unchanged} unchanged"]
        return ", ".join(parts) + f" in {self.seconds:.1f} s"


def start_ms(timestamp: str) -> int:
    from .timestamps import parse_timestamp

    return int(parse_timestamp(timestamp).timestamp() * 1000)


def messages_digest(session: Session, count: int) -> str:
    """A hash of the first ``count`` messages: equal means the session only grew after them."""
    digest = hashlib.sha256()
    for message in session.messages[:count]:
        digest.update(orjson.dumps(message.to_dict(), option=orjson.OPT_SORT_KEYS))
    return digest.hexdigest()


CHUNK_WORDS = 120
CHUNK_STEP = 100


def chunk_text(text: str) -> list[str]:
    """Overlapping windows of about 120 words: MiniLM reads only its first 256 word pieces, so a long
    reply embedded whole would be represented by its opening alone."""
    words = text.split()
    if len(words) <= CHUNK_WORDS:
        return [text]
    return [" ".join(words[start : start + CHUNK_WORDS])
            for start in range(0, len(words) - (CHUNK_WORDS - CHUNK_STEP), CHUNK_STEP)]


def embedding_units(session: Session, first: int) -> list[tuple[int, int, str]]:
    """(message index, chunk index, text) of what is embedded, from message ``first`` on."""
    return [
        (index, chunk_number, chunk)
        for index, message in enumerate(session.messages[first:], start=first)
        if not message.exclude_from_context and message.content.strip()
        for chunk_number, chunk in enumerate(chunk_text(message.content))
    ]


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
    ) -> None:
        self.home = Path(home)
        self.directory = Path(index_dir) if index_dir is not None else self.home / "index"
        self.store = SessionStore(sessions_dir(self.home))
        self._embedder = embedder
        self.synced: tuple[Manifest, int] | None = None

    @property
    def embedder(self) -> EmbedderLike:
        if self._embedder is None:
            from .embedder import Embedder

            self._embedder = Embedder(cache_dir=self.directory / "model")
        return self._embedder

    @property
    def manifest_path(self) -> Path:
        return self.directory / "manifest.json"

    @property
    def text_dir(self) -> Path:
        return self.directory / "fulltext"

    @property
    def vector_dir(self) -> Path:
        return self.directory / "vectors"

    def load_manifest(self) -> Manifest:
        from .embedder import DIMENSION, MODEL_ID

        manifest = Manifest.load(self.manifest_path, model_id=MODEL_ID, dimension=DIMENSION)
        if not TextIndex(self.text_dir).exists():
            raise IndexProblem(f"the full-text index in {self.text_dir} is missing: {REBUILD_HINT}")
        return manifest

    def sync(self, *, rebuild: bool = False, progress: SyncProgress | None = None) -> SyncReport:
        """Bring both indexes up to date with the sessions folder (from scratch with ``rebuild``)."""
        started = time.perf_counter()
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)  # it holds the text of every session
        lock = SessionLock(self.directory / ".lock", "index")
        try:
            lock.acquire()
        except SessionLocked:
            raise IndexProblem(f"another `ollm index` is updating {self.directory}; try again") from None
        try:
            if rebuild:
                report = self._rebuild(progress)
            else:
                manifest = self._manifest_for_update()
                report = self._update(manifest, TextIndex(self.text_dir), self.vector_dir, progress)
                if not report.interrupted and self.manifest_path.exists():
                    self.synced = (manifest, self.manifest_path.stat().st_mtime_ns)
        finally:
            lock.release()
        report.seconds = time.perf_counter() - started
        return report

    def _manifest_for_update(self) -> Manifest:
        """The current manifest, or a new empty index when there is none.

        Without a manifest nothing in the folder is known to be complete (a first build interrupted
        before its first batch), so derived files are cleared and the build starts over; the empty
        manifest is written at once, so a build interrupted later resumes from its last batch.
        """
        try:
            return self.load_manifest()
        except IndexMissing:
            shutil.rmtree(self.text_dir, ignore_errors=True)
            shutil.rmtree(self.vector_dir, ignore_errors=True)
            manifest = self._fresh(self.text_dir)
            manifest.save(self.manifest_path)
            return manifest

    def _fresh(self, text_dir: Path) -> Manifest:
        TextIndex(text_dir).create()
        return Manifest(model_id=self.embedder.model_id, dimension=self.embedder.dimension)

    def _rebuild(self, progress: SyncProgress | None) -> SyncReport:
        """Build beside the old index and swap at the end: an interrupted rebuild changes nothing."""
        staging = self.directory / "rebuild"
        shutil.rmtree(staging, ignore_errors=True)
        manifest = self._fresh(staging / "fulltext")
        report = self._update(manifest, TextIndex(staging / "fulltext"), staging / "vectors", progress,
                              manifest_path=staging / "manifest.json")
        if report.interrupted:
            return report
        for name in ("manifest.json", "fulltext", "vectors"):
            old = self.directory / name
            if old.is_dir():
                shutil.rmtree(old)
            else:
                old.unlink(missing_ok=True)
        for name in ("fulltext", "vectors"):
            if (staging / name).exists():
                os.replace(staging / name, self.directory / name)
        os.replace(staging / "manifest.json", self.manifest_path)
        shutil.rmtree(staging, ignore_errors=True)
        return report

    def _update(
        self,
        manifest: Manifest,
        text_index: TextIndex,
        vector_dir: Path,
        progress: SyncProgress | None,
        *,
        manifest_path: Path | None = None,
    ) -> SyncReport:
        manifest_path = manifest_path or self.manifest_path
        report = SyncReport()
        _remove_orphan_segments(vector_dir, manifest)
        on_disk: dict[str, os.stat_result] = {}
        for path in self.store.session_files():
            try:
                on_disk[path.name[: -len(".json")]] = path.stat()
            except OSError:
                continue
        candidates = []
        for name, stat in sorted(on_disk.items()):
            known = manifest.sessions.get(name)
            if known and (known.size, known.mtime_ns) == (stat.st_size, stat.st_mtime_ns):
                report.unchanged += 1
            else:
                candidates.append(name)
        removed = [sid for sid in manifest.sessions if sid not in on_disk]
        if progress is not None:
            progress.planned(len(candidates), 0)
        try:
            if removed:
                text_index.replace_sessions(removed, [], merge=len(removed) >= MERGE_BATCH_SESSIONS)
                for sid in removed:
                    del manifest.sessions[sid]
                _drop_unused_segments(manifest)
                manifest.save(manifest_path)
                report.removed = len(removed)
            batch: list[_Change] = []
            batch_texts = 0
            for name in candidates:
                change = self._read_change(name, manifest, report)
                if change is None:
                    if progress is not None:
                        progress.advanced(1, 0)
                    continue
                batch.append(change)
                batch_texts += len(embedding_units(change.session, change.first_new))
                if batch_texts >= BATCH_TEXTS or len(batch) >= BATCH_SESSIONS:
                    self._commit(batch, manifest, text_index, vector_dir, manifest_path, report, progress)
                    batch, batch_texts = [], 0
            if batch:
                self._commit(batch, manifest, text_index, vector_dir, manifest_path, report, progress)
            if report.added + report.updated >= LARGE_SYNC_SESSIONS:
                text_index.optimize_sessions()
            dropped = [sid for sid in report.broken_ids if sid in manifest.sessions]
            if dropped:
                text_index.replace_sessions(dropped, [])
                for sid in dropped:
                    del manifest.sessions[sid]
                _drop_unused_segments(manifest)
                manifest.save(manifest_path)
        except KeyboardInterrupt:
            report.interrupted = True
        finally:
            text_index.close()
        return report

    def _read_change(self, name: str, manifest: Manifest, report: SyncReport) -> _Change | None:
        path = self.store.directory / f"{name}.json"
        try:
            validate_session_id(name)
            raw = path.read_bytes()
            stat = path.stat()
            session = Session.from_bytes(raw, path.name)
            check_name_matches(session.session_id, path)
        except FileNotFoundError:
            return None
        except (CorruptSession, InvalidSessionId, OSError) as exc:
            report.broken.append(str(exc) if isinstance(exc, CorruptSession) else f"{path.name}: {exc}")
            report.broken_ids.append(name)
            return None
        sha = hashlib.sha256(raw).hexdigest()
        known = manifest.sessions.get(name)
        if known and known.sha256 == sha:
            known.size, known.mtime_ns = stat.st_size, stat.st_mtime_ns
            report.unchanged += 1
            return None
        first_new = 0
        if known and len(session.messages) >= known.messages:
            if messages_digest(session, known.messages) == known.prefix_sha256:
                first_new = known.messages
        return _Change(session, stat.st_size, stat.st_mtime_ns, sha, first_new, known)

    def _commit(
        self,
        batch: list[_Change],
        manifest: Manifest,
        text_index: TextIndex,
        vector_dir: Path,
        manifest_path: Path,
        report: SyncReport,
        progress: SyncProgress | None,
    ) -> None:
        keys: list[tuple[str, int, int]] = []
        texts: list[str] = []
        for change in batch:
            for index, chunk_number, text in embedding_units(change.session, change.first_new):
                keys.append((change.session.session_id, index, chunk_number))
                texts.append(text)

        def embedded(count: int) -> None:
            if progress is not None:
                progress.advanced(0, count)

        if progress is not None:
            progress.planned(0, len(texts))
        segment = None
        if texts:
            from .vectorstore import write_segment

            will_export = getattr(self.embedder, "will_export", None)
            show: Callable[[str | None], None] | None = getattr(progress, "status", None)
            if show is None or will_export is None or not will_export(len(texts)):
                show = None
            if show is not None:
                show("preparing the embedding model (once, a few seconds)")
            vectors = self.embedder.embed(texts, progress=embedded)
            if show is not None:
                show(None)
            report.slow_embedding = getattr(self.embedder, "export_problem", None)
            segment = manifest.new_segment_name()
            write_segment(vector_dir, segment, vectors, keys)
        text_index.replace_sessions(
            [c.session.session_id for c in batch if c.known is not None],
            [(c.session, start_ms(c.session.start_time)) for c in batch],
            merge=len(batch) >= MERGE_BATCH_SESSIONS,
        )
        with_vectors = {key[0] for key in keys}
        for change in batch:
            session = change.session
            kept = change.known.segments if change.known is not None and change.first_new else []
            segments = kept + ([segment] if segment and session.session_id in with_vectors else [])
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
                segments=segments,
            )
            if change.known is None:
                report.added += 1
            else:
                report.updated += 1
        if segment:
            manifest.segments.append(segment)
        replaced = {s for c in batch if c.known is not None for s in c.known.segments}
        if replaced:  # only an updated session's old segments can have fallen out of use
            _drop_unused_segments(manifest)
        manifest.save(manifest_path)
        report.embedded += len(texts)
        if progress is not None:
            progress.advanced(len(batch), 0)


def _drop_unused_segments(manifest: Manifest) -> None:
    """Forget segments no session uses any more (their files go with the next sync's clean-up)."""
    used = {segment for entry in manifest.sessions.values() for segment in entry.segments}
    manifest.segments = [segment for segment in manifest.segments if segment in used]


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
