"""The vector index: immutable segments of unit vectors (``vector_segments``), memory-mapped,
searched by dot product. The manifest says which segments are current for each session, so a
re-indexed or deleted session's old rows are simply not counted; nothing is rewritten in place.

Small indexes are scored exactly, every row. Past ``EXACT_ROWS`` rows the float rows are too many to
read on every search (the product is bound by memory bandwidth, and at 50,000 sessions they would not
stay resident): the rows whose sign bits are closest to the query's (Hamming distance) are scored
exactly, and the sessions with the best of those rows are scored in full.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..archive.sealed_files import Sealer
from .vector_segments import Segment, file_identity, sign_bits

EXACT_ROWS = 400_000
"""Up to this many live rows every row is scored exactly; past it, sign bits choose what to score."""

RESCORE_ROWS = 4096
"""How many rows with the closest sign bits are scored exactly, to choose the sessions to score."""

SHORTLIST = 3
"""After the sign-bit pass, this many times the sessions asked for are scored exactly..."""

MIN_SHORTLIST = 300
"""...and never fewer than this: a session's estimate is its best row, its score the mean of its best
three, so a short list misses sessions whose rows are all close but none closest. Measured at 10,000
sessions by meaning alone (10 asked for): 30 sessions scored kept 39% of the exact top 10 and the same
first session for 67% of the questions; 300 kept 95% and the first for all."""

SESSION_UNITS = 3
"""A session's score is the mean similarity of this many of its closest units (fewer if it has fewer)."""


@dataclass(frozen=True)
class RowScores:
    """What one query's first pass found: each session's best row's similarity (of all its rows when
    ``scored`` holds every live row's similarity, per segment and session-sorted; else of its rows in
    the sign-bit shortlist) and, after an exact pass, a tighter bound on its score (the mean of its
    ``SESSION_UNITS`` best rows) from its best two rows."""

    query: np.ndarray
    scored: list[np.ndarray | None] | None
    bound: np.ndarray
    score_bound: np.ndarray | None = None

    @property
    def exact(self) -> bool:
        return self.scored is not None


def _best_two(scores: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The largest and second largest score of each run ``starts[i]:ends[i]`` (the largest again when
    it occurs twice; minus infinity for a run of one)."""
    first = np.maximum.reduceat(scores, starts)
    is_first = scores == np.repeat(first, ends - starts)
    rest = np.where(is_first, np.float32(-np.inf), scores)
    second = np.maximum.reduceat(rest, starts)
    ties = np.add.reduceat(is_first, starts) > 1
    return first, np.where(ties, first, second)


class _Groups:
    """A segment's rows grouped by session (rows sorted by session when they are not already)."""

    def __init__(self, segment: Segment) -> None:
        ordinals = segment.rows[:, 0]
        ordered = bool(np.all(ordinals[1:] >= ordinals[:-1])) if len(ordinals) else True
        self.order: np.ndarray | None = None if ordered else np.argsort(ordinals, kind="stable")
        by_session = ordinals if self.order is None else ordinals[self.order]
        self.starts = (
            np.flatnonzero(np.r_[True, by_session[1:] != by_session[:-1]])
            if len(ordinals)
            else np.zeros(0, dtype=np.int64)
        )
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
        self,
        directory: Path,
        segment_names: Iterable[str],
        current: Mapping[str, Collection[str]],
        *,
        sealer: Sealer,
        reuse: VectorIndex | None = None,
    ) -> None:
        """``reuse``: an index over an earlier manifest, whose unchanged segments are taken as they
        are loaded (a sync that adds one session should not make the next search reload them all)."""
        loaded: dict[str, tuple[Segment, _Groups]] = (
            {}
            if reuse is None
            else {
                segment.name: (segment, groups)
                for segment, groups in zip(reuse.segments, reuse._groups, strict=True)
            }
        )
        self.segments: list[Segment] = []
        self._groups: list[_Groups] = []
        for name in segment_names:
            known = loaded.get(name)
            if known is not None and known[0].identity == file_identity(directory / f"{name}.npy"):
                segment, groups = known
            else:
                segment = Segment(directory, name, sealer)
                groups = _Groups(segment)
            self.segments.append(segment)
            self._groups.append(groups)
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
        self._live_numbers = live_numbers
        self._session_groups = session_groups
        self._row_numbers: list[np.ndarray] = []
        for groups, mask, numbers in zip(self._groups, live_masks, live_numbers, strict=True):
            sizes = groups.ends - groups.starts
            row_numbers = np.full(int(sizes.sum()), len(number), dtype=np.int64)  # stale rows: len(number)
            row_numbers[np.repeat(mask, sizes)] = np.repeat(numbers, sizes[mask])
            if groups.order is not None:  # back from session-sorted positions to segment rows
                row_numbers[groups.order] = row_numbers.copy()
            self._row_numbers.append(row_numbers)
        self._split_sessions = np.flatnonzero(np.array([len(g) > 1 for g in session_groups], dtype=bool))
        self._live_rows = sum(int((numbers < len(number)).sum()) for numbers in self._row_numbers)
        # every segment's groups laid end to end, so that a search's bookkeeping is a few array
        # operations over all of them rather than a dozen per segment
        sizes = [len(segment.rows) for segment in self.segments]
        self._offsets = np.cumsum([0, *sizes])
        self._all_starts = (
            np.concatenate(
                [groups.starts + offset for groups, offset in zip(self._groups, self._offsets, strict=False)]
            ).astype(np.int64)
            if self.segments
            else np.zeros(0, dtype=np.int64)
        )
        self._all_ends = (
            np.concatenate(
                [groups.ends + offset for groups, offset in zip(self._groups, self._offsets, strict=False)]
            ).astype(np.int64)
            if self.segments
            else np.zeros(0, dtype=np.int64)
        )
        self._all_live = np.concatenate(live_masks) if live_masks else np.zeros(0, dtype=bool)
        self._all_numbers = np.concatenate(live_numbers) if live_numbers else np.zeros(0, dtype=np.int64)
        self._all_units = np.minimum(self._all_ends - self._all_starts, SESSION_UNITS)[self._all_live]
        self._bits_cache: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self.exact_rows = EXACT_ROWS
        """Up to this many live rows, every row is scored through the memory map; past it, the sign
        bits choose and the chosen rows are read with ``pread``, so the float rows never become part
        of the process's resident memory (what a long-lived server wants)."""

    @property
    def live_rows(self) -> int:
        """How many rows count (current for their session)."""
        return self._live_rows

    def score(self, query: np.ndarray, allowed: Collection[str] | None = None) -> RowScores:
        """The first pass of a search (the costly part: it releases the GIL, so it can run beside the
        full-text search): every live row's similarity to ``query`` when the index is small, else a
        sign-bit shortlist of rows (only of ``allowed`` sessions, when given) scored exactly."""
        if self._live_rows > self.exact_rows:
            return self._score_bits(query, allowed)
        bound = np.full(len(self.session_ids), -np.inf, dtype=np.float32)
        score_bound = np.full(len(self.session_ids), -np.inf, dtype=np.float32)
        flat = np.empty(int(self._offsets[-1]), dtype=np.float32)
        scored: list[np.ndarray | None] = []
        for k, (segment, groups, numbers) in enumerate(
            zip(self.segments, self._groups, self._live_numbers, strict=True)
        ):
            part = flat[self._offsets[k] : self._offsets[k + 1]]
            if not len(numbers):
                part.fill(-np.inf)
                scored.append(None)
                continue
            np.matmul(segment.vectors, query, out=part)
            if groups.order is not None:
                part[:] = part[groups.order]
            scored.append(part)
        if len(self._all_numbers):
            first, second = _best_two(flat, self._all_starts, self._all_ends)
            first, second = first[self._all_live], second[self._all_live]
            units = self._all_units
            second = np.where(units > 1, second, np.float32(0))  # unused for a session of one row
            np.maximum.at(bound, self._all_numbers, first)
            np.maximum.at(score_bound, self._all_numbers, (first + (units - 1) * second) / units)
        # a session with rows in several segments may take its best units from more than one
        score_bound[self._split_sessions] = bound[self._split_sessions]
        return RowScores(query, scored, bound, score_bound)

    def _score_bits(self, query: np.ndarray, allowed: Collection[str] | None) -> RowScores:
        """Score exactly the ``RESCORE_ROWS`` rows whose sign bits are closest to the query's; a
        session's best row among them is its estimate."""
        columns, numbers, offsets = self._all_bits()
        wanted = sign_bits(query.reshape(1, -1))[0]
        distance = np.bitwise_count(columns[0] ^ wanted[0]).astype(np.int16)
        for column, word in zip(columns[1:], wanted[1:], strict=True):
            distance += np.bitwise_count(column ^ word)
        keep = np.append(
            np.ones(len(self.session_ids), dtype=bool) if allowed is None else self._mask(allowed), False
        )  # the last one is for dead rows
        unwanted = 64 * len(columns) + 1  # farther than any two rows can be
        distance[~keep[numbers]] = unwanted
        within = np.cumsum(np.bincount(distance, minlength=unwanted + 1))  # rows within each distance
        threshold = (
            int(np.searchsorted(within, RESCORE_ROWS))
            if within[unwanted - 1] > RESCORE_ROWS
            else unwanted - 1
        )
        closest = np.flatnonzero(distance <= threshold)[: RESCORE_ROWS * 2]
        bound = np.full(len(self.session_ids), -np.inf, dtype=np.float32)
        cuts = np.searchsorted(closest, offsets)
        for k, segment in enumerate(self.segments):
            rows = closest[cuts[k] : cuts[k + 1]] - offsets[k]
            if len(rows):
                values = np.asarray(segment.read_rows(rows) @ query, dtype=np.float32)
                np.maximum.at(bound, numbers[rows + offsets[k]], values)
        return RowScores(query, None, bound)

    def _all_bits(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every segment's sign bits in one array, one row per 64-bit word (a layout numpy counts bits
        in fastest), each row's session number (``len(session_ids)`` for a stale row), and where each
        segment starts."""
        if self._bits_cache is None:
            columns = np.ascontiguousarray(np.concatenate([segment.bits() for segment in self.segments]).T)
            self._bits_cache = (columns, np.concatenate(self._row_numbers), self._offsets)
        return self._bits_cache

    def best(
        self,
        row_scores: RowScores,
        *,
        allowed: Collection[str] | None = None,
        exclude: Collection[str] = (),
        top: int = SESSION_UNITS,
        candidates: int | None = None,
        also: Iterable[str] = (),
    ) -> dict[str, tuple[float, list[tuple[float, int, int]]]]:
        """Sessions' exact scores (the mean of their ``top`` closest units) and those units, for the
        ``candidates`` best sessions (all when None) and those in ``also``; ``allowed`` and ``exclude``
        limit them. After an exact first pass a session's best two units bound its score, so sessions
        are taken in order of that bound until no other can do better; after a sign-bit pass, the
        ``SHORTLIST`` times ``candidates`` (at least ``MIN_SHORTLIST``) sessions with the best
        estimates are scored."""
        eligible = np.ones(len(self.session_ids), dtype=bool) if allowed is None else self._mask(allowed)
        for sid in exclude:
            if sid in self._number:
                eligible[self._number[sid]] = False
        ceiling = row_scores.bound
        if row_scores.score_bound is not None and top == SESSION_UNITS:
            ceiling = row_scores.score_bound
        bound = np.where(eligible, ceiling, -np.inf)
        found: dict[str, tuple[float, list[tuple[float, int, int]]]] = {}
        best: list[float] = []  # a min-heap of the ``candidates`` best scores so far
        for number in np.argsort(-bound, kind="stable").tolist():
            if bound[number] == -np.inf:
                break
            if (
                candidates is not None
                and len(best) >= candidates
                and (
                    bound[number] < best[0]
                    if row_scores.exact
                    else len(found) >= max(candidates * SHORTLIST, MIN_SHORTLIST)
                )
            ):
                break
            score, units = self._exact(number, row_scores, top)
            found[self.session_ids[number]] = (score, units)
            if candidates is not None:
                if len(best) < candidates:
                    heapq.heappush(best, score)
                elif score > best[0]:
                    heapq.heapreplace(best, score)
        for sid in also:
            number = self._number.get(sid, -1)
            if number >= 0 and sid not in found and eligible[number]:
                found[sid] = self._exact(number, row_scores, top)
        return found

    def _mask(self, sessions: Collection[str]) -> np.ndarray:
        """True for the numbers of ``sessions`` (those this index has)."""
        mask = np.zeros(len(self.session_ids), dtype=bool)
        mask[[self._number[sid] for sid in sessions if sid in self._number]] = True
        return mask

    def _exact(
        self, number: int, row_scores: RowScores, top: int
    ) -> tuple[float, list[tuple[float, int, int]]]:
        """One session's exact score and best units, from the rows already scored or scored now."""
        groups = self._session_groups[number]
        if row_scores.scored is not None:
            parts = [row_scores.scored[k][start:end] for k, start, end in groups]  # type: ignore[index]
        else:
            parts = [self._rows_of(k, start, end) @ row_scores.query for k, start, end in groups]
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

    def centroids(self, session_ids: Iterable[str]) -> dict[str, np.ndarray]:
        """The mean of each session's current rows, as a unit vector (sessions without rows left
        out): what the second stage compares sessions by."""
        found = {}
        for sid in session_ids:
            units = self.session_units(sid)
            if units is None:
                continue
            mean = units[1].mean(axis=0)
            norm = float(np.linalg.norm(mean))
            if norm > 0:
                found[sid] = mean / norm
        return found

    def session_units(self, session_id: str) -> tuple[np.ndarray, np.ndarray] | None:
        """The message index of each of a session's current rows and the rows themselves (None for a
        session without rows): what a feature of the second stage is computed from."""
        number = self._number.get(session_id)
        if number is None:
            return None
        groups = self._session_groups[number]
        messages = np.concatenate([self._message_numbers(k, start, end) for k, start, end in groups])
        return messages, np.concatenate([self._rows_of(k, start, end) for k, start, end in groups])

    def _message_numbers(self, k: int, start: int, end: int) -> np.ndarray:
        """The message index of segment ``k``'s rows at session-sorted positions ``start:end``."""
        order, segment = self._groups[k].order, self.segments[k]
        rows = np.arange(start, end) if order is None else order[start:end]
        return segment.rows[rows, 1]

    def _rows_of(self, k: int, start: int, end: int) -> np.ndarray:
        """The float rows of segment ``k`` at session-sorted positions ``start:end``."""
        order, segment = self._groups[k].order, self.segments[k]
        if order is None:
            return segment.read_rows(np.arange(start, end))
        rows = order[start:end]
        ascending = np.argsort(rows)
        values = np.empty((len(rows), segment.vectors.shape[1]), dtype=segment.vectors.dtype)
        values[ascending] = segment.read_rows(rows[ascending])
        return values
