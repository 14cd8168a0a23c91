"""BM25F ranking of whole-session documents, vectorised over whoosh's own postings.

whoosh scores a query one posting at a time in Python: on a large archive, where common words occur
in most sessions, that is ~100 ms a question. This reads each query term's postings a block at a time
into numpy arrays and computes the same BM25F scores (same idf, average length, quantised document
lengths and parameters) for every document at once. The block-level reads use whoosh's on-disk
postings format directly; where a reader does not offer them, the public one-posting-at-a-time
interface is used instead (same result, slower).
"""

from __future__ import annotations

import functools
from collections.abc import Collection
from typing import Any

import numpy as np
from whoosh.codec.whoosh3 import LENGTHS_COLUMN
from whoosh.reading import TermNotFound
from whoosh.util.numeric import byte_to_length

FIELD = "text"


@functools.lru_cache(maxsize=1)
def _byte_to_length() -> np.ndarray:
    table = np.array([byte_to_length(b) for b in range(256)], dtype=np.float64)
    table[0] = 1.0  # whoosh's scorer reads a missing length as 1
    return table


class LeafData:
    """What ranking needs from one segment, read once: document lengths and deleted documents."""

    def __init__(self, reader: Any) -> None:
        count = reader.doc_count_all()
        self.lengths = _lengths(reader, count)
        deleted = sorted(reader.deleted_docs_set) if reader.has_deletions() else []
        self.live = np.ones(count, dtype=bool)
        self.live[np.asarray(deleted, dtype=np.int64)] = False


def _lengths(reader: Any, count: int) -> np.ndarray:
    """Every document's quantised field length, as whoosh's BM25F scorer sees it."""
    try:
        column = reader._perdoc._cached_reader(f"_{FIELD}_len", LENGTHS_COLUMN)
        raw = np.frombuffer(column._dbfile.get(column._basepos, column._count), dtype=np.uint8)
        codes = np.zeros(count, dtype=np.uint8)
        codes[: min(count, len(raw))] = raw[:count]
        return _byte_to_length()[codes]
    except (AttributeError, TypeError):
        return np.array([reader.doc_field_length(d, FIELD, 1) or 1 for d in range(count)], dtype=np.float64)


def postings(reader: Any, term: str) -> tuple[np.ndarray, np.ndarray]:
    """The documents of one segment that hold ``term`` (deleted ones included) and its frequency in each."""
    try:
        matcher = reader.postings(FIELD, term)
    except TermNotFound:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    leaf = getattr(matcher, "child", matcher)  # deleted documents are masked by the caller
    ids: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    if all(hasattr(leaf, name) for name in ("_read_ids", "_read_weights", "_next_block", "_atend")):
        while leaf.is_active():
            leaf._read_ids()
            leaf._read_weights()
            ids.append(np.asarray(leaf._ids, dtype=np.int64))
            weights.append(np.asarray(leaf._weights, dtype=np.float64))
            leaf._next_block()
    else:
        found: list[tuple[int, float]] = []
        while leaf.is_active():
            found.append((leaf.id(), leaf.weight()))
            leaf.next()
        ids.append(np.array([f[0] for f in found], dtype=np.int64))
        weights.append(np.array([f[1] for f in found], dtype=np.float64))
    if not ids:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    return np.concatenate(ids), np.concatenate(weights)


class SessionRanker:
    """Ranks a whoosh searcher's documents by BM25F for a bag of terms, keeping per-segment data
    between searches (segments never change; a new searcher reuses what it shares with the last)."""

    def __init__(self, b: float, k1: float) -> None:
        self.b = b
        self.k1 = k1
        self._leaves: dict[tuple[str, int], LeafData] = {}

    def rank(
        self, searcher: Any, terms: list[str], *, allowed: Collection[int] | None, limit: int
    ) -> list[tuple[int, float]]:
        """The ``limit`` best documents (global numbers) with their scores, best first; only
        ``allowed`` documents when given. Documents that match no term are not ranked."""
        return self.rank_with_coverage(searcher, terms, allowed=allowed, limit=limit)[0]

    def rank_with_coverage(
        self, searcher: Any, terms: list[str], *, allowed: Collection[int] | None, limit: int
    ) -> tuple[list[tuple[int, float]], dict[int, float]]:
        """``rank``'s documents, and for each the share of the query's idf it contains, its coverage
        (1.0: every term; a feature of the second stage)."""
        total = searcher.doc_count_all()
        scores = np.zeros(total, dtype=np.float64)
        covered = np.zeros(total, dtype=np.float64)
        average = searcher.avg_field_length(FIELD) or 1.0
        weights = {term: searcher.idf(FIELD, term) for term in terms}
        seen: dict[tuple[str, int], LeafData] = {}
        for reader, base in searcher.reader().leaf_readers():
            leaf = self._leaf(reader, seen)
            for term, idf in weights.items():
                ids, frequencies = postings(reader, term)
                if not len(ids):
                    continue
                normalised = (1 - self.b) + self.b * leaf.lengths[ids] / average
                gain = idf * frequencies * (self.k1 + 1) / (frequencies + self.k1 * normalised)
                scores[base + ids] += np.where(leaf.live[ids], gain, 0.0)
                covered[base + ids] += idf
        self._leaves = seen
        if allowed is not None:
            keep = np.zeros(total, dtype=bool)
            keep[np.fromiter(allowed, dtype=np.int64, count=len(allowed))] = True
            scores[~keep] = 0.0
        matched = np.flatnonzero(scores > 0)
        if len(matched) > limit:
            matched = matched[np.argpartition(-scores[matched], limit - 1)[:limit]]
        ordered = matched[np.lexsort((matched, -scores[matched]))]
        mass = sum(weights.values()) or 1.0
        coverage = {int(doc): float(covered[doc] / mass) for doc in ordered}
        return [(int(doc), float(scores[doc])) for doc in ordered], coverage

    def _leaf(self, reader: Any, seen: dict[tuple[str, int], LeafData]) -> LeafData:
        segment = reader.segment()
        key = (segment.segment_id() if segment is not None else str(id(reader)), reader.doc_count())
        leaf = self._leaves.get(key) or LeafData(reader)
        seen[key] = leaf
        return leaf
