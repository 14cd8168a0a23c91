"""Index and search with the real model and real whoosh, on the bundled example archive."""

from __future__ import annotations

import json
import os
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, session_document, write_session_file

from ollm_recall import ChatRecordingService, Message
from ollm_recall.errors import IndexCorrupt, IndexMissing, IndexProblem, UsageError
from ollm_recall.index.indexer import Index
from ollm_recall.search.searcher import Searcher

NGINX_502 = "session-1772486820000"
SOURDOUGH = "session-1770542400000"
ICELAND = "session-1795201200000"
LOGROTATE = "session-1773044100000"


@pytest.fixture(scope="module")
def searcher(example_home) -> Searcher:
    return Searcher(example_home)


def ids(hits) -> list[str]:
    return [hit.session_id for hit in hits]


@pytest.mark.slow
def test_query_embedding_matches_sentence_transformers():
    from sentence_transformers import SentenceTransformer

    from ollm_recall.embedding.embedder import Embedder, bundled_model_dir

    texts = ["How do I rotate nginx logs?", "Café crème ☕", "x", "word " * 400]
    reference = SentenceTransformer(str(bundled_model_dir()), device="cpu").encode(
        texts, normalize_embeddings=True
    )
    embedder = Embedder(variant="fp32")  # the numpy pass; the int8 variant is checked in test_embedder
    mine = np.stack([embedder.embed_query(text) for text in texts])
    assert np.all((mine * reference).sum(axis=1) >= 0.999)
    # many texts at once (as a one-session sync embeds them): batched by length, returned in order
    many = [texts[i % len(texts)] + f" {i}" * (i % 7) for i in range(21)]
    together = embedder.embed(many)
    reference_many = SentenceTransformer(str(bundled_model_dir()), device="cpu").encode(
        many, normalize_embeddings=True
    )
    assert together.shape == (21, 384) and np.all((together * reference_many).sum(axis=1) >= 0.999)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("nginx 502 bad gateway php-fpm socket", NGINX_502),
        ("logrotate nginx", LOGROTATE),
        ("sourdough starter acetone", SOURDOUGH),
    ],
)
def test_exact_terms_find_the_session(searcher, query, expected):
    for mode in ("hybrid", "text"):
        assert ids(searcher.search(query, mode=mode))[0] == expected, mode


@pytest.mark.slow
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("my website broke with a gateway error after I updated the machine", NGINX_502),
        ("my bread culture has a chemical smell", SOURDOUGH),
        ("what clothes to bring for a winter road trip in the north", ICELAND),
    ],
)
def test_paraphrases_find_the_session(searcher, query, expected):
    assert ids(searcher.search(query, mode="hybrid", limit=3))[0] == expected
    assert expected in ids(searcher.search(query, mode="semantic", limit=3))


@pytest.mark.slow
def test_hits_carry_snippets_with_highlights(searcher):
    hit = searcher.search("php-fpm socket", limit=1)[0]
    assert hit.session_id == NGINX_502 and hit.title.startswith("nginx returns 502")
    assert hit.model == "gemma3:4b" and hit.start_time.startswith("2026-03-02")
    assert 1 <= len(hit.snippets) <= 3
    snippet = hit.snippets[0]
    assert snippet.highlights
    start, end = snippet.highlights[0]
    assert snippet.text[start:end].lower().startswith(("php", "socket", "fpm"))


@pytest.mark.slow
def test_filters(searcher):
    march = {"since": datetime(2026, 3, 1, tzinfo=UTC), "until": datetime(2026, 3, 31, tzinfo=UTC)}
    assert set(ids(searcher.search("nginx", mode="text", **march))) == {NGINX_502, LOGROTATE}
    in_march = searcher.search("nginx", **march)
    assert set(ids(in_march[:2])) == {NGINX_502, LOGROTATE}
    assert all(hit.start_time[:7] == "2026-03" for hit in in_march)
    before_march = datetime(2026, 3, 1, tzinfo=UTC)
    assert ids(searcher.search("nginx", until=before_march, mode="text")) == []
    assert set(ids(searcher.search("nginx", model="gemma3", mode="text"))) == {NGINX_502, LOGROTATE}
    by_model = searcher.search("nginx", model="llama3.2")
    assert by_model and all(h.model.startswith("llama3.2") for h in by_model)
    by_provider = searcher.search("typescript generics", provider="openai")
    assert by_provider and all(h.provider == "openai" for h in by_provider)
    assert ids(searcher.search("nginx", session=LOGROTATE)) == [LOGROTATE]
    only_users = searcher.search("imagick pecl", role="user", mode="text")
    assert ids(only_users) == [NGINX_502]
    assert all(s.role == "user" for s in only_users[0].snippets)


@pytest.mark.slow
@pytest.mark.parametrize(
    "query", ["group? AND (", '"unbalanced quote', "OR NOT *", "nginx)", "ünïcödé ☕ 東京"]
)
def test_odd_queries_are_plain_words(searcher, query):
    plain = re.sub(r"[^\w\s]", " ", query)  # what the query means once its operators are words again
    assert ids(searcher.search(query, mode="text")) == ids(searcher.search(plain, mode="text"))
    for mode in ("hybrid", "semantic"):  # the model reads the punctuation too: an answer, if not the same
        assert len(searcher.search(query, mode=mode, limit=3)) == 3
    assert ids(searcher.search("nginx) AND (logrotate", mode="text"))[0] == LOGROTATE


@pytest.mark.slow
@pytest.mark.parametrize("query", ["", "   ", "the and of"])
def test_empty_and_stop_word_queries(searcher, query):
    assert searcher.search(query, mode="text") == []
    if not query.strip():
        assert searcher.search(query) == []


def test_bad_search_arguments(searcher):
    with pytest.raises(UsageError, match="unknown mode 'fuzzy'"):
        searcher.search("x", mode="fuzzy")
    with pytest.raises(UsageError, match="unknown role 'bot'"):
        searcher.search("x", role="bot")


def _small_archive(home: Path) -> ChatRecordingService:
    service = ChatRecordingService(home / "sessions")
    for topic in ("kubernetes ingress timeout", "lemon tart recipe", "tax return deadline"):
        sid = service.create_session(model="gemma3:4b", session_id=f"s-{topic.split()[0]}")
        service.record_message(sid, Message.text("user", f"question about {topic}"))
        service.record_message(sid, Message.text("assistant", f"answer about {topic}"))
        service.close_session(sid)
    return service


@pytest.mark.slow
def test_incremental_sync_adds_updates_and_removes(tmp_path):
    home = tmp_path / "home"
    service = _small_archive(home)
    index = Index(home)
    first = index.sync()
    assert (first.added, first.embedded) == (3, 6)
    assert index.sync().unchanged == 3
    service.record_message("s-lemon", Message.text("user", "can I use lime instead of lemon?"))
    service.close()
    grown = index.sync()
    assert (grown.updated, grown.embedded) == (1, 1)  # only the new message is embedded
    searcher = Searcher(home)
    assert ids(searcher.search("lime instead", mode="text")) == ["s-lemon"]
    (home / "sessions" / "s-tax.json").unlink()
    assert index.sync().removed == 1
    assert "s-tax" not in ids(searcher.search("tax return deadline"))
    document = json.loads((home / "sessions" / "s-kubernetes.json").read_text())
    document["messages"][0]["parts"][0]["text"] = "question about helm charts"
    (home / "sessions" / "s-kubernetes.json").write_text(json.dumps(document))
    changed = index.sync()
    assert (changed.updated, changed.embedded) == (1, 2)  # an edit re-embeds the whole session
    assert ids(searcher.search("helm charts", mode="text")) == ["s-kubernetes"]
    assert ids(searcher.search("kubernetes ingress", mode="text")) == ["s-kubernetes"]


@pytest.mark.slow
def test_a_broken_session_is_skipped_and_reported(tmp_path):
    home = tmp_path / "home"
    _small_archive(home).close()
    write_session_file(home / "sessions", session_document("bad-1"))
    (home / "sessions" / "bad-1.json").write_text('{"sessionId": "bad-1", ')
    report = Index(home).sync()
    assert report.added == 3
    assert report.broken == [
        "bad-1.json: truncated JSON: Expecting property name enclosed in double quotes (line 1, column 24)"
    ]
    assert (home / "sessions" / "bad-1.json").read_text() == '{"sessionId": "bad-1", '


def test_missing_index(tmp_path):
    with pytest.raises(IndexMissing, match="no search index at .* yet: run `ollm index`"):
        Searcher(tmp_path / "home").search("x")
    write_session_file(tmp_path / "home" / "sessions", session_document("session-1"))
    with pytest.raises(IndexMissing):  # by meaning there is nothing to read without an index
        Searcher(tmp_path / "home").search("nginx", mode="semantic")
    assert [hit.session_id for hit in Searcher(tmp_path / "home").search("nginx")] == ["session-1"]


@pytest.mark.slow
def test_old_format_and_corrupt_indexes_say_rebuild(tmp_path):
    home = tmp_path / "home"
    _small_archive(home).close()
    Index(home).sync()
    manifest = home / "index" / "manifest.json"
    good = manifest.read_bytes()
    document = json.loads(good)
    document["format"] = 0
    manifest.write_text(json.dumps(document))
    with pytest.raises(IndexCorrupt, match="has format 0, this version reads 4: run `ollm index --rebuild`"):
        Searcher(home).search("tart")
    manifest.write_text("{not json")
    with pytest.raises(IndexCorrupt, match="damaged: run `ollm index --rebuild`"):
        Searcher(home).search("tart")
    manifest.write_bytes(good)
    for path in (home / "index" / "fulltext").rglob("*"):
        if path.is_file():
            path.write_bytes(b"garbage")
    with pytest.raises(IndexProblem, match="ollm index --rebuild"):
        Searcher(home).search("tart", mode="text")
    report = Index(home).sync(rebuild=True)
    assert report.added == 3
    assert ids(Searcher(home).search("lemon tart", mode="text")) == ["s-lemon"]


@pytest.mark.slow
def test_recording_and_indexing_at_the_same_time_lose_nothing(tmp_path):
    import subprocess
    import sys

    from test_crash_and_concurrency import RECORDER, new_session

    home = tmp_path / "home"
    session_id = new_session(home / "sessions")
    child = subprocess.Popen(
        [sys.executable, "-c", RECORDER, str(home / "sessions"), session_id, "w", "150"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    index = Index(home)
    syncs = 0
    while child.poll() is None:
        report = index.sync()
        assert not report.broken
        syncs += 1
    assert child.returncode == 0, child.stderr.read() if child.stderr else ""
    index.sync()
    assert syncs >= 2
    manifest = json.loads((home / "index" / "manifest.json").read_text())
    assert manifest["sessions"][session_id]["messages"] == 150
    found = Searcher(home).search("w-149", mode="text", role="user")
    assert ids(found) == [session_id]


@pytest.mark.slow
def test_exclude_leaves_out_the_current_session(searcher):
    assert NGINX_502 in ids(searcher.search("nginx 502 php", limit=3))
    assert NGINX_502 not in ids(searcher.search("nginx 502 php", limit=3, exclude=frozenset([NGINX_502])))


@pytest.mark.slow
def test_ranking_only_skips_snippets(searcher):
    hits = searcher.search("nginx 502 php", limit=2, snippets=False)
    assert hits[0].session_id == NGINX_502 and all(hit.snippets == [] for hit in hits)


def test_a_long_pasted_message_is_ranked_by_its_rarest_words():
    from ollm_recall.index.textsearch import MAX_QUERY_TERMS, rarest_terms

    frequency = {f"w{n}": n for n in range(100)}
    terms = [f"w{n}" for n in reversed(range(100))]
    kept = rarest_terms(terms, lambda _field, term: frequency[term], MAX_QUERY_TERMS)
    assert kept == [f"w{n}" for n in reversed(range(MAX_QUERY_TERMS))]
    assert rarest_terms(["b", "a"], lambda _field, term: 1, MAX_QUERY_TERMS) == ["b", "a"]


@pytest.mark.slow
def test_the_sign_bit_pass_of_large_indexes_ranks_like_the_exact_pass(example_home, tmp_path, monkeypatch):
    """Past EXACT_ROWS rows only a sign-bit shortlist is scored exactly; forced on here, it must give
    the same sessions, scores and filters as scoring every row."""
    from ollm_recall.index import vectorstore

    home = tmp_path / "home"
    shutil.copytree(example_home, home)
    for bits in (home / "index" / "vectors").glob("*.bits.npy"):
        bits.unlink()  # derived files: rebuilt, and saved, on first need
    queries = [
        "my website broke with a gateway error after I updated the machine",
        "my bread culture has a chemical smell",
        "nginx 502 php",
        "typescript generics",
    ]
    exact = Searcher(home)
    expected = {
        q: [(h.session_id, round(h.similarity, 5)) for h in exact.search(q, mode="semantic", limit=3)]
        for q in queries
    }
    expected_hybrid = {q: ids(exact.search(q, limit=5)) for q in queries}
    monkeypatch.setattr(vectorstore, "EXACT_ROWS", 0)
    monkeypatch.setattr(vectorstore, "RESCORE_ROWS", 200)
    shortlisted = Searcher(home)
    for query in queries:
        hits = shortlisted.search(query, mode="semantic", limit=3)
        assert [(h.session_id, round(h.similarity, 5)) for h in hits] == expected[query], query
        assert ids(shortlisted.search(query, limit=5)) == expected_hybrid[query], query
    march = {"since": datetime(2026, 3, 1, tzinfo=UTC), "until": datetime(2026, 3, 31, tzinfo=UTC)}
    in_march = shortlisted.search("nginx", mode="semantic", **march)
    assert in_march and all(hit.start_time[:7] == "2026-03" for hit in in_march)
    assert NGINX_502 not in ids(
        shortlisted.search("nginx 502 php", mode="semantic", exclude=frozenset([NGINX_502]))
    )
    segments = [p for p in (home / "index" / "vectors").glob("*.npy") if p.name.count(".") == 1]
    for segment in segments:
        saved = np.load(segment.with_suffix(".bits.npy"))
        assert np.array_equal(saved, vectorstore.sign_bits(np.load(segment)))


def test_sign_bits_pack_each_dimension_sign():
    from ollm_recall.index.vector_segments import sign_bits

    rows = np.array([[1.0] * 64 + [-1.0] * 64, [-0.5] * 100 + [0.5] * 28])
    bits = sign_bits(rows)
    assert bits.shape == (2, 2) and bits.dtype == np.uint64
    assert np.bitwise_count(bits[0]).sum() == 64 and np.bitwise_count(bits[1]).sum() == 28
    assert np.bitwise_count(bits[0] ^ bits[1]).sum() == 64 + 28
    assert sign_bits(rows[:0]).shape == (0, 2)


@pytest.mark.slow
def test_a_search_after_a_sync_reloads_only_the_new_segments(tmp_path):
    service = _small_archive(tmp_path)
    Index(tmp_path).sync()
    searcher = Searcher(tmp_path)
    assert searcher.search("kubernetes ingress")
    before = {segment.name: segment for segment in searcher._vectors.segments}
    session_id = service.create_session(model="llama3.2")
    service.record_message(session_id, Message.text("user", "sourdough starter smells of acetone"))
    service.close_session(session_id)
    Index(tmp_path).sync()
    assert session_id in ids(searcher.search("sourdough acetone"))
    after = searcher._vectors.segments
    assert len(after) == len(before) + 1
    assert all(segment is before[segment.name] for segment in after if segment.name in before)
    Index(tmp_path).sync(rebuild=True)  # the same segment names again, in new files
    assert session_id in ids(searcher.search("sourdough acetone"))
    assert not any(segment is before.get(segment.name) for segment in searcher._vectors.segments)


def test_matched_words_finds_whole_words_in_any_case_at_their_positions():
    from ollm_recall.search.snippets import matched_words

    text = "Nginx, the ENGINE of engines: nginx's restarts RESTARTED; İstanbul nginx."
    found = matched_words(text, frozenset({"nginx", "restart"}))
    assert [(text[a:b], stem) for a, b, stem in found] == [
        ("Nginx", "nginx"),
        ("nginx", "nginx"),
        ("restarts", "restart"),
        ("RESTARTED", "restart"),
        ("nginx", "nginx"),
    ]
    assert found[-1][0] == text.rindex("nginx")  # a letter lower-cased to two does not shift positions
    assert matched_words("engine unrestarted", frozenset({"nginx", "restart"})) == []


@pytest.mark.slow
def test_a_short_sign_bit_list_still_finds_the_exact_best_session(example_home, monkeypatch):
    """A session's estimate is its best row and its score the mean of its best three, so asking for one
    session must still score a long enough list (MIN_SHORTLIST) to find the exact best."""
    from ollm_recall.index import vectorstore

    # questions whose best session by the mean of three rows is not among the three with the best
    # single rows, in a sign-bit shortlist of 24 rows (found by trying the example sessions' openings)
    queries = [
        "Hi there, I've spent four years making sure",
        "Usually not any more. Since the October 2023",
        "nginx 502 php",
        "my bread culture has a chemical smell",
    ]
    exact = Searcher(example_home)
    expected = {q: ids(exact.search(q, mode="semantic", limit=1)) for q in queries}
    monkeypatch.setattr(vectorstore, "EXACT_ROWS", 0)
    monkeypatch.setattr(vectorstore, "RESCORE_ROWS", 24)  # of ~170 rows: as few as at 50,000 sessions
    shortlisted = Searcher(example_home)
    assert {q: ids(shortlisted.search(q, mode="semantic", limit=1)) for q in queries} == expected


@pytest.mark.parametrize("word", ["C++", "C#", ".NET", "node.js", "php*"])
def test_technical_words_match_as_typed(tmp_path, word):
    from conftest import session_document, write_session_file

    from ollm_recall.index.indexer import Index

    texts = {
        "session-cpp": "my C++ templates fail to compile",
        "session-cs": "LINQ in C# is slow",
        "session-net": "upgrading a .NET app",
        "session-node": "node.js server leaks memory",
        "session-php": "the php site shows 502",
    }
    for sid, text in texts.items():
        write_session_file(
            tmp_path / "sessions",
            session_document(
                sid,
                messages=[
                    {
                        "role": "user",
                        "parts": [{"type": "text", "text": text}],
                        "timestamp": "2026-01-27T12:00:00.000Z",
                    }
                ],
            ),
        )
    Index(tmp_path).sync(meaning=False)
    searcher = Searcher(tmp_path)
    found = [hit.session_id for hit in searcher.search(word, mode="text", limit=5)]
    searcher.close()
    expected = {
        "C++": "session-cpp",
        "C#": "session-cs",
        ".NET": "session-net",
        "node.js": "session-node",
        "php*": "session-php",
    }[word]
    assert found == [expected]


@pytest.mark.slow
@pytest.mark.parametrize(
    "question, expected",
    [
        ("the database problem in april", "session-1776778620000"),  # without "in april": not first
        ("our travel plan from april", "session-1777409400000"),  # without "from april": not first
    ],
)
def test_date_words_in_the_question_move_that_time_up(searcher, question: str, expected: str) -> None:
    plain = question.rsplit(" ", 2)[0]
    without = ids(searcher.search(plain, limit=5))
    assert expected in without and without[0] != expected
    assert ids(searcher.search(question, limit=5))[0] == expected
    found_dates = searcher.find(question, limit=5).dates
    assert [found.words for found in found_dates] == [" ".join(question.split()[-2:])]


@pytest.mark.slow
@pytest.mark.parametrize(
    "question, expected",
    [
        ("the travel plan", "session-1777409400000"),  # neither: the closest, Lisbon in April
        ("the latest travel plan", "session-1795201200000"),  # recency words: Iceland in November
        ("the travel plan we discussed", "session-1795201200000"),
        ("my travel plan", "session-1795201200000"),  # the user's own work goes on: the newest
        ("my travel plan from april", "session-1777409400000"),  # date words outweigh recency
    ],
)
def test_recency_counts_only_where_the_question_asks_for_it(searcher, question: str, expected: str) -> None:
    assert ids(searcher.search(question, limit=5))[0] == expected


def test_date_words_lift_likely_sessions_of_those_days_not_every_one(searcher) -> None:
    hits = searcher.search("the postgres problem in april", limit=5)
    assert hits[0].session_id == "session-1776778620000"  # April, and about postgres
    june = next(n for n, hit in enumerate(hits) if hit.title.lower().startswith("postgres"))
    other_april = [n for n, hit in enumerate(hits[1:], 1) if hit.start_time.startswith("2026-04")]
    assert all(n > june for n in other_april)  # June, but about postgres: before other April days


def test_session_units_are_the_session_s_embedded_chunks_in_order(searcher):
    from ollm_recall.index.units import embedding_units

    searcher._load()
    session = searcher.store.read(NGINX_502)
    messages, vectors = searcher._vectors.session_units(NGINX_502)
    expected = embedding_units(session, 0)
    assert messages.tolist() == [message for message, _chunk, _text in expected]
    again = searcher.index.embedder.embed([text for _m, _c, text in expected])
    assert np.all(np.sum(again * vectors, axis=1) > 0.99)
    mean = vectors.mean(axis=0)
    assert np.allclose(searcher._vectors.centroids([NGINX_502])[NGINX_502], mean / np.linalg.norm(mean))
    assert searcher._vectors.session_units("session-0") is None


@pytest.mark.slow
def test_a_search_reads_the_new_segments_when_a_sync_replaced_them_under_it(tmp_path: Path) -> None:
    shutil.copytree(REPO / "examples" / "sessions", tmp_path / "sessions")
    index = Index(tmp_path)
    index.sync()
    path = write_session_file(tmp_path / "sessions", session_document("session-1799999999000"))
    index.sync()  # its vectors go into a segment of their own
    searcher = Searcher(tmp_path, index=index)
    question = "my php site shows 502 after the upgrade"
    assert "session-1799999999000" in ids(searcher.search(question, limit=50))
    stamp = index.manifest_path.stat().st_mtime_ns
    opened = set(index.vector_dir.glob("seg-*.npy"))
    path.unlink()
    index.sync()  # the session's segment, all stale now, is removed
    assert opened - set(index.vector_dir.glob("seg-*.npy"))
    os.utime(index.manifest_path, ns=(stamp, stamp))  # as if the sync landed while the search ran
    found = ids(searcher.search(question, limit=50))
    assert found and "session-1799999999000" not in found
    searcher.close()


@pytest.mark.slow
def test_a_search_that_meets_a_rebuild_swap_half_done_answers_once_it_is_done(
    tmp_path: Path, monkeypatch
) -> None:
    from ollm_recall.search import searcher as searcher_module

    sessions = tmp_path / "sessions"
    for number in range(3):
        write_session_file(sessions, session_document(f"session-{number}"))
    index = Index(tmp_path)
    index.sync()
    staging, retired = index.directory / "rebuild", index.directory / "retired"
    shutil.copytree(index.directory, tmp_path / "built")  # what a rebuild made beside the old index
    shutil.move(tmp_path / "built", staging)
    retired.mkdir()
    os.replace(index.directory / "fulltext", retired / "fulltext")  # the swap's first rename, no more

    def the_writer_finishes(_seconds: float) -> None:  # the reader's pause, in which the swap completes
        if (staging / "fulltext").exists():
            os.replace(staging / "fulltext", index.directory / "fulltext")
            os.replace(index.directory / "vectors", retired / "vectors")
            os.replace(staging / "vectors", index.directory / "vectors")
            os.replace(staging / "manifest.json", index.manifest_path)

    monkeypatch.setattr(searcher_module.time, "sleep", the_writer_finishes)
    searcher = Searcher(tmp_path, index=index)
    assert searcher.search("rotate nginx logs", limit=3, mode="text")  # neither an error nor nothing
    assert not (staging / "fulltext").exists()  # it did meet the half-done swap
    searcher.close()


def test_every_index_file_is_the_user_s_alone_whatever_the_umask(tmp_path: Path) -> None:
    for number in range(2):
        write_session_file(tmp_path / "sessions", session_document(f"session-{number}"))
    previous = os.umask(0o022)  # a usual umask: whoosh's own files would be 0644
    try:
        Index(tmp_path).sync()
        write_session_file(tmp_path / "sessions", session_document("session-2"))
        Index(tmp_path).sync()
    finally:
        os.umask(previous)
    loose = {
        str(path.relative_to(tmp_path)): oct(path.stat().st_mode & 0o777)
        for path in (tmp_path / "index").rglob("*")
        if path.stat().st_mode & 0o077
    }
    assert loose == {}
