"""What a new user ran into on a first day: each defect, tried the way it was met."""

from __future__ import annotations

import multiprocessing
import stat
import threading
from pathlib import Path

import pytest
from conftest import SUBPROCESS_CEILING, session_document, write_session_file

from ollm_recall.archive.store import SessionStore


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _create_at_the_barrier(folder: Path, start, failures) -> None:
    start.wait()
    try:
        SessionStore(folder).ensure_directory()
    except BaseException as exc:  # reported to the parent, which fails the test
        failures.put(repr(exc))


def test_many_processes_creating_the_sessions_folder_at_once_all_succeed(tmp_path):
    context = multiprocessing.get_context("fork")
    for attempt in range(10):
        folder = tmp_path / f"home-{attempt}" / "sessions"
        start, failures = context.Barrier(6), context.Queue()
        workers = [
            context.Process(target=_create_at_the_barrier, args=(folder, start, failures)) for _ in range(6)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(SUBPROCESS_CEILING)
        assert [worker.exitcode for worker in workers] == [0] * 6
        assert failures.empty(), failures.get()
        assert mode_of(folder) == 0o700 and mode_of(folder.parent) == 0o700


def test_many_threads_creating_the_sessions_folder_at_once_all_succeed(tmp_path):
    for attempt in range(40):
        folder = tmp_path / f"home-{attempt}" / "sessions"
        start = threading.Barrier(6)
        errors: list[BaseException] = []

        def create(
            folder: Path = folder, start: threading.Barrier = start, errors: list[BaseException] = errors
        ) -> None:
            start.wait()
            try:
                SessionStore(folder).ensure_directory()
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=create) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert mode_of(folder) == 0o700 and mode_of(folder.parent) == 0o700


def test_a_file_where_the_sessions_folder_should_be_is_one_line(cli, isolated_home, model_server):
    isolated_home.mkdir()
    (isolated_home / "sessions").write_text("not a folder")
    result = cli("chat", "--model", "demo", "--base-url", model_server().url, "-p", "hello")
    assert result.exit_code == 1
    assert result.stderr.strip().endswith("sessions is not a directory")


@pytest.mark.slow
def test_a_home_made_by_chat_is_private_from_the_start(cli, isolated_home, model_server):
    server = model_server()
    result = cli("chat", "--model", "demo", "--base-url", server.url, "-p", "the pegs are in the blue bag")
    assert result.exit_code == 0, result.stderr
    for folder in (isolated_home, isolated_home / "sessions", isolated_home / "index"):
        assert mode_of(folder) == 0o700, folder
    assert cli("doctor").stdout == ""


def test_new_and_model_leave_no_empty_session_file(cli, isolated_home, model_server):
    server = model_server(models=("demo", "other"))
    script = "hello\n/new\n/model other\n/new\n/model demo\n/exit\n"
    result = cli("chat", "--model", "demo", "--base-url", server.url, "--no-recall", input=script)
    assert result.exit_code == 0, result.stderr
    files = list((isolated_home / "sessions").glob("*.json"))
    assert len(files) == 1 and "hello" in files[0].read_text()
    assert "it starts with your next message" in result.stderr


@pytest.fixture
def one_session(isolated_home):
    write_session_file(isolated_home / "sessions", session_document("session-1"))
    return isolated_home


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--session", "nope"], 1, "error: no session with id 'nope' in "),
        (
            ["--since", "2026-03-01", "--until", "2026-02-01"],
            1,
            "error: --since 2026-03-01 is after --until 2026-02-01: no session can match",
        ),
    ],
)
def test_filters_that_cannot_match_say_why(cli, one_session, args, code, message):
    result = cli("recall", "nginx logs", *args)
    assert result.exit_code == code
    assert result.stderr.startswith(message) and result.stdout == ""


@pytest.mark.parametrize("command", [["export", "--query", "x"], ["sessions", "list"]])
def test_an_empty_date_range_is_an_error_everywhere(cli, one_session, command):
    result = cli(*command, "--since", "2026-03-01", "--until", "2026-02-01")
    assert result.exit_code == 1 and "is after --until" in result.stderr


@pytest.mark.parametrize("query", ["", "   "])
def test_an_empty_query_is_a_usage_error(cli, one_session, query):
    result = cli("recall", query)
    assert result.exit_code == 2
    assert result.stderr == "error: nothing to search for: the query is empty\n"


def test_a_message_with_an_unknown_role_is_an_ollm_recall_error():
    from ollm_recall import Message, OllmRecallError

    with pytest.raises(OllmRecallError, match="unknown role 'robot'"):
        Message.text("robot", "beep")


def test_help_texts_carry_no_markup(cli):
    for command in (["sessions", "pin", "--help"], ["recall", "--help"], ["index", "--help"]):
        assert "``" not in cli(*command).stdout
