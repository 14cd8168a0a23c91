"""The vectorised BM25F ranking gives whoosh's own scores, on real whoosh indexes."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO

from ollm_recall import ChatRecordingService, Message
from ollm_recall.index.bm25 import SessionRanker, postings
from ollm_recall.index.indexer import Index
from ollm_recall.index.textsearch import BM25_B, BM25_K1, TextFilters, TextIndex, query_terms

QUESTIONS = [
    "nginx 502 bad gateway after the upgrade",
    "sourdough starter smells",
    "the and of",
    "python typescript docker kubernetes logs error",
    "iceland winter road trip clothes",
]


def whoosh_ranking(searcher, terms, limit, narrowed=None):
    from whoosh.query import Or, Term

    results = searcher.search(Or([Term("text", t) for t in terms]), filter=narrowed, limit=limit)
    return [(hit.docnum, hit.score) for hit in results]


def assert_same(mine, theirs):
    assert [doc for doc, _ in mine] == [doc for doc, _ in theirs]
    assert np.allclose([s for _, s in mine], [s for _, s in theirs], rtol=1e-9, atol=0)


@pytest.mark.slow
def test_the_same_ranking_as_whoosh_across_segments_deletions_and_filters(tmp_path: Path):
    home = tmp_path
    shutil.copytree(REPO / "examples" / "sessions", home / "sessions")
    Index(home).sync()
    service = ChatRecordingService(home / "sessions")
    for n in range(3):  # small commits: more segments, and an update leaves a deleted document
        sid = service.create_session(model="llama3.2", session_id=f"extra-{n}")
        service.record_message(sid, Message.text("user", f"nginx gateway question number {n}"))
        Index(home).sync()
    service.record_message("extra-0", Message.text("assistant", "restart php-fpm, then nginx"))
    service.close()
    Index(home).sync()

    text = TextIndex(home / "index" / "fulltext", Index(home).sealer)
    searcher = text._sessions.searcher()
    assert len(searcher.reader().leaf_readers()) > 1 and searcher.doc_count_all() > searcher.doc_count()
    ranker = SessionRanker(BM25_B, BM25_K1)
    for question in QUESTIONS:
        terms = query_terms(question)
        for limit in (1, 5, 500):
            assert_same(
                ranker.rank(searcher, terms, allowed=None, limit=limit),
                whoosh_ranking(searcher, terms, limit),
            )
    from whoosh.query import Term

    narrowed = Term("family", "llama3.2")
    allowed = set(searcher.docs_for_query(narrowed))
    terms = query_terms("nginx gateway")
    assert_same(
        ranker.rank(searcher, terms, allowed=allowed, limit=50), whoosh_ranking(searcher, terms, 50, narrowed)
    )
    ranked = text.rank_sessions(terms, TextFilters(model="llama3.2"), limit=50)
    expected = whoosh_ranking(searcher, terms, 50, narrowed)
    assert [sid for sid, _ in ranked] == [searcher.stored_fields(doc)["session_id"] for doc, _ in expected]
    text.close()


def test_postings_through_the_public_matcher_interface():
    from whoosh.matching import ListMatcher

    class Reader:
        def postings(self, field, term):
            return ListMatcher([2, 5, 9], weights=[1.0, 3.0, 2.0])

    ids, frequencies = postings(Reader(), "nginx")
    assert ids.tolist() == [2, 5, 9] and frequencies.tolist() == [1.0, 3.0, 2.0]
