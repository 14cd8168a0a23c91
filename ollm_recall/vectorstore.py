"""The vector index: immutable segments of unit vectors, memory-mapped, searched by exact dot product.

A segment is three files written once: ``<name>.npy`` (float32 rows), ``<name>.rows.npy`` (int32:
session ordinal, message index, chunk index) and ``<name>.sessions.json`` (the ordinals' ids). The
manifest says which segments are current for each session, so a re-indexed or deleted session's old
rows are simply not counted; nothing is rewritten in place.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
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


@dataclass(frozen=True)
class RowScores:
    """The similarity of every live row to one query (per segment, session-sorted) and each session's
    best row, from which exact session scores are taken."""

    scored: list[np.ndarray | None]
    bound: np.ndarray


class _Groups:
    """A segment's rows grouped by session (rows sorted by session when they are not already)."""

    def __init__(self, segment: Segment) -> None:
        ordinals = segment.rows[:, 0]
        ordered = bool(np.all(ordinals[1:] >= ordinals[:-1])) if len(ordinals) else True
        self.order: np.ndarray | None = None if ordered else np.argsort(ordinals, kind="stable")
        by_session = ordinals if self.order is None else ordinals[self.order]
        self.starts = np.flatnonzero(np.r_[True, by_session[1:] != by_session[:-1]]) if len(ordinals) \
            else np.zeros(0, dtype=np.int64)
        self.ends = np.r_[self.starts[1:], len(ordinals)].astype(np.int64)
        self.ordinals = by_session[self.starts] if len(ordinals) else np.zeros(0, dtype=np.int32)

    def row(self, position: int) -> int:
        """The segment row at ``position`` of the session-sorted order."""
        return position if self.order is None else int(self.order[position])


class VectorIndex:
    """All current segments; ``score`` then ``best`` rank sessions by their closest units.

    ``current`` maps a session id to the segments that hold its current vectors (rows in other segments
    are stale). Which groups of rows are live is worked out once here, not on every search.
    """

    def __init__(
        self, directory: Path, segment_names: Iterable[str], current: Mapping[str, Collection[str]]
    ) -> None:
        self.segments = [Segment(directory, name) for name in segment_names]
        self._groups = [_Groups(segment) for segment in self.segments]
        number: dict[str, int] = {}
        live_masks: list[np.ndarray] = []
        live_numbers: list[np.ndarray] = []
        session_groups: list[list[tuple[int, int, int]]] = []
        for k, (segment, groups) in enumerate(zip(self.segments, self._groups, strict=True)):
            mask = np.zeros(len(groups.ordinals), dtype=bool)
            numbers = np.zeros(len(groups.ordinals), dtype=np.int64)
            for g, ordinal in enumerate(groups.ordinals.tolist()):
                sid = segment.session_ids[ordinal]
                if segment.name not in current.get(sid, ()):
                    continue
                if sid not in number:
                    number[sid] = len(number)
                    session_groups.append([])
                mask[g], numbers[g] = True, number[sid]
                session_groups[number[sid]].append((k, int(groups.starts[g]), int(groups.ends[g])))
            live_masks.append(mask)
            live_numbers.append(numbers[mask])
        self.session_ids = list(number)
        self._number = number
        self._live_masks = live_masks
        self._live_numbers = live_numbers
        self._session_groups = session_groups

    def score(self, query: np.ndarray) -> RowScores:
        """Every live row's similarity to ``query`` (one matrix-vector product per segment, the costly
        part: it releases the GIL, so it can run beside the full-text search) and each session's best."""
        bound = np.full(len(self.session_ids), -np.inf, dtype=np.float32)
        scored: list[np.ndarray | None] = []
        for segment, groups, mask, numbers in zip(
            self.segments, self._groups, self._live_masks, self._live_numbers, strict=True
        ):
            if not len(numbers):
                scored.append(None)
                continue
            scores = np.asarray(segment.vectors @ query, dtype=np.float32)
            if groups.order is not None:
                scores = scores[groups.order]
            scored.append(scores)
            np.maximum.at(bound, numbers, np.maximum.reduceat(scores, groups.starts)[mask])
        return RowScores(scored, bound)

    def best(
        self,
        row_scores: RowScores,
        *,
        allowed: Collection[str] | None = None,
        exclude: Collection[str] = (),
        top: int = 3,
        candidates: int | None = None,
        also: Iterable[str] = (),
    ) -> dict[str, tuple[float, list[tuple[float, int, int]]]]:
        """The per-session work, done only for the ``candidates`` best sessions (all when None) and
        those in ``also``: a session's best single unit bounds its score, so sessions are taken in
        order of that bound until no other can do better. ``allowed`` and ``exclude`` limit them."""
        scored, bound = row_scores.scored, row_scores.bound.copy()
        if allowed is not None:
            keep = np.zeros(len(bound), dtype=bool)
            keep[[self._number[sid] for sid in allowed if sid in self._number]] = True
            bound[~keep] = -np.inf
        for sid in exclude:
            if sid in self._number:
                bound[self._number[sid]] = -np.inf
        found: dict[str, tuple[float, list[tuple[float, int, int]]]] = {}
        best: list[float] = []  # a min-heap of the ``candidates`` best scores so far
        for number in np.argsort(-bound, kind="stable").tolist():
            if bound[number] == -np.inf:
                break
            if candidates is not None and len(best) >= candidates and bound[number] < best[0]:
                break
            score, units = self._exact(number, scored, top)
            found[self.session_ids[number]] = (score, units)
            if candidates is not None:
                if len(best) < candidates:
                    heapq.heappush(best, score)
                elif score > best[0]:
                    heapq.heapreplace(best, score)
        for sid in also:
            number = self._number.get(sid, -1)
            if number >= 0 and sid not in found and bound[number] > -np.inf:
                found[sid] = self._exact(number, scored, top)
        return found

    def _exact(
        self, number: int, scored: list[np.ndarray | None], top: int
    ) -> tuple[float, list[tuple[float, int, int]]]:
        """One session's exact score and best units, from the rows already scored."""
        groups = self._session_groups[number]
        parts = [scored[k][start:end] for k, start, end in groups]  # type: ignore[index]
        values = parts[0] if len(parts) == 1 else np.concatenate(parts)
        best = np.argsort(-values, kind="stable")[:top]
        units: list[tuple[float, int, int]] = []
        for index in best.tolist():
            for k, start, end in groups:  # the group this position falls in
                if index < end - start:
                    row = self.segments[k].rows[self._groups[k].row(start + index)]
                    break
                index -= end - start
            units.append((float(values[best[len(units)]]), int(row[1]), int(row[2])))
        return sum(unit[0] for unit in units) / len(units), units
