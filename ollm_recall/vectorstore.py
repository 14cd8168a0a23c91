"""The vector index: immutable segments of unit vectors, memory-mapped, searched by exact dot product.

A segment is three files written once: ``<name>.npy`` (float32 rows), ``<name>.rows.npy`` (int32:
session ordinal, first message, last message) and ``<name>.sessions.json`` (the ordinals' ids). The
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
        [(ordinals.setdefault(session_id, len(ordinals)), first, last) for session_id, first, last in keys],
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
        top_units: int = 2000,
    ) -> dict[str, list[tuple[float, int, int]]]:
        """Sessions owning the ``top_units`` closest units, each with its units' (score, first, last).

        ``current`` maps a session id to the segment names that hold its current vectors; rows of other
        segments are stale. ``allowed`` limits the sessions (filters).
        """
        scored: list[tuple[np.ndarray, np.ndarray, Segment]] = []
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
            indices = np.flatnonzero(live[segment.rows[:, 0]])
            scores = np.asarray(segment.vectors[indices] @ query, dtype=np.float32)
            if len(indices) > top_units:
                keep = np.argpartition(-scores, top_units)[:top_units]
                indices, scores = indices[keep], scores[keep]
            scored.append((indices, scores, segment))
        candidates = [
            (float(score), segment, int(row))
            for indices, scores, segment in scored
            for row, score in zip(indices.tolist(), scores.tolist(), strict=True)
        ]
        candidates.sort(key=lambda item: -item[0])
        found: dict[str, list[tuple[float, int, int]]] = {}
        for score, segment, row in candidates[:top_units]:
            ordinal, first, last = (int(value) for value in segment.rows[row])
            found.setdefault(segment.session_ids[ordinal], []).append((score, first, last))
        return found
