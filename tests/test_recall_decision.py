"""Automatic recall decides by one estimate of relevance that reads words and meaning both."""

from __future__ import annotations

import shutil

import pytest
from conftest import REPO, session_document, write_session_file

from ollm_recall.chat.recall import recall_for
from ollm_recall.config import SETTINGS
from ollm_recall.index.indexer import Index
from ollm_recall.search.searcher import Searcher

RARE = "session-1799000000000"
THRESHOLD = SETTINGS["recall_threshold"].default


@pytest.fixture(scope="module")
def searcher(tmp_path_factory: pytest.TempPathFactory) -> Searcher:
    """The example archive with one more session, the only one to name a host, a port and an error."""
    home = tmp_path_factory.mktemp("rare-words")
    shutil.copytree(REPO / "examples" / "sessions", home / "sessions")
    turns = [
        ("user", "How often should the homelab back up the family photos, and where to?"),
        ("assistant", "Nightly snapshots kept a week, weekly ones kept a quarter, one copy off site."),
        ("user", "Also pve-node7 answers ERR_SSL_VERSION_OR_CIPHER_MISMATCH on 8006 since Tuesday."),
        ("assistant", "Regenerate its certificate with pvecm updatecerts --force and restart pveproxy."),
    ]
    write_session_file(
        home / "sessions",
        session_document(
            RARE,
            startTime="2026-11-25T10:00:00.000Z",
            lastActivity="2026-11-25T10:05:00.000Z",
            messages=[
                {
                    "role": role,
                    "parts": [{"type": "text", "text": text}],
                    "timestamp": "2026-11-25T10:00:00.000Z",
                }
                for role, text in turns
            ],
        ),
    )
    Index(home).sync()
    found = Searcher(home)
    yield found
    found.close()


def recalled(searcher: Searcher, message: str) -> list[str]:
    recall = recall_for(searcher, message, budget_tokens=2000, threshold=THRESHOLD, most=3)
    return [] if recall is None else [session.session_id for session in recall.sessions]


@pytest.mark.slow
def test_a_question_sharing_rare_words_with_one_session_recalls_it(searcher: Searcher) -> None:
    message = "ok so 8006 on pve-node7 again, is it the cipher mismatch thing"
    [closest] = searcher.search(message, limit=1, mode="semantic", snippets=False)
    assert closest.session_id == RARE and closest.similarity < 0.5  # by meaning alone: not recalled
    assert recalled(searcher, message)[0] == RARE


@pytest.mark.slow
@pytest.mark.parametrize(
    "message",
    ["zzzzqqqq xyzzy plover", "what is the capital of Mongolia and its population"],
)
def test_a_question_about_nothing_in_the_archive_recalls_nothing(searcher: Searcher, message: str) -> None:
    assert recalled(searcher, message) == []


@pytest.mark.slow
def test_a_clear_best_hit_reads_as_clearly_relevant(searcher: Searcher) -> None:
    [best] = searcher.search("pve-node7 port 8006 ERR_SSL_VERSION_OR_CIPHER_MISMATCH", limit=1)
    assert best.session_id == RARE and best.relevance is not None and best.relevance >= 0.5
    assert best.score == best.relevance


@pytest.mark.slow
def test_a_pasted_log_longer_than_a_query_may_be_still_recalls_by_its_beginning(searcher: Searcher) -> None:
    message = "ok so 8006 on pve-node7 again, is it the cipher mismatch thing\n" + "=" * 9000
    assert len(message) > 4000
    assert recalled(searcher, message)[0] == RARE
