"""`ollm index` and `ollm recall` through the CLI, on a small real archive."""

from __future__ import annotations

import json

import pytest
from conftest import SUBPROCESS_CEILING, run_ollm

from ollm_recall import ChatRecordingService, Message


@pytest.fixture
def small_home(isolated_home):
    service = ChatRecordingService(isolated_home / "sessions")
    for sid, model, words in (
        ("s-k8s", "gemma3:4b", "kubernetes ingress timeout"),
        ("s-tart", "qwen2.5:7b", "lemon tart recipe"),
    ):
        service.create_session(model=model, session_id=sid)
        service.record_message(sid, Message.text("user", f"question about {words}"))
        service.record_message(sid, Message.text("assistant", f"answer about {words}"))
    service.close()
    return isolated_home


@pytest.mark.slow
def test_index_then_recall_as_json(cli, small_home):
    built = cli("index", "--json")
    assert built.exit_code == 0, built.stderr
    summary = json.loads(built.stdout)
    assert (summary["added"], summary["embedded"], summary["broken"]) == (2, 4, [])
    status = json.loads(cli("index", "status", "--json").stdout)
    assert status["indexed"] == 2
    assert status["engine"] == "onnx-int8"  # a new index: int8 vectors, the model's graph in ONNX Runtime
    found = cli("recall", "kubernetes ingress", "--json", "--no-sync")
    assert found.exit_code == 0, found.stderr
    hits = [json.loads(line) for line in found.stdout.splitlines()]
    assert hits[0]["sessionId"] == "s-k8s"
    assert set(hits[0]) == {"sessionId", "score", "title", "startTime", "model", "provider", "snippets"}
    assert hits[0]["snippets"][0]["messageIndex"] in (0, 1)


@pytest.mark.slow
def test_recall_syncs_first_and_prints_a_readable_list(cli, small_home):
    result = cli("recall", "lemon tart", "--mode", "text")
    assert result.exit_code == 0, result.stderr
    first = result.stdout.splitlines()[0]
    assert first.startswith("1. ") and "question about lemon tart recipe" in first and "s-tart" in first
    assert "   user: question about lemon tart recipe" in result.stdout


def test_recall_without_an_index_and_no_sync_reads_the_sessions(cli, small_home):
    result = cli("recall", "lemon tart", "--no-sync")
    assert result.exit_code == 0, result.stderr
    assert "s-tart" in result.stdout.splitlines()[0]
    assert "read directly, not indexed yet" in result.stderr and not (small_home / "index").exists()
    by_meaning = cli("recall", "lemon tart", "--no-sync", "--mode", "semantic")
    assert by_meaning.exit_code == 1
    assert by_meaning.stderr == f"error: no search index at {small_home / 'index'} yet: run `ollm index`\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--mode", "fuzzy"], "error: unknown mode 'fuzzy': use one of hybrid, text, semantic\n"),
        (["--role", "bot", "--no-sync"], None),
        (["--since", "yesterdayish"], "error: invalid date 'yesterdayish'"),
        (["--session", "../x"], "error: invalid session id '../x'"),
    ],
)
def test_recall_bad_arguments(cli, small_home, args, message):
    result = cli("recall", "x", *args)
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
    if message:
        assert result.stderr.startswith(message)


@pytest.mark.slow
def test_a_corrupt_index_is_one_line_in_a_real_process(small_home):
    assert run_ollm("index").returncode == 0
    (small_home / "index" / "manifest.json").write_text("{broken")
    result = run_ollm("recall", "tart")
    assert result.returncode == 1
    assert result.stderr == (
        f"error: the index manifest {small_home / 'index' / 'manifest.json'} is "
        "damaged: run `ollm index --rebuild`\n"
    )
    rebuilt = run_ollm("index", "--rebuild")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "2 added" in rebuilt.stderr
    assert json.loads(run_ollm("recall", "tart", "--json").stdout.splitlines()[0])["sessionId"] == "s-tart"


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.5, 3.0, 6.0])
def test_ctrl_c_during_index_keeps_a_usable_index(isolated_home, delay):
    """SIGINT at any moment: no traceback, exit 130 or 0, and the next run completes the index."""
    import os
    import shutil
    import signal
    import subprocess
    import sys
    import time

    from conftest import REPO

    shutil.copytree(REPO / "examples" / "sessions", isolated_home / "sessions")
    child = subprocess.Popen(
        [sys.executable, "-c", "from ollm_recall.cli.app import main; main()", "index"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "OLLM_HOME": str(isolated_home)},
    )
    time.sleep(delay)
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=SUBPROCESS_CEILING)
    assert "Traceback" not in err
    assert child.returncode in (0, 1, 130), err
    again = run_ollm("index", "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(run_ollm("index", "status", "--json").stdout)["indexed"] == 45
    found = run_ollm("recall", "php-fpm socket", "--json", "--no-sync", "--mode", "text")
    assert json.loads(found.stdout.splitlines()[0])["sessionId"] == "session-1772486820000"
