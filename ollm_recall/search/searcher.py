"""``Searcher``: one question over both indexes, with filters, fusion and snippets.

Hybrid ranking fuses the session's normalised BM25F score and its best units' cosine similarity to the
question with weights that depend on the question (``fusion``), then lets a learned second stage
reorder the best candidates (``ranker``); both lists are cut to the candidates either side ranks
highly, so a session must be good on at least one side to appear.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Unpack

from .._time import format_timestamp, local_day, milliseconds, parse_timestamp
from ..archive.listing import model_matches
from ..archive.redaction import DEFAULT_REDACTOR, Redactor, redactor_for_home
from ..archive.session import Session
from ..errors import CorruptSession, IndexMissing, IndexProblem, OllmRecallError, SessionNotFound
from ..index.indexer import EmbedderLike, Index
from ..index.manifest import Manifest
from ..index.textsearch import TextFilters, TextIndex, query_terms
from ..index.vectorstore import RowScores, VectorIndex
from .fusion import by_one_side, fuse, weights_for, words_lead
from .question_dates import DateRange, date_prior, dates_in
from .ranker import CANDIDATES, FirstStage, SecondStage, load_second_stage, session_relations
from .results import Hit, Mode, SearchOptions, SearchResult, check_options, redacted_hit
from .scan import SCAN_BUDGET_SECONDS, ReadHeader, ScanResult, UnindexedSessions, merged_by_coverage
from .snippets import Snippet, snippets_of

RELEVANCE_FLOOR = 0.02
"""Below this estimated chance of being relevant a session is not shown (``ollm recall`` without
``--all``, ``export --query``, the MCP and chat recall tools): the second stage's chance, calibrated
on both dev sets with questions asked of archives that do not hold their answer (see docs/search.md,
``benchmarks/ranker_training.py --negatives``)."""
SIMILARITY_FLOOR = 0.2
"""The floor by similarity to the question, where no chance was estimated: a semantic search, a
missing model file, or candidates still waiting for their vectors."""
DATE_WEIGHT = 0.3
"""What a session active in the question's dates gains (``query_dates``) in the first stage's score:
enough to lift it over sessions a little closer in meaning, not over ones that are far closer."""
DATE_LOG_ODDS = 3.0
"""The same for the second stage's score, a chance: its odds are multiplied by e^3 (20), so a likely
session in the dates goes first and an unlikely one stays unlikely (an added 0.3 would lift every
session of those days over every other)."""


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
        try:
            self.redactor: Redactor | None = redactor_for_home(Path(home))
        except OllmRecallError:  # a bad config.toml does not stop a search: the built-in rules hold
            self.redactor = DEFAULT_REDACTOR
        """What leaves the archive through a search (titles, snippets, recalled excerpts) is redacted
        with the home's rules, built-in and custom: a session saved before redaction keeps its secret
        in its file, never in what is shown or sent."""
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
        self.read_unindexed = True
        """Read the sessions the words index lacks (``scan``); a chat turn, which cannot wait up to
        ``read_budget``, searches the index alone."""
        self.read_budget = SCAN_BUDGET_SECONDS
        """Seconds a search may spend reading those sessions (less when its sync took some)."""
        self._unindexed = UnindexedSessions(self.store)
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
                self.index.vector_dir,
                manifest.segments,
                manifest.current_segments(),
                sealer=self.index.sealer,
                reuse=self._vectors,
            )
        except (OSError, ValueError) as exc:
            raise IndexProblem(f"the vector index is damaged ({exc}): run `ollm doctor --fix`") from None
        if self._text is not None:
            self._text.close()
        self._text = TextIndex(self.index.text_dir, self.index.sealer)
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
        sessions for excerpts when only the ranking is wanted. ``relevant_only`` leaves out sessions
        whose chance of relevance is below ``RELEVANCE_FLOOR`` (without a chance: whose similarity is
        below ``SIMILARITY_FLOOR``; a session not embedded yet stays when its words match); the
        result's ``below_floor`` then says how many of the best ``limit`` were left out.
        """
        check_options(mode=mode, role=role, limit=limit, query=query)
        options: SearchOptions = {
            "limit": limit,
            "since": since,
            "until": until,
            "model": model,
            "provider": provider,
            "role": role,
            "session": session,
            "mode": mode,
            "exclude": exclude,
            "snippets": snippets,
            "relevant_only": relevant_only,
        }
        missing = None
        for _attempt in range(3):
            try:
                self._load()
            except IndexMissing:  # a first index still being built: the sessions read directly
                if mode == "semantic" or not self.read_unindexed or not self.store.has_sessions():
                    raise
                return self._without_index(query, options)
            try:
                return self._find_loaded(query, **options)
            except FileNotFoundError as exc:  # a sync replaced the vector segments this search read
                self._manifest, missing = None, exc.filename
                time.sleep(0.05)
        raise IndexProblem(f"the index lost {missing} while searching: run `ollm doctor --fix`")

    def _without_index(self, query: str, options: SearchOptions) -> SearchResult:
        """No index yet (a new home whose first index is being built): the sessions read directly."""
        terms = query_terms(query)
        matches = session_filter(options, since_ms=None, until_ms=None)
        read = self._unindexed.read(
            (), terms, kept=matches, role=options.get("role"), budget=self.read_budget
        )
        hits = [
            redacted_hit(hit, self.redactor)
            for hit in read.hits(self.store, terms, options.get("role"), options.get("limit", 10))
        ]
        return SearchResult(hits, "words", sessions_read=read.scanned, sessions_unindexed=read.unindexed)

    def _find_loaded(
        self,
        query: str,
        *,
        limit: int,
        since: datetime | None,
        until: datetime | None,
        model: str | None,
        provider: str | None,
        role: str | None,
        session: str | None,
        mode: Mode,
        exclude: frozenset[str],
        snippets: bool,
        relevant_only: bool,
    ) -> SearchResult:
        """``find`` on the indexes as loaded."""
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
            indexed_now = self._manifest.sessions  # whoosh commits before the manifest: a word
            for sid, score in words.ranked:  # match the manifest does not list yet waits for it
                if sid in indexed_now and ((sid in allowed) if allowed is not None else (sid not in exclude)):
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
        weights = weights_for(query, text_scores)
        if mode == "hybrid":
            ranked = fuse(text_scores, dense_scores, coverage, age_days, weights, unembedded)
        else:
            one_side = text_scores if mode == "text" else dense_scores
            ranked = by_one_side(one_side, scale_to_best=mode == "text")
        first_stage = None
        reordered = False
        relevance_odds: dict[str, float] = {}
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
                asks_recency=weights.recency > 0,
                words_lead=words_lead(text_scores),
            )
            # The model learned from sessions with vectors; while some candidates still lack theirs
            # (background indexing), the first stage's estimate for them is the fairer ranking.
            if self.second_stage is not None and not unembedded.intersection(head):
                ranked, relevance_odds = self.second_stage.reorder(first_stage)
                reordered = True
        dates = dates_in(query, local_day(reference_ms))
        if dates:
            priors = self._date_priors(ranked, dates)
            if relevance_odds:  # the dates lift sessions likely to be relevant, not every one of those days
                floor = math.log(RELEVANCE_FLOOR / (1.0 - RELEVANCE_FLOOR))
                priors = {
                    sid: prior if relevance_odds.get(sid, -math.inf) >= floor else 0.0
                    for sid, prior in priors.items()
                }
            ranked = _moved_by_date(ranked, priors, chances=reordered)
            relevance_odds = {sid: odds + DATE_LOG_ODDS * priors[sid] for sid, odds in relevance_odds.items()}
        relevance = {sid: round(1.0 / (1.0 + math.exp(-odds)), 4) for sid, odds in relevance_odds.items()}
        below_floor = 0
        if relevant_only and mode != "text":
            kept = [
                (sid, score)
                for sid, score in ranked
                if (
                    relevance.get(sid, 0.0) >= RELEVANCE_FLOOR
                    if relevance
                    else dense_scores.get(sid, 0.0) >= SIMILARITY_FLOOR or sid in unembedded
                )
            ]
            below_floor = min(limit, len(ranked)) - min(limit, len(kept))
            ranked = kept
        hits = [
            self._hit(
                sid,
                score,
                terms,
                dense.get(sid, (0.0, []))[1],
                role,
                snippets,
                dense_scores.get(sid, 0.0),
                relevance.get(sid),
            )
            for sid, score in ranked[:limit]
        ]
        ranked_by = {"text": "words", "semantic": "meaning"}.get(
            mode, "second stage" if reordered else "first stage"
        )
        read = ScanResult()
        if mode != "semantic" and terms and self.read_unindexed:
            matches = session_filter(
                {"model": model, "provider": provider, "session": session, "exclude": exclude},
                since_ms=since_ms,
                until_ms=until_ms,
            )
            read = self._unindexed.read(
                self._manifest.sessions.keys(), terms, kept=matches, role=role, budget=self.read_budget
            )
        if read.ranked:
            hits = merged_by_coverage(hits, coverage, read.hits(self.store, terms, role, limit), limit)
        return SearchResult(
            [redacted_hit(hit, self.redactor) for hit in hits],
            ranked_by,
            first_stage,
            dates,
            below_floor,
            indexed,
            read.scanned,
            read.unindexed,
        )

    def _date_priors(self, ranked: list[tuple[str, float]], dates: list[DateRange]) -> dict[str, float]:
        """How active each ranked session was in (or near) the question's dates, 0 to 1."""
        assert self._manifest is not None
        sessions = self._manifest.sessions
        return {
            sid: date_prior((local_day(sessions[sid].start_ms), local_day(sessions[sid].last_ms)), dates)
            for sid, _ in ranked
        }

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
        relevance: float | None = None,
    ) -> Hit:
        assert self._manifest is not None
        entry = self._manifest.sessions[session_id]
        session = None
        if with_snippets:
            try:
                session = self.store.read(session_id)
            except (SessionNotFound, CorruptSession):
                session = None
        snippets = [] if session is None else snippets_of(session, terms, units, role)
        return Hit(
            session_id=session_id,
            score=round(score if relevance is None else relevance, 4),
            title=entry.title,
            start_time=format_timestamp(datetime.fromtimestamp(entry.start_ms / 1000).astimezone()),
            model=entry.model,
            provider=entry.provider,
            snippets=snippets,
            similarity=round(similarity, 4),
            relevance=relevance,
            units=tuple(units),
        )

    def snippets_for(self, hit: Hit, session: Session, query: str) -> list[Snippet]:
        """Snippets of a hit found with ``snippets=False``, from its session already loaded (recall
        reads only the sessions it keeps, once)."""
        found = snippets_of(session, query_terms(query), list(hit.units), None)
        return redacted_hit(replace(hit, snippets=found), self.redactor).snippets

    def redacted(self, session: Session) -> Session:
        """``session`` as it may leave the archive (recalled into a chat, say): secrets redacted."""
        return self.redactor.redact_session(session)[0] if self.redactor is not None else session

    def close(self) -> None:
        if self._text is not None:
            self._text.close()
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None


def _moved_by_date(
    ranked: list[tuple[str, float]], priors: dict[str, float], *, chances: bool
) -> list[tuple[str, float]]:
    """The ranking with sessions active in the question's dates moved up: a soft prior, added to a
    first-stage score, multiplying the odds of a second-stage chance."""
    moved = []
    for sid, score in ranked:
        if chances:
            odds = score / max(1.0 - score, 1e-6) * math.exp(DATE_LOG_ODDS * priors[sid])
            moved.append((sid, round(odds / (1.0 + odds), 4)))
        else:
            moved.append((sid, score + DATE_WEIGHT * priors[sid]))
    return sorted(moved, key=lambda item: (-item[1], item[0]))


def session_filter(
    options: SearchOptions, *, since_ms: int | None, until_ms: int | None
) -> Callable[[ReadHeader], bool]:
    """Whether a session read directly passes a search's filters (``since``/``until`` given in
    milliseconds, or taken from ``options``)."""
    since, until = options.get("since"), options.get("until")
    since_ms = since_ms if since_ms is not None or since is None else milliseconds(since)
    until_ms = until_ms if until_ms is not None or until is None else milliseconds(until)
    model, provider = options.get("model"), options.get("provider")
    session, exclude = options.get("session"), options.get("exclude", frozenset())

    def matches(found: ReadHeader) -> bool:
        return (
            (since_ms is None or milliseconds(parse_timestamp(found.last_activity)) >= since_ms)
            and (until_ms is None or milliseconds(parse_timestamp(found.start_time)) < until_ms)
            and (model is None or model_matches(found.model, model))
            and (provider is None or found.provider.lower() == provider.lower())
            and (session is None or found.session_id == session)
            and found.session_id not in exclude
        )

    return matches
