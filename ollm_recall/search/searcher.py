"""``Searcher``: one question over both indexes, with filters, fusion and snippets.

Hybrid ranking adds the session's normalised BM25F score and its best units' cosine similarity to the
question, weighted; both lists are cut to the candidates either side ranks highly, so a session must be
good on at least one side to appear.
"""

from __future__ import annotations

import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal, TypedDict, Unpack

from .._time import format_timestamp, milliseconds
from ..archive.listing import model_matches
from ..archive.session import ROLES, Session
from ..errors import CorruptSession, IndexProblem, SessionNotFound, UsageError
from ..index.indexer import EmbedderLike, Index
from ..index.manifest import Manifest
from ..index.textsearch import TextFilters, TextIndex, query_terms
from ..index.vectorstore import RowScores, VectorIndex
from .question_dates import DateRange, date_prior, dates_in
from .ranker import CANDIDATES, FirstStage, SecondStage, load_second_stage, session_relations
from .snippets import Snippet, best_text_messages, excerpt

Mode = Literal["hybrid", "text", "semantic"]
MODES: tuple[str, ...] = ("hybrid", "text", "semantic")
TEXT_WEIGHT = 0.2
DENSE_WEIGHT = 0.8
RECENCY_WEIGHT = 0.2
RECENCY_DAYS = 30.0
RELEVANCE_FLOOR = 0.2
"""Below this similarity to the question a session is not shown (``ollm recall`` without ``--all``):
calibrated on the dev set by ``benchmarks/recall_threshold.py`` (see docs/search.md)."""
DATE_WEIGHT = 0.3
"""What a session active in the question's dates gains (``query_dates``) in the first stage's score:
enough to lift it over sessions a little closer in meaning, not over ones that are far closer."""
DATE_LOG_ODDS = 3.0
"""The same for the second stage's score, a chance: its odds are multiplied by e^3 (20), so a likely
session in the dates goes first and an unlikely one stays unlikely (an added 0.3 would lift every
session of those days over every other)."""
RELEVANT_SIMILARITY = 0.5
"""A similarity at which a past session is relevant to a question (the chat's calibrated threshold)."""


@dataclass(frozen=True)
class Hit:
    """One session found, with its score and up to three snippets.

    ``similarity`` is the cosine similarity of the session's best passages to the question (0 when
    the dense side was not searched): unlike ``score``, it means the same from one question to the next.
    """

    session_id: str
    score: float
    title: str
    start_time: str
    model: str
    provider: str
    snippets: list[Snippet] = field(default_factory=list)
    similarity: float = 0.0
    units: tuple[tuple[float, int, int], ...] = field(default=(), repr=False, compare=False)


def check_options(*, mode: str = "hybrid", role: str | None = None, limit: int = 1) -> None:
    """``UsageError`` for a mode, role or limit a search cannot take: checked before any work."""
    if mode not in MODES:
        raise UsageError(f"unknown mode {mode!r}: use one of {', '.join(MODES)}")
    if role is not None and role not in ROLES:
        raise UsageError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    if limit < 1:
        raise UsageError(f"--limit must be at least 1, not {limit}")


@dataclass(frozen=True)
class SearchResult:
    """One search's answer: the hits, best first, and how they were found.

    ``ranked_by`` says which stage ordered them (``"second stage"``, ``"first stage"``, or the one
    side of a text or semantic search); ``first_stage`` is what the first stage knew of its candidates
    (kept when a second stage ranked or ``keep_first_stage`` asked for it); ``dates`` the question's
    date words as understood; ``below_floor`` how many of the best ``limit`` ``relevant_only`` left out;
    ``sessions_indexed`` how many sessions the index held.
    """

    hits: list[Hit]
    ranked_by: str = "first stage"
    first_stage: FirstStage | None = None
    dates: list[DateRange] = field(default_factory=list)
    below_floor: int = 0
    sessions_indexed: int = 0


class SearchOptions(TypedDict, total=False):
    """The options of ``Searcher.find``, for the methods that pass them on (typed at every call)."""

    limit: int
    since: datetime | None
    until: datetime | None
    model: str | None
    provider: str | None
    role: str | None
    session: str | None
    mode: Mode
    exclude: frozenset[str]
    snippets: bool
    relevant_only: bool


class Searcher:
    """Search the index of a home; keeps the indexes and the model open between searches."""

    def __init__(
        self,
        home: str | os.PathLike[str],
        *,
        index_dir: str | os.PathLike[str] | None = None,
        embedder: EmbedderLike | None = None,
        index: Index | None = None,
        second_stage: bool = True,
    ) -> None:
        self.index = index or Index(home, index_dir=index_dir, embedder=embedder)
        self.store = self.index.store
        self._text: TextIndex | None = None
        self._vectors: VectorIndex | None = None
        self._manifest: Manifest | None = None
        self._manifest_stamp: int | None = None
        self._pool: ThreadPoolExecutor | None = None
        self.second_stage: SecondStage | None = load_second_stage() if second_stage else None
        self.exact_rows: int | None = None
        """Past this many vector rows, search by sign bits rather than every row (None: the default,
        ``vectorstore.EXACT_ROWS``): a long-lived server keeps its memory small this way."""
        self.keep_first_stage = False
        """Return ``first_stage`` with a hybrid result even without a second stage (to train one)."""
        self._newest: tuple[Manifest, int] | None = None
        """The manifest last seen, and when its newest session was last active."""

    def _load(self) -> None:
        """(Re)open the indexes when the manifest changed since the last search.

        A writer may replace the manifest, swap in a rebuilt index (two renames and the manifest's)
        or remove segments no longer current while this reads: what fails to open is tried again a
        moment later, twice, before the problem is reported.
        """
        for _attempt in range(2):
            try:
                self._load_at(self._manifest_mtime())
                return
            except (IndexProblem, OSError):
                time.sleep(0.05)
        self._load_at(self._manifest_mtime())

    def _manifest_mtime(self) -> int | None:
        try:
            return self.index.manifest_path.stat().st_mtime_ns
        except FileNotFoundError:
            return None

    def _load_at(self, stamp: int | None) -> None:
        if self._manifest is not None and stamp == self._manifest_stamp:
            return
        manifest = self.index.load_manifest()  # parsed once per version of the file

        try:
            vectors = VectorIndex(
                self.index.vector_dir, manifest.segments, manifest.current_segments(), reuse=self._vectors
            )
        except (OSError, ValueError) as exc:
            raise IndexProblem(f"the vector index is damaged ({exc}): run `ollm doctor --fix`") from None
        if self._text is not None:
            self._text.close()
        self._text = TextIndex(self.index.text_dir)
        if self.exact_rows is not None:
            vectors.exact_rows = self.exact_rows
        self._manifest, self._vectors, self._manifest_stamp = manifest, vectors, stamp

    def warm_up(self) -> None:
        """Open the indexes and the fastest query model now, ahead of the first search: what a
        long-lived process (a chat) does off its critical path."""
        self._load()
        load_for_queries = getattr(self.index.embedder, "load_for_queries", None)
        if load_for_queries is not None:
            load_for_queries()

    def search(self, query: str, **options: Unpack[SearchOptions]) -> list[Hit]:
        """The hits of ``find`` (which takes the same options): sessions that match ``query`` best,
        best first."""
        return self.find(query, **options).hits

    def find(
        self,
        query: str,
        *,
        limit: int = 10,
        since: datetime | None = None,
        until: datetime | None = None,
        model: str | None = None,
        provider: str | None = None,
        role: str | None = None,
        session: str | None = None,
        mode: Mode = "hybrid",
        exclude: frozenset[str] = frozenset(),
        snippets: bool = True,
        relevant_only: bool = False,
    ) -> SearchResult:
        """Sessions that match ``query`` best, best first, and how they were found; an empty question
        finds nothing.

        ``exclude`` leaves sessions out (the chat's own); ``snippets=False`` skips reading the
        sessions for excerpts when only the ranking is wanted. ``relevant_only`` leaves out, by
        meaning, sessions below ``RELEVANCE_FLOOR`` (a session not embedded yet stays when its words
        match); the result's ``below_floor`` then says how many of the best ``limit`` were left out.
        """
        check_options(mode=mode, role=role, limit=limit)
        self._load()
        assert self._manifest is not None and self._text is not None and self._vectors is not None
        terms = query_terms(query)
        indexed = len(self._manifest.sessions)
        if not query.strip():
            return SearchResult([], sessions_indexed=indexed)
        since_ms = None if since is None else milliseconds(since)
        until_ms = None if until is None else milliseconds(until)
        filtered = any(value is not None for value in (since, until, model, provider, session))
        allowed = (
            {
                sid
                for sid, entry in self._manifest.sessions.items()
                if (since_ms is None or entry.last_ms >= since_ms)
                and (until_ms is None or entry.start_ms < until_ms)
                and (model is None or model_matches(entry.model, model))
                and (provider is None or entry.provider.lower() == provider.lower())
                and (session is None or sid == session)
                and sid not in exclude
            }
            if filtered
            else None
        )
        if allowed is not None and not allowed:
            return SearchResult([], sessions_indexed=indexed)
        pool = max(limit * 10, 50)
        # Fusion and the role filter re-rank a pool; by meaning alone the exact top ``limit`` is enough.
        dense_candidates = limit if mode == "semantic" and role is None else pool
        row_scores = None
        if mode in ("hybrid", "semantic"):  # embedding and scoring run beside the full-text search
            row_scores = self._executor().submit(self._score_rows, query, allowed)
        text_scores: dict[str, float] = {}
        coverage: dict[str, float] = {}
        if mode in ("hybrid", "text") and terms:
            filters = TextFilters(
                start_until=None if until_ms is None else until_ms - 1,
                model=model,
                provider=provider,
                session_ids=frozenset([session]) if session else None,
            )
            words = self._text.rank_by_words(terms, filters, limit=pool * 2, role=role)
            for sid, score in words.ranked:
                if (sid in allowed) if allowed is not None else (sid not in exclude):
                    text_scores[sid] = score
            coverage = words.coverage if text_scores else {}
        dense: dict[str, tuple[float, list[tuple[float, int, int]]]] = {}
        if row_scores is not None:
            dense = self._vectors.best(
                row_scores.result(),
                allowed=allowed,
                exclude=exclude,
                candidates=dense_candidates,
                also=text_scores,
            )
            if role is not None:
                dense = self._only_role(dense, role, keep=pool)
        # Age counts back from the cutoff, else from the archive's newest session, not from the clock:
        # an archive whose sessions are all months old still has its recent and its old.
        reference_ms = until_ms if until_ms is not None else self._newest_ms()
        age_days = {
            sid: max(0.0, (reference_ms - self._manifest.sessions[sid].last_ms) / 86_400_000)
            for sid in set(text_scores) | set(dense)
        }
        dense_scores = {sid: value[0] for sid, value in dense.items()}
        sessions = self._manifest.sessions
        unembedded = {
            sid for sid in text_scores if not sessions[sid].segments and sessions[sid].vectors_pending
        }
        ranked = _fuse(text_scores, dense_scores, age_days, mode, unembedded)
        first_stage = None
        reordered = False
        if mode == "hybrid" and role is None and (self.second_stage is not None or self.keep_first_stage):
            best_unit = {
                sid: max((unit[0] for unit in units), default=0.0) for sid, (_, units) in dense.items()
            }
            messages = {sid: sessions[sid].messages for sid, _ in ranked[:CANDIDATES]}
            head = [sid for sid, _ in ranked[:CANDIDATES]]
            centroid, neighbours = (
                session_relations(head, self._vectors.centroids(head), row_scores.result().query)
                if row_scores
                else ({}, {})
            )
            first_stage = FirstStage(
                ranked,
                dense_scores,
                best_unit,
                text_scores,
                coverage,
                age_days,
                messages,
                centroid,
                neighbours,
            )
            # The model learned from sessions with vectors; while some candidates still lack theirs
            # (background indexing), the first stage's estimate for them is the fairer ranking.
            if self.second_stage is not None and not unembedded.intersection(head):
                ranked = self.second_stage.reorder(first_stage)
                reordered = True
        dates = dates_in(query, _day(reference_ms))
        if dates:
            ranked = self._by_date(ranked, dates, chances=reordered)
        below_floor = 0
        if relevant_only and mode != "text":
            kept = [
                (sid, score)
                for sid, score in ranked
                if dense_scores.get(sid, 0.0) >= RELEVANCE_FLOOR or sid in unembedded
            ]
            below_floor = min(limit, len(ranked)) - min(limit, len(kept))
            ranked = kept
        hits = [
            self._hit(
                sid, score, terms, dense.get(sid, (0.0, []))[1], role, snippets, dense_scores.get(sid, 0.0)
            )
            for sid, score in ranked[:limit]
        ]
        ranked_by = {"text": "words", "semantic": "meaning"}.get(
            mode, "second stage" if reordered else "first stage"
        )
        return SearchResult(hits, ranked_by, first_stage, dates, below_floor, indexed)

    def _by_date(
        self, ranked: list[tuple[str, float]], dates: list[DateRange], *, chances: bool
    ) -> list[tuple[str, float]]:
        """The ranking with sessions active in (or near) the question's dates moved up: a soft prior,
        added to a first-stage score, multiplying the odds of a second-stage chance."""
        assert self._manifest is not None
        sessions = self._manifest.sessions
        moved = []
        for sid, score in ranked:
            prior = date_prior((_day(sessions[sid].start_ms), _day(sessions[sid].last_ms)), dates)
            if chances:
                odds = score / max(1.0 - score, 1e-6) * math.exp(DATE_LOG_ODDS * prior)
                moved.append((sid, round(odds / (1.0 + odds), 4)))
            else:
                moved.append((sid, score + DATE_WEIGHT * prior))
        return sorted(moved, key=lambda item: (-item[1], item[0]))

    def _newest_ms(self) -> int:
        """When the archive's newest session was last active (the clock's now when it is empty)."""
        assert self._manifest is not None
        if self._newest is None or self._newest[0] is not self._manifest:
            latest = max(
                (entry.last_ms for entry in self._manifest.sessions.values()),
                default=milliseconds(datetime.now().astimezone()),
            )
            self._newest = (self._manifest, latest)
        return self._newest[1]

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ollm-vectors")
        return self._pool

    def _score_rows(self, query: str, allowed: set[str] | None) -> RowScores:
        assert self._vectors is not None
        return self._vectors.score(self.index.embedder.embed_query(query), allowed)

    def _only_role(
        self, dense: dict[str, tuple[float, list[tuple[float, int, int]]]], role: str, *, keep: int
    ):
        """Of the ``keep`` best sessions, those whose closest units are messages of ``role``, scored by
        those alone (the vectors do not record roles, so only the best candidates' files are read)."""
        best = sorted(dense.items(), key=lambda item: -item[1][0])[:keep]
        kept = {}
        for sid, (_score, units) in best:
            try:
                session = self.store.read(sid)
            except (SessionNotFound, CorruptSession):
                continue
            units = [u for u in units if u[1] < len(session.messages) and session.messages[u[1]].role == role]
            if units:
                kept[sid] = (sum(u[0] for u in units) / len(units), units)
        return kept

    def _hit(
        self,
        session_id: str,
        score: float,
        terms: list[str],
        units,
        role: str | None,
        with_snippets: bool,
        similarity: float,
    ) -> Hit:
        assert self._manifest is not None
        entry = self._manifest.sessions[session_id]
        session = None
        if with_snippets:
            try:
                session = self.store.read(session_id)
            except (SessionNotFound, CorruptSession):
                session = None
        snippets = [] if session is None else self._snippets(session, terms, units, role)
        return Hit(
            session_id=session_id,
            score=round(score, 4),
            title=entry.title,
            start_time=format_timestamp(datetime.fromtimestamp(entry.start_ms / 1000).astimezone()),
            model=entry.model,
            provider=entry.provider,
            snippets=snippets,
            similarity=round(similarity, 4),
            units=tuple(units),
        )

    def snippets_for(self, hit: Hit, session: Session, query: str) -> list[Snippet]:
        """Snippets of a hit found with ``snippets=False``, from its session already loaded (recall
        reads only the sessions it keeps, once)."""
        return self._snippets(session, query_terms(query), list(hit.units), None)

    def _snippets(self, session: Session, terms: list[str], units, role: str | None) -> list[Snippet]:
        assert self._text is not None
        chosen = best_text_messages(session, set(terms), role=role, limit=3)
        for _score, first, _last in units[:3]:
            if first not in chosen:
                chosen.append(first)
        snippets = []
        for index in chosen[:3]:
            if index >= len(session.messages):
                continue
            message = session.messages[index]
            text, spans = excerpt(message.content, set(terms))
            snippets.append(Snippet(index, message.role, message.timestamp, text, spans))
        return snippets

    def close(self) -> None:
        if self._text is not None:
            self._text.close()
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None


def _day(ms: int) -> date:
    """The local calendar day of a time in milliseconds."""
    return datetime.fromtimestamp(ms / 1000).astimezone().date()


def _fuse(
    text: dict[str, float],
    dense: dict[str, float],
    age_days: dict[str, float],
    mode: str,
    unembedded: set[str] | frozenset[str] = frozenset(),
) -> list[tuple[str, float]]:
    """Rank by one side, or (hybrid) by a weighted sum of the max-normalised BM25F score, the dense
    score and a recency prior.

    Weights tuned on the dev set (see docs/search.md): recent sessions are the likelier subject of a
    question about "last time", so a session's age counts a little when the words and the meaning
    are close. A session not embedded yet (``unembedded``) is not pushed down for lacking a dense
    score: it is given one in proportion to its words' score, the best match by words standing level
    with the best match by meaning, or with a relevant one (``RELEVANT_SIMILARITY``) when the few
    sessions embedded so far are all far from the question.
    """
    if mode == "text":  # on a scale of 0-1 as the others: 1 for the best match by words
        top = max(text.values(), default=0.0) or 1.0
        return sorted(
            ((sid, score / top) for sid, score in text.items()), key=lambda item: (-item[1], item[0])
        )
    if mode == "semantic":
        return sorted(dense.items(), key=lambda item: (-item[1], item[0]))
    top_text = max(text.values(), default=0.0) or 1.0
    if unembedded:
        top_dense = max(max(dense.values(), default=0.0), RELEVANT_SIMILARITY)
        dense = {**dense, **{sid: top_dense * text[sid] / top_text for sid in unembedded if sid in text}}
    combined = {
        sid: TEXT_WEIGHT * text.get(sid, 0.0) / top_text
        + DENSE_WEIGHT * dense.get(sid, 0.0)
        + RECENCY_WEIGHT * math.exp(-age_days.get(sid, 0.0) / RECENCY_DAYS)
        for sid in set(text) | set(dense)
    }
    return sorted(combined.items(), key=lambda item: (-item[1], item[0]))
