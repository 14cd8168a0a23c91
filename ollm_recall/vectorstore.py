"""The vector index: immutable segments of unit vectors, memory-mapped, searched by exact dot product.

A segment is three files written once: ``<name>.npy`` (float32 rows), ``<name>.rows.npy`` (int32:
session ordinal, message index, chunk index) and ``<name>.sessions.json`` (the ordinals' ids). The
manifest says which segments are current for each session, so a re-indexed or deleted session's old
rows are simply not counted; nothing is rewritten in place.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import orjson

from .atomic import write_atomic


def _npy_bytes(array: np.ndarray) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


class Segment:
    """One segment, loaded lazily and memory-mapped."""

    def __init__(self, directory: Path, name: str) -> None:
        self.name = name
        self.vectors: np.ndarray = np.load(directory / f"{name}.npy", mmap_mode="r")
        self.rows: np.ndarray = np.load(directory / f"{name}.rows.npy")
        self.session_ids: list[str] = orjson.loads((directory / f"{name}.sessions.json").read_bytes())
        if self.vectors.shape[0] != self.rows.shape[0]:
            raise ValueError(f"segment {name}: {self.vectors.shape[0]} vectors, {self.rows.shape[0]} rows")


def write_segment(
    directory: Path, name: str, vectors: np.ndarray, keys: list[tuple[str, int, int]]
) -> None:
    """Write a segment's three files atomically (the manifest that names it is written after)."""
    directory.mkdir(parents=True, exist_ok=True)
    ordinals: dict[str, int] = {}
    rows = np.array(
        [(ordinals.setdefault(sid, len(ordinals)), message, chunk) for sid, message, chunk in keys],
        dtype=np.int32,
    ).reshape(-1, 3)
    write_atomic(directory / f"{name}.sessions.json", orjson.dumps(list(ordinals)))
    write_atomic(directory / f"{name}.rows.npy", _npy_bytes(rows))
    write_atomic(directory / f"{name}.npy", _npy_bytes(np.ascontiguousarray(vectors, dtype=np.float32)))


class VectorIndex:
    """All current segments; ``best_per_session`` scores sessions by their closest units."""

    def __init__(self, directory: Path, segment_names: Iterable[str]) -> None:
        self.segments = [Segment(directory, name) for name in segment_names]

    def best_per_session(
        self,
        query: np.ndarray,
        current: dict[str, set[str]],
        *,
        allowed: set[str] | None = None,
        top: int = 3,
    ) -> dict[str, tuple[float, list[tuple[float, int, int]]]]:
        """Each session's score (the mean similarity of its ``top`` closest units) and those units
        as (score, message, chunk), best first.

        ``current`` maps a session id to the segment names that hold its current vectors; rows of other
        segments are stale. ``allowed`` limits the sessions (filters).
        """
        number: dict[str, int] = {}
        all_scores, all_sessions, all_messages, all_chunks = [], [], [], []
        for segment in self.segments:
            live = np.fromiter(
                (
                    segment.name in current.get(sid, ()) and (allowed is None or sid in allowed)
                    for sid in segment.session_ids
                ),
                dtype=bool,
                count=len(segment.session_ids),
            )
            if not live.any():
                continue
            global_ids = np.array([number.setdefault(sid, len(number)) for sid in segment.session_ids])
            row_live = live[segment.rows[:, 0]]
            # score every row of the mapped file in place: gathering the live rows first would copy them
            scores = np.asarray(segment.vectors @ query, dtype=np.float32)
            indices = np.flatnonzero(row_live)
            all_scores.append(scores if len(indices) == len(scores) else scores[indices])
            all_sessions.append(global_ids[segment.rows[indices, 0]])
            all_messages.append(segment.rows[indices, 1])
            all_chunks.append(segment.rows[indices, 2])
        if not all_scores:
            return {}
        names = list(number)
        scores = np.concatenate(all_scores)
        sessions = np.concatenate(all_sessions)
        order = np.lexsort((-scores, sessions))
        sessions, scores = sessions[order], scores[order]
        messages, chunks = np.concatenate(all_messages)[order], np.concatenate(all_chunks)[order]
        starts = np.flatnonzero(np.r_[True, sessions[1:] != sessions[:-1]])
        sizes = np.diff(np.r_[starts, len(sessions)])
        rank = np.arange(len(sessions)) - np.repeat(starts, sizes)
        keep = rank < top
        sums = np.bincount(sessions[keep], weights=scores[keep], minlength=len(names))
        counts = np.bincount(sessions[keep], minlength=len(names))
        found: dict[str, tuple[float, list[tuple[float, int, int]]]] = {}
        for start, size in zip(starts.tolist(), sizes.tolist(), strict=True):
            session = int(sessions[start])
            units = [
                (float(scores[row]), int(messages[row]), int(chunks[row]))
                for row in range(start, start + min(size, top))
            ]
            found[names[session]] = (float(sums[session] / counts[session]), units)
        return found
