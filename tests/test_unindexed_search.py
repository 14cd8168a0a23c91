"""Sessions the words index does not hold yet are found by their words all the same (read directly)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import REPO, session_document, write_session_file

from ollm_recall.agent.tools import ArchiveTools
from ollm_recall.index.indexer import Index
from ollm_recall.search.searcher import Searcher

LATE = "session-1799999000000"


def plant_late_session(home: Path) -> None:
    """A session the index has not seen, the only one to name its host and error."""
    document = session_document(LATE)
    document["messages"][0]["parts"][0]["text"] = "kestrel-gw returns ECONNRESET on the websocket upgrade"
    write_session_file(home / "sessions", document)


def test_a_never_indexed_archive_is_searched_by_reading_it(isolated_home: Path, cli) -> None:
    shutil.copytree(REPO / "examples" / "sessions", isolated_home / "sessions")
    plant_late_session(isolated_home)
    result = cli("recall", "kestrel-gw ECONNRESET websocket", "--no-sync")
    assert result.exit_code == 0, result.stderr
    assert LATE in result.stdout.splitlines()[0]
    assert "searched 46 of 46 sessions by words (46 read directly, not indexed yet)" in result.stderr
    assert not (isolated_home / "index").exists()  # --no-sync: nothing written


@pytest.mark.slow
def test_sessions_the_index_lacks_are_found_beside_those_it_holds(tmp_path: Path) -> None:
    shutil.copytree(REPO / "examples" / "sessions", tmp_path / "sessions")
    Index(tmp_path).sync()
    plant_late_session(tmp_path)  # written after the index
    searcher = Searcher(tmp_path)
    result = searcher.find("kestrel-gw ECONNRESET on the websocket", limit=3)
    assert result.hits[0].session_id == LATE and result.sessions_read == 1
    assert result.hits[0].snippets and "ECONNRESET" in result.hits[0].snippets[0].text
    assert searcher.find("kestrel-gw", limit=3, model="no-such-model").hits == []  # filters hold
    plain = searcher.find("nginx 502 php", limit=3)
    assert plain.hits[0].session_id == "session-1772486820000"  # the indexed best match stays first
    searcher.close()


def test_the_first_mcp_recall_finds_by_words_and_says_what_is_true(isolated_home: Path) -> None:
    shutil.copytree(REPO / "examples" / "sessions", isolated_home / "sessions")
    plant_late_session(isolated_home)
    tools = ArchiveTools(isolated_home, background=False)
    first = tools.recall("kestrel-gw ECONNRESET websocket", limit=2)
    assert first["hits"][0]["sessionId"] == LATE
    assert first["note"].startswith("searched 46 of 46 sessions by words (46 read directly")
    Index(isolated_home).sync()
    later = tools.recall("kestrel-gw ECONNRESET websocket", limit=2)
    assert later["hits"][0]["sessionId"] == LATE and "note" not in later  # the index holds all now
    tools.close()
