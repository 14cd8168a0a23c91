"""Every bad input gets one line naming the problem, a non-zero exit, no traceback, no changed file."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import SUBPROCESS_CEILING, session_document, write_session_file

from ollm_recall import CorruptSession, Session, SessionStore

GOOD = session_document("good-1")


def _variant(**changes: object) -> bytes:
    return json.dumps({**session_document("bad-1"), **changes}).encode()


def _message_variant(**changes: object) -> bytes:
    document = session_document("bad-1")
    document["messages"][0] = {**document["messages"][0], **changes}
    return json.dumps(document).encode()


BAD_FILES = {
    "malformed JSON": (b'{"sessionId": "bad-1", nope}', "bad-1.json: malformed JSON"),
    "truncated": (json.dumps(session_document("bad-1")).encode()[:-40], "bad-1.json: truncated JSON"),
    "empty": (b"", "bad-1.json: empty file"),
    "not an object": (b"[1, 2, 3]", "must be a JSON object, not an array"),
    "model not a string": (_variant(model=3), "'model' must be a string, not a number"),
    "messages not a list": (_variant(messages={"a": 1}), "'messages' must be an array, not an object"),
    "missing provider": (
        json.dumps({k: v for k, v in session_document("bad-1").items() if k != "provider"}).encode(),
        "missing field 'provider'",
    ),
    "unknown role": (_message_variant(role="bot"), "messages[0]: unknown role 'bot'"),
    "part without text": (
        _message_variant(parts=[{"type": "text"}]),
        "messages[0]: parts[0]: missing field 'text'",
    ),
    "no parts": (_message_variant(parts=[]), "messages[0]: 'parts' is empty"),
    "timestamp without zone": (_message_variant(timestamp="2026-01-27T12:00:00"), "has no time zone"),
    "id differs from name": (
        json.dumps(session_document("other-1")).encode(),
        "bad-1.json: sessionId 'other-1' does not match the file name",
    ),
    "invalid UTF-8": (
        b'{"sessionId": "bad-1", "model": "\xff\xfe"}',
        "bad-1.json: not valid UTF-8 (byte 0xff at offset 33)",
    ),
    "deeply nested": (
        b'{"sessionId": "bad-1", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        "bad-1.json: JSON nested too deeply",
    ),
    "moderately nested": (
        b'{"sessionId": "bad-1", "x": ' + b"[" * 150 + b"]" * 150 + b"}",
        "bad-1.json: JSON nested too deeply",
    ),
    "NaN": (
        _variant(metadata={"tokenCount": float("nan"), "compressionCount": 0, "modeHistory": []}),
        "NaN is not valid JSON",
    ),
    "activity before start": (
        _variant(lastActivity="2026-01-01T00:00:00Z"),
        "'lastActivity' (2026-01-01T00:00:00Z) is before 'startTime'",
    ),
    "bad metadata": (
        _variant(metadata={"tokenCount": "many"}),
        "metadata: 'tokenCount' must be an integer, not a string",
    ),
}


# Faults past the head of the file: listings (which read only the head) may still list these; reading
# the session reports them.
BODY_FAULTS = {"NaN", "bad metadata"}


@pytest.fixture
def damaged_archive(sessions_path: Path):
    def make(kind: str) -> tuple[Path, str]:
        raw, expected = BAD_FILES[kind]
        write_session_file(sessions_path, GOOD)
        path = sessions_path / "bad-1.json"
        path.write_bytes(raw)
        return path, expected

    return make


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in directory.iterdir() if p.is_file()}


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_store_reports_the_problem_in_one_line(damaged_archive, sessions_path, kind):
    path, expected = damaged_archive(kind)
    before = _snapshot(sessions_path)
    with pytest.raises(CorruptSession) as caught:
        SessionStore(sessions_path).read("bad-1")
    assert expected in str(caught.value)
    assert str(caught.value).startswith("bad-1.json: ")
    assert "\n" not in str(caught.value)
    listing = SessionStore(sessions_path).list()
    if kind not in BODY_FAULTS:
        assert [s.session_id for s in listing.sessions] == ["good-1"]
        assert [str(p) for p in listing.problems] == [str(caught.value)]
    assert _snapshot(sessions_path) == before


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_cli_show_and_export_fail_cleanly(damaged_archive, sessions_path, cli, kind):
    path, expected = damaged_archive(kind)
    before = _snapshot(sessions_path)
    for args in (["sessions", "show", "bad-1"], ["export", "bad-1"], ["export", "bad-1", "-f", "json"]):
        result = cli(*args)
        assert result.exit_code == 1, args
        assert result.stdout == ""
        assert result.stderr.startswith("error: bad-1.json: ")
        assert expected in " ".join(result.stderr.split())
        assert result.stderr.count("\n") == 1
    listed = cli("sessions", "list", "--json")
    assert listed.exit_code == 0
    if kind not in BODY_FAULTS:
        assert [s["id"] for s in json.loads(listed.stdout)] == ["good-1"]
        assert "warning: skipped bad-1.json" in listed.stderr
    assert _snapshot(sessions_path) == before


BAD_IDS = ["../x", "a/b", "a\\b", "..", "", "x" * 129, ".hidden", "a b"]


@pytest.mark.parametrize("bad_id", BAD_IDS)
def test_cli_bad_ids(cli, sessions_path, bad_id):
    write_session_file(sessions_path, GOOD)
    before = _snapshot(sessions_path)
    for args in (["sessions", "show", bad_id], ["sessions", "delete", bad_id, "--yes"], ["export", bad_id]):
        result = cli(*args)
        assert result.exit_code == 1, args
        assert result.stderr.startswith("error: invalid session id")
        assert result.stderr.count("\n") == 1
    assert _snapshot(sessions_path) == before


def test_unknown_id(cli, sessions_path):
    write_session_file(sessions_path, GOOD)
    result = cli("sessions", "show", "session-404")
    assert result.exit_code == 1
    assert result.stderr == f"error: no session with id 'session-404' in {sessions_path}\n"


def test_delete_checks_every_id_before_deleting_any(cli, sessions_path):
    write_session_file(sessions_path, GOOD)
    result = cli("sessions", "delete", "good-1", "session-404", "--yes")
    assert result.exit_code == 1
    assert (sessions_path / "good-1.json").exists()


def test_unknown_export_format(cli, sessions_path):
    write_session_file(sessions_path, GOOD)
    result = cli("export", "good-1", "--format", "pdf")
    assert result.exit_code == 1
    assert result.stderr == "error: unknown export format 'pdf': use one of md, json, html, jsonl\n"


@pytest.mark.parametrize("flag", ["--since", "--until"])
def test_bad_dates(cli, sessions_path, flag):
    write_session_file(sessions_path, GOOD)
    result = cli("sessions", "list", flag, "last tuesday")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: invalid date 'last tuesday': use YYYY-MM-DD")


def test_sessions_path_is_a_file(cli, isolated_home):
    isolated_home.mkdir()
    (isolated_home / "sessions").write_text("not a folder")
    result = cli("sessions", "list")
    assert result.exit_code == 1
    assert result.stderr == f"error: {isolated_home / 'sessions'} is not a directory\n"


def test_unreadable_directory_in_a_real_process(isolated_home):
    """An unreadable sessions folder is one line, not a traceback.

    Tests run as root here, and root reads any folder; so as root the command runs without the two
    capabilities that bypass permission checks (util-linux ``setpriv``), and the folder's 000 mode
    applies to it as to anyone.
    """
    sessions = isolated_home / "sessions"
    write_session_file(sessions, GOOD)
    os.chmod(sessions, 0o000)
    try:
        result = _run_without_privileges(["sessions", "list"], isolated_home)
    finally:
        os.chmod(sessions, 0o700)
    assert result.returncode == 1, result.stderr
    assert result.stderr == f"error: cannot read {sessions}: Permission denied\n"


def _run_without_privileges(command: list[str], home: Path):
    import shutil
    import subprocess
    import sys

    prefix: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.fail("setpriv (util-linux) is needed to drop root's file-permission override")
        prefix = [setpriv, "--bounding-set=-dac_override,-dac_read_search"]
    return subprocess.run(
        [*prefix, sys.executable, "-c", "from ollm_recall.cli.app import main; main()", *command],
        capture_output=True,
        text=True,
        env={**os.environ, "OLLM_HOME": str(home)},
        timeout=SUBPROCESS_CEILING,
    )


def test_parse_from_bytes_keeps_big_integers():
    raw = json.dumps(session_document("x", extraNumber=2**80)).encode()
    assert Session.from_bytes(raw, "x.json").extra["extraNumber"] == 2**80


WRITE_COMMANDS = [
    ["sessions", "pin", "good-1"],
    ["sessions", "unpin", "good-1"],
    ["sessions", "delete", "good-1", "--yes"],
    ["sessions", "prune", "--keep", "0", "--yes"],
    ["redact", "--yes"],
    ["doctor", "--fix"],
    ["index"],
]


@pytest.mark.parametrize("command", WRITE_COMMANDS, ids=lambda command: " ".join(command[:2]))
@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_write_commands_leave_a_broken_file_byte_for_byte(damaged_archive, sessions_path, cli, kind, command):
    path, _expected = damaged_archive(kind)
    path.chmod(0o600)  # as the archive's files are (doctor --fix would tighten a looser one)
    raw, mode, mtime = path.read_bytes(), path.stat().st_mode, path.stat().st_mtime_ns
    secret = sessions_path / "good-1.json"
    cli(*command)
    assert path.read_bytes() == raw and path.stat().st_mode == mode and path.stat().st_mtime_ns == mtime
    if command[:2] in (["sessions", "delete"], ["sessions", "prune"]):
        assert not secret.exists()  # the command did its work on the good session


def _odd_files(sessions_path: Path) -> None:
    """Beside one good session: a FIFO named like a session, and a session file past the size bound."""
    write_session_file(sessions_path, GOOD)
    os.mkfifo(sessions_path / "pipe-1.json")
    with open(sessions_path / "huge-1.json", "wb") as handle:
        handle.truncate(65 * 1024 * 1024)  # sparse: the size is what is refused, before any read


def test_a_fifo_or_a_huge_file_is_skipped_with_one_line_never_read(sessions_path, isolated_home):
    from conftest import run_ollm

    _odd_files(sessions_path)
    listed = run_ollm("sessions", "list", "--json")
    assert listed.returncode == 0 and [s["id"] for s in json.loads(listed.stdout)] == ["good-1"]
    assert "warning: skipped pipe-1.json: is a FIFO, not a session file: skipped" in listed.stderr
    assert "warning: skipped huge-1.json: 65 MB, more than the 64 MB a session file may have" in listed.stderr
    for name, expected in (("pipe-1", "is a FIFO"), ("huge-1", "more than the 64 MB")):
        shown = run_ollm("sessions", "show", name)
        assert shown.returncode == 1 and shown.stderr.count("\n") == 1 and expected in shown.stderr
    indexed = run_ollm("index")
    assert indexed.returncode == 0, indexed.stderr
    found = run_ollm("recall", "hello", "--mode", "text", "--json")
    assert found.returncode == 0, found.stderr
    doctor = run_ollm("doctor")
    assert "pipe-1.json: is a FIFO" in doctor.stdout + doctor.stderr
    assert (sessions_path / "pipe-1.json").is_fifo() and (
        sessions_path / "huge-1.json"
    ).stat().st_size == 65 << 20


def test_a_query_past_the_length_bound_is_refused_before_any_work(sessions_path, cli):
    write_session_file(sessions_path, GOOD)
    result = cli("recall", "nginx logs " * 400)
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr == (
        "error: the query is 4,400 characters long: at most 4,000 are searched; shorten it\n"
    )


def test_a_zip_bomb_is_refused_before_it_is_unpacked(tmp_path, cli, sessions_path):
    import zipfile

    bomb = tmp_path / "export.zip"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("conversations.json", b"[" + b" " * (40 * 1024 * 1024) + b"]")
    assert bomb.stat().st_size < 100_000
    result = cli("import", "chatgpt", str(bomb))
    assert result.exit_code == 1 and result.stderr.count("\n") == 1
    assert (
        "conversations.json: unpacks to" in result.stderr
        and "times an export reaches: not read" in result.stderr
    )
    assert not sessions_path.exists() or not list(sessions_path.glob("*.json"))
