"""The archive's main topics, from the session vectors the index already has: each session's mean
vector, clustered (spherical k-means, seeded: the same archive gives the same topics), each cluster
labelled by the words that tell it from the rest (a class-based TF-IDF over the words people typed),
and counted month by month to show how the topics moved.
"""

from __future__ import annotations

import contextlib
import io
import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from ..errors import IndexCorrupt, IndexMissing, IndexProblem
from ..index.indexer import Index
from ..index.vector_segments import Segment, SegmentDamaged
from .session_facts import SessionFacts

MAX_TOPICS = 8
MIN_SESSIONS = 6
"""Fewer sessions than this with vectors: no topics (there is nothing to group)."""
LABEL_WORDS = 4
ITERATIONS = 25


@dataclass
class Topic:
    """One group of sessions: its telling words, how many sessions, and how many a month."""

    words: list[str]
    sessions: int
    by_month: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"words": self.words, "sessions": self.sessions, "sessionsByMonth": self.by_month}


def session_vectors(index: Index, wanted: set[str]) -> tuple[list[str], np.ndarray]:
    """The mean of each wanted session's current vectors, as unit rows (sessions without any left out)."""
    manifest = index.load_manifest()
    current = manifest.current_segments()
    sums: dict[str, np.ndarray] = {}
    for name in manifest.segments:
        try:
            segment = Segment(index.vector_dir, name, index.sealer)
        except SegmentDamaged:
            continue
        owners = segment.rows[:, 0]
        keep = np.array(
            [sid in wanted and name in current.get(sid, ()) for sid in segment.session_ids], dtype=bool
        )
        if not len(owners) or not keep.any():
            continue
        if np.all(owners[1:] >= owners[:-1]):  # written a session at a time: summed where they lie
            vectors, ordinals = segment.vectors, owners
        else:
            order = np.argsort(owners, kind="stable")
            vectors, ordinals = segment.vectors[order], owners[order]
        starts = np.flatnonzero(np.r_[True, ordinals[1:] != ordinals[:-1]])
        totals = np.add.reduceat(vectors, starts, axis=0)
        for ordinal, total in zip(ordinals[starts], totals, strict=True):
            if keep[ordinal]:
                sid = segment.session_ids[int(ordinal)]
                sums[sid] = sums[sid] + total if sid in sums else total
    ids = sorted(sums)
    if not ids:
        return [], np.zeros((0, 0), dtype=np.float32)
    matrix = np.stack([sums[sid] for sid in ids]).astype(np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return ids, matrix / np.where(norms > 0, norms, 1)


MEANS_CACHE = "session-means.npz"
"""Every session's mean vector, kept for as long as the manifest is unchanged (the index folder's
vectors are read whole to make it: 0.3 s at 10,000 sessions, 15 MB kept)."""


def all_session_vectors(index: Index) -> tuple[list[str], np.ndarray]:
    """``session_vectors`` of every session the index holds, from the cache while it is current."""
    path = index.directory / MEANS_CACHE
    try:
        status = index.manifest_path.stat()
    except OSError:
        raise IndexMissing("no index yet") from None
    stamp = np.array([status.st_mtime_ns, status.st_size], dtype=np.int64)
    with contextlib.suppress(OSError, ValueError, KeyError, IndexCorrupt):
        kept = np.load(io.BytesIO(index.sealer.read(path)), allow_pickle=False)
        if np.array_equal(kept["stamp"], stamp):
            return [str(sid) for sid in kept["ids"]], kept["means"]
    ids, means = session_vectors(index, set(index.load_manifest().sessions))
    buffer = io.BytesIO()
    np.savez(buffer, stamp=stamp, ids=np.array(ids, dtype=str), means=means)
    with contextlib.suppress(OSError):
        index.sealer.write(path, buffer.getvalue())  # sealed while the archive is encrypted
    return ids, means


def cluster(vectors: np.ndarray, k: int, *, seed: int = 7) -> np.ndarray:
    """Spherical k-means with k-means++ starts: each row's cluster number."""
    rng = np.random.default_rng(seed)
    centres = [vectors[int(rng.integers(len(vectors)))]]
    for _ in range(1, k):
        distance = np.clip(1 - np.max(vectors @ np.stack(centres).T, axis=1), 0, None)
        total = float(distance.sum())
        pick = (
            int(rng.choice(len(vectors), p=distance / total))
            if total > 0
            else int(rng.integers(len(vectors)))
        )
        centres.append(vectors[pick])
    centre = np.stack(centres)
    labels = np.zeros(len(vectors), dtype=np.int64)
    for _ in range(ITERATIONS):
        labels = np.argmax(vectors @ centre.T, axis=1)
        moved = centre.copy()
        for number in range(k):
            members = vectors[labels == number]
            if len(members):
                mean = members.sum(axis=0)
                moved[number] = mean / (np.linalg.norm(mean) or 1)
        if np.allclose(moved, centre):
            break
        centre = moved
    return labels


def label(groups: list[list[dict[str, int]]]) -> list[list[str]]:
    """Each group's most telling words: in many of its sessions, in few of all the sessions (the
    share of the group's sessions that have a word, times the word's inverse session frequency)."""
    sessions = [words for group in groups for words in group]
    frequency: Counter[str] = Counter(word for words in sessions for word in words)
    labels = []
    for group in groups:
        having: Counter[str] = Counter(word for words in group for word in words)
        scored = sorted(
            (
                (count / len(group) * math.log(len(sessions) / frequency[word]), word)
                for word, count in having.items()
                if count >= min(2, len(group)) and len(word) >= 4
            ),
            reverse=True,
        )
        labels.append([word for _score, word in scored[:LABEL_WORDS]])
    return labels


def find_topics(index: Index, facts: list[SessionFacts]) -> list[Topic]:
    """The topics of the sessions in ``facts`` (none when the index has too few of their vectors)."""
    by_id = {f.session_id: f for f in facts}
    try:
        every, means = all_session_vectors(index)
    except IndexProblem:
        return []
    chosen = [position for position, sid in enumerate(every) if sid in by_id]
    ids, vectors = [every[position] for position in chosen], means[chosen]
    if len(ids) < MIN_SESSIONS:
        return []
    k = max(2, min(MAX_TOPICS, round(math.sqrt(len(ids) / 4))))
    labels = cluster(vectors, k)
    topics = []
    groups = [[by_id[ids[i]].words for i in np.flatnonzero(labels == n)] for n in range(k)]
    for number, words in enumerate(label(groups)):
        members = [by_id[ids[i]] for i in np.flatnonzero(labels == number)]
        if not members:
            continue
        months = Counter(
            datetime.fromtimestamp(f.start_ms / 1000, UTC).astimezone().strftime("%Y-%m") for f in members
        )
        topics.append(Topic(words, len(members), dict(sorted(months.items()))))
    return sorted(topics, key=lambda topic: -topic.sessions)
