"""The meaning phase of a sync: embed what sessions in the full-text index still lack, newest first.

Texts go to the model a piece at a time (progress, Ctrl-C and a deadline are looked at between
pieces) and are written as one vector segment, then the manifest that makes it current, every
``BATCH_TEXTS`` texts or ``VECTOR_COMMIT_SECONDS``: an interruption loses at most that.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..archive.session import Session
from ..archive.session_file import read_session_bytes, session_path
from ..errors import CorruptSession
from .manifest import IndexedSession, Manifest
from .sync_run import SyncRun
from .units import embedding_units
from .vector_segments import Segment, SegmentDamaged, write_segment

BATCH_TEXTS = 2048
VECTOR_COMMIT_SECONDS = 15.0
"""The meaning phase writes a segment every 2,048 texts or 15 s: an interrupted run loses at most that."""
PIECE_TEXTS = 512
"""Texts embedded at a time: progress, Ctrl-C and a deadline are looked at between pieces. Sorted by
length within a piece to pad less, 512 embed 25% faster than 64 (94 against 75 texts/s, int8, chunks
of the synthetic archive, 2 shared cores)."""
BUDGET_PIECE_TEXTS = 8
"""...and within a search's budget (the numpy pass does 8 texts in ~0.1-0.3 s)."""
BULK_SESSIONS = 100
"""With the fp32 variant, an unbounded sync with this many sessions to embed uses ONNX Runtime (its
graph written once, a second or two); fewer are done sooner by the numpy pass."""


@dataclass
class _ToEmbed:
    """One session's units waiting for vectors, and the message count they bring it up to."""

    session_id: str
    messages: int
    units: list[tuple[int, int, str]]


def index_meaning(run: SyncRun, manifest: Manifest) -> None:
    """The meaning phase: embed what sessions in the full-text index still lack, newest first."""
    progress, deadline = run.progress, run.deadline
    pending = sorted(
        (sid for sid, entry in manifest.sessions.items() if entry.vectors_pending),
        key=lambda sid: (-manifest.sessions[sid].last_ms, sid),
    )
    if not pending:
        return
    if progress is not None:
        progress.planned(0, len(pending))
    bulk = deadline.at is None and len(pending) >= BULK_SESSIONS
    piece_size = PIECE_TEXTS if deadline.at is None else BUDGET_PIECE_TEXTS
    buffer = _SegmentBuffer()
    piece: list[_ToEmbed] = []
    try:
        for sid in pending:
            if deadline.passed and (piece or buffer.sessions):
                break
            item = _to_embed(run.sessions_dir, sid, manifest.sessions[sid])
            if item is None:
                continue
            piece.append(item)
            if sum(len(p.units) for p in piece) < piece_size:
                continue
            _embed_piece(run, piece, buffer, bulk)
            piece = []
            if buffer.due():
                _commit_meaning(buffer, manifest, run)
        if piece:
            _embed_piece(run, piece, buffer, bulk)
    finally:  # Ctrl-C, a kill by SIGTERM or the deadline: what was embedded is kept
        _commit_meaning(buffer, manifest, run)


def _to_embed(sessions_dir: Path, session_id: str, entry: IndexedSession) -> _ToEmbed | None:
    """The session's units past ``entry.embedded``, read from its file; None when the file changed
    since its words were indexed (the next full-text phase takes it up again) or is gone."""
    path = session_path(sessions_dir, session_id)
    try:
        raw = read_session_bytes(path)
        if hashlib.sha256(raw).hexdigest() != entry.sha256:
            return None
        session = Session.from_bytes(raw, path.name)
    except (OSError, CorruptSession):
        return None
    return _ToEmbed(session_id, len(session.messages), embedding_units(session, entry.embedded))


def _embed_piece(run: SyncRun, piece: list[_ToEmbed], buffer: _SegmentBuffer, bulk: bool) -> None:
    progress, report = run.progress, run.report
    texts = [text for item in piece for _index, _chunk, text in item.units]
    if texts:
        embedder = run.embedder
        will_export = getattr(embedder, "will_export", None)
        show: Callable[[str | None], None] | None = getattr(progress, "status", None)
        exporting = show is not None and will_export is not None and will_export(len(texts), bulk=bulk)
        if exporting and show is not None:
            show("preparing the embedding model (once, a few seconds)")
        vectors = embedder.embed(texts, bulk=bulk)
        if exporting and show is not None:
            show(None)
        report.slow_embedding = getattr(embedder, "export_problem", None)
        buffer.add(piece, vectors)
    else:
        buffer.add(piece, None)
    report.embedded += len(texts)
    if progress is not None:
        progress.advanced(0, len(piece))


def _commit_meaning(buffer: _SegmentBuffer, manifest: Manifest, run: SyncRun) -> None:
    """Write the buffered vectors as one segment, then the manifest that makes them current."""
    if not buffer.sessions:
        return
    segment = None
    if buffer.keys:
        segment = manifest.new_segment_name()
        write_segment(run.vector_dir, segment, np.concatenate(buffer.vectors), buffer.keys, manifest.sealer)
        manifest.segments.append(segment)
    with_vectors = {key[0] for key in buffer.keys}
    for session_id, messages in buffer.sessions:
        entry = manifest.sessions.get(session_id)
        if entry is None:
            continue
        if segment is not None and session_id in with_vectors:
            entry.segments.append(segment)
        entry.embedded = messages
    manifest.save(run.manifest_path)
    buffer.clear()


class _SegmentBuffer:
    """Vectors embedded but not yet written, and when they are due to be."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self.keys: list[tuple[str, int, int]] = []
        self.vectors: list = []
        self.sessions: list[tuple[str, int]] = []
        self.started = time.monotonic()

    def add(self, piece: list[_ToEmbed], vectors) -> None:
        for item in piece:
            self.keys += [(item.session_id, index, chunk) for index, chunk, _text in item.units]
            self.sessions.append((item.session_id, item.messages))
        if vectors is not None:
            self.vectors.append(vectors)

    def due(self) -> bool:
        return len(self.keys) >= BATCH_TEXTS or time.monotonic() - self.started >= VECTOR_COMMIT_SECONDS


def compact_stale_segments(manifest: Manifest, vector_dir: Path, manifest_path: Path) -> int:
    """Rewrite each stale segment with only the rows of sessions still current in it, under a new
    name, then save the manifest (the old files go with the orphan clean-up): a deleted or redacted
    message leaves no vector behind. A segment found damaged is dropped, and the sessions that had
    vectors in it are embedded again. Returns how many rows were removed."""

    holders: dict[str, list[IndexedSession]] = {}
    for entry in manifest.sessions.values():
        for name in entry.segments:
            holders.setdefault(name, []).append(entry)
    removed = 0
    for name in list(manifest.stale_segments):
        manifest.stale_segments.remove(name)
        if name not in manifest.segments:
            continue
        try:
            segment = Segment(vector_dir, name, manifest.sealer)
        except SegmentDamaged:
            for entry in holders.get(name, []):
                manifest.forget_vectors(entry)
            manifest.segments.remove(name)
            continue
        ids = segment.session_ids
        live_ordinals = np.array(
            [
                i
                for i, sid in enumerate(ids)
                if sid in manifest.sessions and name in manifest.sessions[sid].segments
            ],
            dtype=np.int32,
        )
        keep = np.flatnonzero(np.isin(segment.rows[:, 0], live_ordinals))
        removed += len(segment.rows) - len(keep)
        if len(keep) == len(segment.rows):
            continue
        position = manifest.segments.index(name)
        if len(keep) == 0:
            del manifest.segments[position]
            continue
        renamed = manifest.new_segment_name()
        keys = [(ids[ordinal], message, chunk) for ordinal, message, chunk in segment.rows[keep].tolist()]
        write_segment(vector_dir, renamed, np.asarray(segment.vectors[keep]), keys, manifest.sealer)
        manifest.segments[position] = renamed
        for entry in holders.get(name, []):
            entry.segments = [renamed if held == name else held for held in entry.segments]
    manifest.save(manifest_path)
    return removed
