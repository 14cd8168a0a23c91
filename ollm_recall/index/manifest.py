"""The index manifest: what was indexed, from which file version, with which model and format.

Written atomically after every committed batch, so it never names work that is not on disk.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from ..archive.sealed_files import Sealer
from ..errors import IndexCorrupt, IndexMissing

FORMAT_VERSION = 4
READABLE_FORMATS = (3, 4)
"""Format 3 had no ``embedded`` count: every session it names was embedded whole, as it was indexed."""
REBUILD_HINT = "run `ollm index --rebuild`"


@dataclass
class IndexedSession:
    """One session as the index knows it."""

    size: int
    mtime_ns: int
    sha256: str
    messages: int
    prefix_sha256: str
    start_ms: int
    last_ms: int
    model: str
    provider: str
    title: str
    segments: list[str] = field(default_factory=list)
    embedded: int = 0
    """How many of the first messages have their vectors in ``segments``: the full-text side indexes a
    session at once, the meaning side catches up later (``messages`` once it has)."""

    @property
    def vectors_pending(self) -> bool:
        return self.embedded < self.messages

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Manifest:
    """The whole manifest: format, embedding model, segments and sessions."""

    model_id: str
    dimension: int
    segments: list[str] = field(default_factory=list)
    sessions: dict[str, IndexedSession] = field(default_factory=dict)
    next_segment: int = 1
    analysis: int = 1
    """How the full-text index splits words (``textsearch.ANALYSIS_VERSION`` when it was built)."""
    stale_segments: list[str] = field(default_factory=list)
    """Segments that still hold rows of sessions deleted or changed since: rewritten without them at
    the end of the sync, so no vector of removed text stays on disk."""
    purge_words: bool = False
    """The full-text index holds documents marked deleted whose words are no longer in any session:
    the next unbudgeted sync rewrites whoosh's segments without them."""
    sealer: Sealer = field(kw_only=True, repr=False, compare=False)
    """How it is read and written (``Sealer``): sealed while the archive is encrypted."""

    @classmethod
    def load(
        cls, path: Path, *, sealer: Sealer, model_id: str | None = None, dimension: int | None = None
    ) -> Manifest:
        """Read a manifest (sealed or not); ``IndexMissing`` or ``IndexCorrupt`` (with the rebuild
        hint) otherwise."""
        try:
            raw = sealer.read(path)
        except FileNotFoundError:
            raise IndexMissing(f"no search index at {path.parent} yet: run `ollm index`") from None
        except OSError as exc:
            raise IndexCorrupt(f"cannot read {path}: {exc.strerror}; {REBUILD_HINT}") from None
        try:
            document = orjson.loads(raw)
            if document.get("format") not in READABLE_FORMATS:
                raise IndexCorrupt(
                    f"the index at {path.parent} has format {document.get('format')!r}, this version "
                    f"reads {FORMAT_VERSION}: {REBUILD_HINT}"
                )
            manifest = cls(
                model_id=document["model"]["id"],
                dimension=int(document["model"]["dimension"]),
                segments=list(document["segments"]),
                sessions={sid: _entry(entry) for sid, entry in document["sessions"].items()},
                next_segment=int(document["nextSegment"]),
                analysis=int(document.get("analysis", 1)),
                stale_segments=list(document.get("staleSegments", [])),
                purge_words=bool(document.get("purgeWords", False)),
                sealer=sealer,
            )
        except IndexCorrupt:
            raise
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
            raise IndexCorrupt(f"the index manifest {path} is damaged: {REBUILD_HINT}") from None
        if model_id is not None and dimension is not None:
            manifest.check_model(path, model_id, dimension)
        return manifest

    def check_model(self, path: Path, model_id: str, dimension: int) -> None:
        """``IndexCorrupt`` with the rebuild hint unless the vectors are of this model."""
        if (self.model_id, self.dimension) != (model_id, dimension):
            raise IndexCorrupt(
                f"the index was built with {self.model_id} ({self.dimension} dimensions), "
                f"not {model_id}: {REBUILD_HINT}"
            )

    def save(self, path: Path) -> None:
        """Write the manifest atomically, sealed while the archive is encrypted (it holds titles)."""
        document = {
            "format": FORMAT_VERSION,
            "model": {"id": self.model_id, "dimension": self.dimension},
            "segments": self.segments,
            "nextSegment": self.next_segment,
            "analysis": self.analysis,
            "staleSegments": self.stale_segments,
            "purgeWords": self.purge_words,
            "sessions": {sid: entry.to_json() for sid, entry in self.sessions.items()},
        }
        self.sealer.write(path, orjson.dumps(document))

    def new_segment_name(self) -> str:
        name = f"seg-{self.next_segment:06d}"
        self.next_segment += 1
        return name

    def embedded_sessions(self) -> int:
        """Sessions whose every message is searchable by meaning."""
        return sum(1 for entry in self.sessions.values() if not entry.vectors_pending)

    def forget_vectors(self, entry: IndexedSession) -> None:
        """A session's vectors are no longer current (it was deleted or its messages changed): its
        segments are marked for rewriting without them."""
        for segment in entry.segments:
            if segment not in self.stale_segments:
                self.stale_segments.append(segment)
        entry.segments, entry.embedded = [], 0
        self.purge_words = True

    def current_segments(self) -> dict[str, set[str]]:
        """Session id to the segments holding its current vectors."""
        return {sid: set(entry.segments) for sid, entry in self.sessions.items()}


def _entry(document: dict[str, Any]) -> IndexedSession:
    entry = IndexedSession(**document)
    if "embedded" not in document:  # format 3
        entry.embedded = entry.messages
    return entry
