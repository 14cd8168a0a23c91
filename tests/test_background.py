"""Search never waits for indexing: budgeted syncs, the background indexer, readers beside writers.

Real processes and real indexes throughout; nothing here times anything: processes are waited for
under a generous ceiling, and moments to interrupt are found by watching the index's own files.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, SUBPROCESS_CEILING, run_ollm, session_document, write_session_file

from ollm_recall._locking import SessionLock
from ollm_recall.archive.sealed_files import Sealer
from ollm_recall.index.background import catch_up, read_status
from ollm_recall.index.indexer import Index
from ollm_recall.index.manifest import Manifest
from ollm_recall.search.searcher import Searcher

EXAMPLES = REPO / "examples" / "sessions"


def copy_examples(home: Path, count: int) -> list[str]:
    """``count`` sessions made from the example archive (copies get new ids), newest last."""
    sessions = home / "sessions"
    sessions.mkdir(parents=True, exist_ok=True)
    sources = sorted(EXAMPLES.glob("*.json"))
    ids = []
    for number in range(count):
        document = json.loads(sources[number % len(sources)].read_text(encoding="utf-8"))
        if number >= len(sources):
            document["sessionId"] = f"{document['sessionId']}-copy{number // len(sources)}"
        write_session_file(sessions, document)
        ids.append(document["sessionId"])
    return ids


def manifest_of(home: Path) -> Manifest | None:
    try:
        return Manifest.load(home / "index" / "manifest.json", sealer=Sealer(home / "sessions"))
    except Exception:
        return None


def worker_state(home: Path) -> str | None:
    status = read_status(Index(home))
    return None if status is None else status.state


def wait_until(condition, what: str, ceiling: float = SUBPROCESS_CEILING) -> None:
    """Poll ``condition`` until it holds; fail only past a ceiling no healthy run comes near."""
    deadline = time.monotonic() + ceiling
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"still waiting for {what} after {ceiling} s")
        time.sleep(0.05)


def ollm_process(home: Path, *args: str, background: bool = False) -> subprocess.Popen:
    """``ollm ARGS`` in a new process; a search in it indexes only the newest session before it
    answers (a zero budget: what is left over must not depend on the machine's speed)."""
    env = {
        **os.environ,
        "OLLM_HOME": str(home),
        "OLLM_BACKGROUND_INDEX": "1" if background else "0",
        "OLLM_SEARCH_BUDGET": "0",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "ollm_recall", *args],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


SMALL_COMMITS = (
    "import sys, runpy; import ollm_recall.index.meaning as meaning; "
    "meaning.PIECE_TEXTS, meaning.BATCH_TEXTS = 16, 32; "
    "sys.argv = ['ollm', *sys.argv[1:]]; runpy.run_module('ollm_recall', run_name='__main__')"
)
"""``ollm`` embedding 16 texts at a time and committing vectors every 32 (not 512 and 2,048): an
interruption then has finished commits behind it and work ahead, whatever the machine's speed."""


def ollm_committing_often(home: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "OLLM_HOME": str(home), "OLLM_BACKGROUND_INDEX": "0"}
    return subprocess.Popen(
        [sys.executable, "-c", SMALL_COMMITS, *args],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def embedded(home: Path) -> int:
    manifest = manifest_of(home)
    return 0 if manifest is None else manifest.embedded_sessions()


def test_recall_on_an_empty_home_says_so_and_succeeds(isolated_home):
    result = run_ollm("recall", "nginx logs")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr.strip() == "no sessions recorded yet"


def test_an_unembedded_session_ranks_by_its_words(isolated_home):
    sessions = isolated_home / "sessions"
    for number in range(3):
        write_session_file(sessions, session_document(f"session-{number}"))
    Index(isolated_home).sync()
    write_session_file(
        sessions,
        session_document(
            "session-new",
            messages=[
                {
                    "role": "user",
                    "parts": [{"type": "text", "text": "my zfs scrub reports checksum errors"}],
                    "timestamp": "2026-01-28T12:00:00.000Z",
                }
            ],
        ),
    )
    report = Index(isolated_home).sync(meaning=False)
    assert (report.added, report.pending_meaning) == (1, 1)
    searcher = Searcher(isolated_home)
    hits = searcher.search("zfs scrub checksum errors", limit=4)
    searcher.close()
    assert hits[0].session_id == "session-new"
    assert hits[0].score >= max(hit.score for hit in hits)


def test_a_budgeted_sync_answers_at_once_and_says_what_it_covers(isolated_home):
    copy_examples(isolated_home, 12)
    report, seen = catch_up(Index(isolated_home), background=False, budget=0.0)
    assert report.added >= 1 and report.embedded >= 1  # the newest session, at least, in each phase
    assert seen.sessions == 12 and seen.words == report.added
    assert seen.line() is not None and "run `ollm index` to index the rest" in seen.line()
    result = run_ollm("recall", "nginx 502 php", "--json", "--no-sync")  # the state just committed
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith("searched ") and "run `ollm index` to index the rest" in result.stderr
    lines = result.stdout.splitlines()
    assert lines and all("coverage" in json.loads(line) for line in lines)


@pytest.mark.slow
def test_two_searches_at_once_start_one_background_indexer(isolated_home):
    copy_examples(isolated_home, 90)
    searches = [ollm_process(isolated_home, "recall", "nginx 502", background=True) for _ in range(2)]
    for search in searches:
        _out, err = search.communicate(timeout=SUBPROCESS_CEILING)
        assert search.returncode == 0, err
    wait_until(lambda: worker_state(isolated_home) == "finished", "the background indexer to finish")
    log = (isolated_home / "index" / "background.log").read_text(encoding="utf-8").splitlines()
    running = 0
    for line in log:
        running += line.endswith(" started") - (" finished: " in line or " stopped: " in line)
        assert running <= 1, log
    assert sum(line.endswith(" started") for line in log) >= 1
    manifest = manifest_of(isolated_home)
    assert manifest is not None and manifest.embedded_sessions() == 90
    status = run_ollm("index", "status", "--json")
    assert json.loads(status.stdout)["background"]["state"] == "finished"
    text = run_ollm("index", "status")
    assert text.returncode == 0 and "background finished" in text.stdout, text.stderr


@pytest.mark.slow
def test_kill_9_of_the_background_indexer_keeps_a_searchable_index(isolated_home):
    copy_examples(isolated_home, 90)
    Index(isolated_home).sync(meaning=False)
    rng = random.Random(7)
    for _trial in range(4):
        before = embedded(isolated_home)
        worker = ollm_committing_often(isolated_home, "index", "--worker")
        wait_until(lambda: embedded(isolated_home) > before, "the worker to commit vectors")  # noqa: B023
        time.sleep(rng.uniform(0.0, 0.05))
        worker.send_signal(signal.SIGKILL)
        assert worker.wait(timeout=SUBPROCESS_CEILING) == -signal.SIGKILL  # killed, not finished
        assert before < embedded(isolated_home) < 90  # mid-work: commits behind it, work ahead
        searcher = Searcher(isolated_home)
        assert searcher.search("nginx 502", limit=3)  # whatever was committed is readable
        searcher.close()
    finished = run_ollm("index")
    assert finished.returncode == 0, finished.stderr
    assert embedded(isolated_home) == 90
    searcher = Searcher(isolated_home)
    assert searcher.search("sourdough starter smells", limit=1, mode="semantic")
    searcher.close()


@pytest.mark.slow
def test_ctrl_c_of_ollm_index_keeps_finished_work(isolated_home):
    copy_examples(isolated_home, 90)
    indexer = ollm_committing_often(isolated_home, "index")
    wait_until(lambda: embedded(isolated_home) > 0, "the first sessions to be embedded")
    indexer.send_signal(signal.SIGINT)
    _out, err = indexer.communicate(timeout=SUBPROCESS_CEILING)
    assert indexer.returncode == 130 and "interrupted" in err  # it landed mid-work
    kept = manifest_of(isolated_home)
    assert kept is not None and len(kept.sessions) == 90  # words come first, for every session
    assert 0 < kept.embedded_sessions() < 90
    again = run_ollm("index", "--json")
    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)
    assert report["added"] == 0 and report["updated"] == 0
    assert embedded(isolated_home) == 90


@pytest.mark.slow
def test_recall_answers_from_the_old_index_during_a_rebuild(isolated_home):
    copy_examples(isolated_home, 45)
    assert run_ollm("index").returncode == 0
    rebuild = ollm_process(isolated_home, "index", "--rebuild")
    staging = isolated_home / "index" / "rebuild" / "manifest.json"
    wait_until(lambda: staging.exists() or rebuild.poll() is not None, "the rebuild to start")
    rebuild.send_signal(signal.SIGSTOP)  # hold the rebuild where it is, lock and all
    try:
        result = run_ollm("recall", "nginx 502 after the php upgrade", "--limit", "1")
    finally:
        rebuild.send_signal(signal.SIGCONT)
    _out, err = rebuild.communicate(timeout=SUBPROCESS_CEILING)
    assert rebuild.returncode == 0, err
    assert result.returncode == 0, result.stderr
    assert "session-1772486820000" in result.stdout


def test_a_search_beside_a_busy_writer_searches_the_committed_index(isolated_home):
    write_session_file(isolated_home / "sessions", session_document("session-1"))
    Index(isolated_home).sync()
    write_session_file(isolated_home / "sessions", session_document("session-2"))
    with SessionLock(isolated_home / "index" / ".lock", "index"):  # what any writer holds
        result = run_ollm("recall", "rotate nginx logs")
    assert result.returncode == 0, result.stderr
    assert "session-1" in result.stdout
    assert "another `ollm index` is indexing the rest" in result.stderr


def test_index_stop_without_a_worker_says_so(isolated_home):
    result = run_ollm("index", "--stop")
    assert result.returncode == 0
    assert "no background indexer is running" in result.stderr


@pytest.mark.slow
def test_a_worker_that_must_prepare_the_model_first_finishes(isolated_home, tmp_path):
    copy_examples(isolated_home, 3)
    Index(isolated_home).sync(meaning=False)
    fresh_cache = tmp_path / "fresh-model-cache"  # a first run: no model graph prepared yet
    worker = run_ollm("index", "--worker", env={"OLLM_MODEL_CACHE": str(fresh_cache)})
    assert worker.returncode == 0, worker.stderr
    assert worker_state(isolated_home) == "finished" and embedded(isolated_home) == 3
    assert list(fresh_cache.glob("all-MiniLM-L6-v2-*.onnx"))
