"""The full-text index (whoosh): one document per message and one per session, BM25F scoring.

Queries are plain words: every word the analyser keeps is OR-ed, so operators, quotes and
parentheses in a question are never syntax. Sessions are ranked on their whole-session document;
message documents give snippets and the role filter.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from whoosh import scoring
from whoosh.analysis import StemmingAnalyzer
from whoosh.fields import ID, NUMERIC, TEXT, Schema
from whoosh.query import And, NumericRange, Or, Term
from whoosh.reading import SegmentReader
from whoosh.writing import MERGE_SMALL, NO_MERGE

from .._atomic import make_private_dir
from ..archive.sealed_files import Sealer
from ..archive.session import Session
from ..errors import IndexCorrupt, KeyProblem
from .bm25 import SessionRanker  # numpy: not loaded by commands that never search
from .manifest import REBUILD_HINT
from .sealed_whoosh import SealedStorage
from .word_forms import stem

STOP_WORDS = frozenset(
    """
a about above after again against all also am an and any are as at be because been before being below
between both but by can could did do does doing done down during each else even ever few for from
further get got had has have having he her here hers herself him himself his how i if in into is it its
itself just know last let like me might more most much must my myself need no nor not now of off on
once only or other ought our ours ourselves out over own please really same say see she should so some
still such than thank thanks that the their theirs them themselves then there these they this those
through time to too under until up us use very want was way we well were what when where which while
who whom why will with would yes yet you your yours yourself yourselves
""".split()
)

SESSION_DOC = "s"
MESSAGE_DOC = "m"


WORD_PATTERN = r"(?:(?<![\w.])\.)?\w+(?:\.\w+)*(?:\+\+|#)?"
"""Words as a local-model user types them: ``C++``, ``C#``, ``.NET``, ``node.js``, ``v1.2.3`` are one
word each (whoosh's default drops the ``++`` and ``#``, and reads ``php*`` as a wildcard word)."""
ANALYSIS_VERSION = 3
"""1: whoosh's default words; 2: ``WORD_PATTERN``, technical words kept whole; 3: irregular forms
joined to their base ("led" / "lead"). An index records it."""


SCHEMA_MODULE_BEFORE_REGROUPING = "ollm_recall.textsearch"
"""Whoosh pickles the schema, and with it this module's path (the analyser's stem function); an index
written before the package was regrouped names this module so, and must open all the same."""
sys.modules.setdefault(SCHEMA_MODULE_BEFORE_REGROUPING, sys.modules[__name__])


def stem_plain_word(word: str) -> str:
    """Porter's stem of a word of letters, from its base form when it is irregular ("bought" and
    "buying" meet); a technical word (``node.js``, ``c++``) is kept whole."""
    return stem(word) if word.isalpha() else word


@functools.lru_cache(maxsize=1)
def analyzer() -> Any:
    """The one analyser (its stem cache is per instance, so it is built once)."""

    return StemmingAnalyzer(
        expression=re.compile(WORD_PATTERN), stoplist=STOP_WORDS, minsize=2, stemfn=stem_plain_word
    )


def schema() -> Any:
    return Schema(
        session_id=ID(stored=True),
        message=NUMERIC(stored=True),
        role=ID(),
        model=ID(),
        family=ID(),
        provider=ID(),
        start=NUMERIC(bits=64),
        text=TEXT(analyzer=analyzer(), phrase=False),
    )


def query_terms(text: str) -> list[str]:
    """The analysed, de-duplicated terms of a question, in order."""
    seen: dict[str, None] = {}
    for token in analyzer()(text):
        seen.setdefault(token.text, None)
    return list(seen)


def model_family(model: str) -> str:
    return model.lower().split(":", 1)[0]


def _indexable(session: Session) -> Iterator[tuple[int, str, str]]:
    for index, message in enumerate(session.messages):
        if message.exclude_from_context:
            continue
        text = message.content
        if text.strip():
            yield index, message.role, text


def session_documents(session: Session, start_ms: int) -> Iterator[dict[str, Any]]:
    """The message documents and the session document of one session."""
    common = {
        "session_id": session.session_id,
        "model": session.model.lower(),
        "family": model_family(session.model),
        "provider": session.provider.lower(),
        "start": start_ms,
    }
    texts = []
    for index, role, text in _indexable(session):
        texts.append(text)
        yield {**common, "kind": MESSAGE_DOC, "message": index, "role": role, "text": text}
    yield {**common, "kind": SESSION_DOC, "message": -1, "role": "", "text": "\n".join(texts)}


@dataclass(frozen=True)
class TextFilters:
    """What narrows a full-text search: latest start (ms), model (name or family), provider, sessions."""

    start_until: int | None = None
    model: str | None = None
    provider: str | None = None
    session_ids: frozenset[str] | None = None


MAX_UNMERGED_SEGMENTS = 24


def _merge_when_many(writer: Any, segments: list[Any]) -> list[Any]:
    """whoosh merge policy for small commits: append, until segments pile up past a bound."""
    policy = MERGE_SMALL if len(segments) > MAX_UNMERGED_SEGMENTS else NO_MERGE
    return policy(writer, segments)


def _merge_small(writer: Any, segments: list[Any]) -> list[Any]:
    """whoosh's own policy of merging only the small segments: cheap, and it keeps the number of
    segments of the session index (read by every ranking) low."""
    return MERGE_SMALL(writer, segments)


def _purging(policy: Callable[[Any, list[Any]], list[Any]]) -> Callable[[Any, list[Any]], list[Any]]:
    """A whoosh merge policy that first rewrites every segment holding deleted documents (copying only
    the live ones into the new segment), then applies ``policy`` to the rest."""

    def merge(writer: Any, segments: list[Any]) -> list[Any]:
        kept = []
        for segment in segments:
            if segment.has_deletions():
                reader = SegmentReader(writer.storage, writer.schema, segment)
                # whoosh asks the file system whether a field has a length column once per posting
                # (a third of the merge's time); the answer does not change while it merges
                reader._perdoc.has_column = functools.lru_cache(maxsize=None)(reader._perdoc.has_column)
                writer.add_reader(reader)
                reader.close()
            else:
                kept.append(segment)
        return policy(writer, kept)

    return merge


MAX_QUERY_TERMS = 24
BM25_B = 0.75
BM25_K1 = 1.5


def rarest_terms(terms: list[str], doc_frequency: Any, most: int) -> list[str]:
    """At most ``most`` of the terms, those in the fewest sessions (they carry the most weight in
    BM25, and every term costs a pass over its postings: a pasted log must not cost seconds)."""
    if len(terms) <= most:
        return terms
    ranked = sorted(terms, key=lambda term: (doc_frequency("text", term), term))
    kept = set(ranked[:most])
    return [term for term in terms if term in kept]


class _WhooshFolder:
    """One whoosh index in one folder, opened lazily; a damaged folder is ``IndexCorrupt``."""

    def __init__(self, directory: Path, sealer: Sealer) -> None:
        self.directory = directory
        self.sealer = sealer
        self._index: Any = None
        self._searcher: Any = None

    def exists(self) -> bool:
        """Whether a whoosh index was committed here (damaged or not: ``open`` says which)."""
        return self.directory.is_dir() and any(p.suffix == ".toc" for p in self.directory.iterdir())

    def create(self) -> None:
        make_private_dir(self.directory)
        self._index = SealedStorage(self.directory, self.sealer).create_index(schema())
        self._searcher = None
        self.make_private()

    def make_private(self) -> None:
        """Files 0600 like the rest of the archive: whoosh creates its own (segments, TOC, lock) as
        the umask says, 0644 mostly (the folder is 0700 already; this is for copies and backups)."""
        with os.scandir(self.directory) as entries:
            for entry in entries:
                if entry.is_file(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_mode & 0o077:
                    with contextlib.suppress(OSError):
                        os.chmod(entry.path, 0o600)

    def open(self) -> Any:
        if self._index is None:
            try:
                self._index = SealedStorage(self.directory, self.sealer).open_index()
            except KeyProblem:
                raise
            except Exception as exc:  # whoosh raises many kinds on a damaged folder
                raise IndexCorrupt(
                    f"the full-text index in {self.directory} is damaged ({type(exc).__name__}): "
                    f"{REBUILD_HINT}"
                ) from None
        return self._index

    def searcher(self) -> Any:
        """A searcher over the index as it was when first asked for. Not refreshed (whoosh lists the
        folder to do it, ~5 ms a search at 10,000 sessions): the index changes only with a sync,
        whose new manifest makes ``Searcher`` open a new ``TextIndex``."""
        if self._searcher is None:
            self._searcher = self.open().searcher(weighting=scoring.BM25F(B=BM25_B, K1=BM25_K1))
        return self._searcher

    def close(self) -> None:
        if self._searcher is not None:
            self._searcher.close()
            self._searcher = None

    def forget(self) -> None:
        """Drop the opened index too: the next use reads the folder's newest state."""
        self.close()
        self._index = None


@dataclass(frozen=True)
class WordsRanking:
    """Sessions ranked by their words, best first, and each one's coverage: the share of the
    question's idf it holds (only with the whole-session ranking; empty with a role filter)."""

    ranked: list[tuple[str, float]]
    coverage: dict[str, float] = field(default_factory=dict)


class TextIndex:
    """Two whoosh indexes under one folder: whole sessions (ranking) and messages (snippets, roles).

    Kept apart so each has its own term and length statistics: mixed in one index, short message
    documents would distort the BM25 length normalisation of the long session documents.
    """

    def __init__(self, directory: Path, sealer: Sealer) -> None:
        self.directory = directory
        self._sessions = _WhooshFolder(directory / "sessions", sealer)
        self._messages = _WhooshFolder(directory / "messages", sealer)

        self._ranker = SessionRanker(BM25_B, BM25_K1)

    def exists(self) -> bool:
        return self._sessions.exists() or self._messages.exists()

    def create(self) -> None:
        self._sessions.create()
        self._messages.create()

    def replace_sessions(
        self,
        removed: Iterable[str],
        added: Iterable[tuple[Session, int]],
        *,
        merge: bool = True,
    ) -> None:
        """Delete the documents of ``removed`` sessions and add those of ``added``; one commit each.

        ``merge=False`` only appends a segment to the message index (whoosh's merge of small segments
        can take seconds there, which an incremental sync of one session must not pay) and merges only
        small segments of the session index; large batches merge as usual. Removed documents are only
        marked deleted, their words still in the segments' files, until ``purge_deleted``.
        """
        removed, added = list(removed), list(added)
        writers = {SESSION_DOC: self._sessions.open().writer(), MESSAGE_DOC: self._messages.open().writer()}
        try:
            for writer in writers.values():
                for session_id in removed:
                    writer.delete_by_term("session_id", session_id)
            for session, start_ms in added:
                for document in session_documents(session, start_ms):
                    writers[document.pop("kind")].add_document(**document)
        except BaseException:
            for writer in writers.values():
                writer.cancel()
            raise
        writers[MESSAGE_DOC].commit(mergetype=None if merge else _merge_when_many)
        writers[SESSION_DOC].commit(mergetype=None if merge else _merge_small)
        self._messages.make_private()
        self._sessions.make_private()

    def purge_deleted(self) -> None:
        """Rewrite every segment that holds deleted documents with only its live ones, so no word of
        a deleted or changed session stays in the files. Costs what whoosh's merge of those segments
        costs (about a minute for the largest message segment at 10,000 sessions)."""
        for folder in (self._sessions, self._messages):
            index = folder.open()
            if not any(segment.has_deletions() for segment in index._segments()):
                continue
            folder.close()
            index.writer().commit(mergetype=_purging(NO_MERGE))
            folder.forget()
            folder.make_private()

    def optimize_sessions(self) -> None:
        """Merge the session index into one segment: ranking reads every segment of it on every
        search, so after a large build one segment answers markedly faster."""
        self._sessions.open().optimize()
        self._sessions.close()
        self._sessions.make_private()

    def _filter(self, filters: TextFilters, role: str | None) -> Any:
        parts: list[Any] = []
        if filters.start_until is not None:
            parts.append(NumericRange("start", None, filters.start_until))
        if filters.model:
            wanted = filters.model.lower()
            parts.append(Term("model", wanted) if ":" in wanted else Term("family", wanted))
        if filters.provider:
            parts.append(Term("provider", filters.provider.lower()))
        if filters.session_ids is not None:
            parts.append(Or([Term("session_id", sid) for sid in sorted(filters.session_ids)]))
        if role:
            parts.append(Term("role", role))
        return And(parts) if parts else None

    def rank_sessions(
        self, terms: list[str], filters: TextFilters, *, limit: int, role: str | None = None
    ) -> list[tuple[str, float]]:
        """Sessions by their words' score, best first (``rank_by_words``' ranking)."""
        return self.rank_by_words(terms, filters, limit=limit, role=role).ranked

    def rank_by_words(
        self, terms: list[str], filters: TextFilters, *, limit: int, role: str | None = None
    ) -> WordsRanking:
        """Sessions by BM25F of the whole session (computed by ``SessionRanker``, the same scores as
        whoosh's in a fraction of the time), or of their best message with a role filter (whoosh)."""
        if not terms:
            return WordsRanking([])
        searcher = self._sessions.searcher()
        if not searcher.doc_count():  # an empty index: BM25's idf is undefined there
            return WordsRanking([])
        terms = rarest_terms(terms, searcher.doc_frequency, MAX_QUERY_TERMS)
        if role is None:
            narrowed = self._filter(filters, None)
            allowed = None if narrowed is None else set(searcher.docs_for_query(narrowed))
            ranked, by_doc = self._ranker.rank_with_coverage(searcher, terms, allowed=allowed, limit=limit)
            found = [(searcher.stored_fields(doc)["session_id"], score) for doc, score in ranked]
            coverage = {
                sid: by_doc.get(doc, 0.0) for (sid, _score), (doc, _same) in zip(found, ranked, strict=True)
            }
            return WordsRanking(found, coverage)
        query = Or([Term("text", term) for term in terms])
        results = self._messages.searcher().search(query, filter=self._filter(filters, role), limit=limit * 8)
        best: dict[str, float] = {}
        for hit in results:
            best.setdefault(hit["session_id"], float(hit.score))
        return WordsRanking(sorted(best.items(), key=lambda item: -item[1])[:limit])

    def document_counts(self) -> tuple[int, int]:
        """Documents in the session and the message index: opens both and reads their tables, as
        a search does (``IndexCorrupt`` when either is damaged)."""
        return self._sessions.searcher().doc_count(), self._messages.searcher().doc_count()

    def close(self) -> None:
        self._sessions.close()
        self._messages.close()
