"""Sessions the words index does not hold yet, searched by reading their files.

Right after a big import, or on a home whose first index is still being built, most sessions are not
in the full-text index yet, and a search of the index alone finds nothing. These sessions are read
directly, newest first, for as long as a time budget allows, and ranked by BM25 over the sessions
read, with the index's own word analysis (``snippets.matched_words``): a conversation is found by its
words at once, whatever the indexer has done so far.
"""

from __future__ import annotations

import math
import os
import time
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

import orjson

from .._time import format_timestamp, parse_timestamp
from ..archive.session_file import read_session_bytes, session_id_of
from ..archive.store import SessionStore
from ..errors import CorruptSession, SessionNotFound
from ..index.textsearch import BM25_B, BM25_K1
from .results import Hit
from .snippets import matched_words, snippets_of

SCAN_BUDGET_SECONDS = 2.0
"""How long a search may spend on sessions the index does not hold, with what its sync before it took
(``ollm recall`` gives the reading what the sync left, at least ``SCAN_MIN_SECONDS``): about 7,500
sessions read on 2 cores beside a busy indexer; the rest is left to the indexer, and the search says
how many it read."""
SCAN_MIN_SECONDS = 0.5


@dataclass(frozen=True)
class ReadHeader:
    """What a session read directly is, for the search's filters and its hit."""

    session_id: str
    start_time: str
    last_activity: str
    model: str
    provider: str


@dataclass(frozen=True)
class ScanResult:
    """Sessions read directly: those matching, best first, with a BM25 score over the sessions read,
    the share of the idf of the question's words found in any of them that each holds (``coverage``,
    0-1), and their headers."""

    ranked: list[tuple[str, float]] = field(default_factory=list)
    coverage: dict[str, float] = field(default_factory=dict)
    headers: dict[str, ReadHeader] = field(default_factory=dict)
    scanned: int = 0
    unindexed: int = 0

    def hits(self, store: SessionStore, terms: list[str], role: str | None, limit: int) -> list[Hit]:
        """The best ``limit`` matching sessions as hits (read again whole, for their snippets): a hit's
        score is its share of the question's words (no estimate of relevance: its meaning is not
        known yet)."""
        found: list[Hit] = []
        for session_id, _score in self.ranked:
            if len(found) >= limit:
                break
            try:
                session = store.read(session_id)
            except (SessionNotFound, CorruptSession):
                continue
            found.append(
                Hit(
                    session_id=session_id,
                    score=round(self.coverage[session_id], 4),
                    title=session.title,
                    start_time=format_timestamp(parse_timestamp(session.start_time).astimezone()),
                    model=session.model,
                    provider=session.provider,
                    snippets=snippets_of(session, terms, [], role),
                )
            )
        return found


class UnindexedSessions:
    """The sessions of a store that a words index does not hold, listed again only when the sessions
    folder or the index changed (a stat of the folder otherwise)."""

    def __init__(self, store: SessionStore) -> None:
        self.store = store
        self._seen: tuple[int, int, list[str]] | None = None

    def read(
        self,
        indexed: Collection[str],
        terms: list[str],
        *,
        kept: Callable[[ReadHeader], bool],
        role: str | None,
        budget: float = SCAN_BUDGET_SECONDS,
    ) -> ScanResult:
        """``scan`` of the sessions ``indexed`` leaves out, of those ``kept`` accepts."""
        try:
            stamp = self.store.directory.stat().st_mtime_ns
        except OSError:
            return ScanResult()
        if self._seen is None or self._seen[:2] != (stamp, len(indexed)):
            self._seen = (stamp, len(indexed), unindexed_ids(self.store, indexed))
        if not self._seen[2]:
            return ScanResult()
        return scan(self.store, self._seen[2], terms, kept=kept, role=role, budget=budget)


def unindexed_ids(store: SessionStore, indexed: Collection[str]) -> list[str]:
    """Ids of the session files the index does not hold, most recently written first."""
    entries = []
    for path in store.session_files():
        session_id = session_id_of(path.name) or ""
        if session_id not in indexed and store.file_for(session_id) == path:
            try:
                entries.append((os.stat(path).st_mtime_ns, session_id))
            except OSError:
                continue
    return [session_id for _stamp, session_id in sorted(entries, reverse=True)]


def _read(store: SessionStore, session_id: str, role: str | None) -> tuple[ReadHeader, str] | None:
    """A session file's header and searchable text, parsed fast (none for a file that cannot be read
    as a session: the listing reports those)."""
    try:
        document = orjson.loads(read_session_bytes(store.file_for(session_id)))
        header = ReadHeader(
            session_id,
            str(document["startTime"]),
            str(document["lastActivity"]),
            str(document["model"]),
            str(document["provider"]),
        )
        texts = [
            part["text"]
            for message in document["messages"]
            if not message.get("excludeFromContext") and (role is None or message.get("role") == role)
            for part in message["parts"]
            if part.get("type") == "text" and isinstance(part.get("text"), str)
        ]
    except (OSError, CorruptSession, orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
        return None
    return header, "\n".join(texts)


def scan(
    store: SessionStore,
    session_ids: list[str],
    terms: list[str],
    *,
    kept: Callable[[ReadHeader], bool] = lambda header: True,
    role: str | None = None,
    budget: float = SCAN_BUDGET_SECONDS,
) -> ScanResult:
    """Read ``session_ids`` in order until ``budget`` seconds are spent, and rank those ``kept``
    accepts that hold any of ``terms`` (analysed query words; in messages of ``role`` only, if
    given) by BM25 over all the sessions read."""
    wanted = frozenset(terms)
    if not wanted or not session_ids:
        return ScanResult(unindexed=len(session_ids))
    deadline = time.monotonic() + budget
    frequencies: dict[str, Counter[str]] = {}
    lengths: dict[str, int] = {}
    headers: dict[str, ReadHeader] = {}
    total_length = scanned = 0
    for session_id in session_ids:
        if scanned and time.monotonic() > deadline:
            break
        read = _read(store, session_id, role)
        if read is None:
            continue
        header, text = read
        scanned += 1
        length = text.count(" ") + text.count("\n") + 1
        total_length += length
        if not kept(header):
            continue
        found = Counter(stem for _start, _end, stem in matched_words(text, wanted))
        if found:
            frequencies[session_id], lengths[session_id], headers[session_id] = found, length, header
    if not frequencies:
        return ScanResult(scanned=scanned, unindexed=len(session_ids))
    average = total_length / scanned
    documents = Counter(term for found in frequencies.values() for term in found)
    idf = {term: math.log(1 + (scanned - count + 0.5) / (count + 0.5)) for term, count in documents.items()}
    question_idf = sum(idf.values())  # of the question's words found at all: the others tell nothing
    scores, coverage = {}, {}
    for session_id, found in frequencies.items():
        norm = BM25_K1 * (1 - BM25_B + BM25_B * lengths[session_id] / average)
        scores[session_id] = sum(
            idf[term] * count * (BM25_K1 + 1) / (count + norm) for term, count in found.items()
        )
        coverage[session_id] = sum(idf[term] for term in found) / question_idf
    ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
    return ScanResult(ranked, coverage, headers, scanned, len(session_ids))


def merged_by_coverage(
    indexed: list[Hit], coverage: dict[str, float], read: list[Hit], limit: int
) -> list[Hit]:
    """The index's hits and the sessions read directly, as one list of at most ``limit``: each list
    keeps its own order, and the next hit is the head with the larger share of the question's words
    (a hit found by meaning alone holds none of them)."""
    merged: list[Hit] = []
    first, second = 0, 0
    while len(merged) < limit and (first < len(indexed) or second < len(read)):
        take_read = first >= len(indexed) or (
            second < len(read) and read[second].score > coverage.get(indexed[first].session_id, 0.0)
        )
        if take_read:
            merged.append(read[second])
            second += 1
        else:
            merged.append(indexed[first])
            first += 1
    return merged
