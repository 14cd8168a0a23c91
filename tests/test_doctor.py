"""``ollm doctor`` on a deliberately damaged archive: it finds every problem it lists, and ``--fix``
repairs what is derived while every session file stays byte-for-byte as it was."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import time
from pathlib import Path

import pytest
from conftest import REPO, run_ollm

from ollm_recall.index.indexer import Index

SESSIONS = [
    "session-1772486820000",
    "session-1770542400000",
    "session-1773044100000",
    "session-1795201200000",
]


def contents(directory: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.iterdir())
        if p.is_file() and not p.name.endswith(".tmp")
    }


def doctor(cli, *args: str) -> tuple[int, dict]:
    result = cli("doctor", "--json", *args)
    return result.exit_code, json.loads(result.stdout)


def kinds(report: dict) -> list[str]:
    return sorted(finding["kind"] for finding in report["findings"])


@pytest.fixture
def damaged(isolated_home: Path) -> Path:
    sessions = isolated_home / "sessions"
    sessions.mkdir(parents=True, mode=0o700)
    for sid in SESSIONS:
        shutil.copy(REPO / "examples" / "sessions" / f"{sid}.json", sessions)
        (sessions / f"{sid}.json").chmod(0o600)
    isolated_home.chmod(0o700)
    Index(isolated_home).sync()
    (sessions / f"{SESSIONS[0]}.json").unlink()  # an index entry without a session
    shutil.copy(REPO / "examples" / "sessions" / "session-1767863520000.json", sessions)  # not indexed
    (sessions / "session-1767863520000.json").chmod(0o644)  # readable by others
    (sessions / "session-9.json").write_text('{"sessionId": "session-9", "startTime": "2026-')  # truncated
    (sessions / "session-10.json").write_text(json.dumps({"sessionId": "../x"}))  # invalid
    stale = sessions / ".session-1770542400000.json.999999.tmp"  # left by a writer that died
    stale.write_text("partial")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    sessions.chmod(0o755)
    return isolated_home


def test_doctor_finds_every_problem_and_fix_keeps_session_files(cli, damaged: Path):
    sessions = damaged / "sessions"
    before = contents(sessions)
    code, report = doctor(cli)
    assert code == 1 and not report["ok"]
    assert kinds(report) == [
        "invalid-session",
        "invalid-session",
        "not-indexed",
        "permissions",
        "permissions",
        "permissions",
        "permissions",  # folder, 3 files
        "stale-index-entry",
        "temp-file",
    ]
    messages = " | ".join(f["message"] for f in report["findings"])
    assert "session-9.json: truncated JSON" in messages and "session-10.json: 'sessionId'" in messages
    assert "mode 0755, want 0700" in messages and "mode 0644, want 0600" in messages
    code, fixed = doctor(cli, "--fix")
    assert code == 1  # the two unreadable session files are left for a person to look at
    assert [f["kind"] for f in fixed["findings"] if not f["fixed"]] == ["invalid-session", "invalid-session"]
    assert contents(sessions) == before
    assert not list(sessions.glob("*.tmp")) and oct(sessions.stat().st_mode & 0o777) == "0o700"
    assert oct((sessions / "session-1767863520000.json").stat().st_mode & 0o777) == "0o600"
    (sessions / "session-9.json").unlink()
    (sessions / "session-10.json").unlink()
    code, clean = doctor(cli)
    assert code == 0 and clean == {"ok": True, "findings": []}


def test_doctor_says_an_index_of_another_format_needs_a_rebuild(cli, damaged: Path):
    manifest_path = damaged / "index" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["format"] = 1
    manifest_path.write_text(json.dumps(manifest))
    code, report = doctor(cli)
    assert "index-outdated" in kinds(report) and "stale-index-entry" not in kinds(report)
    before = contents(damaged / "sessions")
    doctor(cli, "--fix")
    assert json.loads(manifest_path.read_text())["format"] != 1
    assert contents(damaged / "sessions") == before
    text = cli("doctor")
    assert text.exit_code == 1 and "unreadable session file session-9.json" in text.stdout
    assert "problems left" in text.stderr


@pytest.mark.parametrize("damage", ["garbage-rows", "truncated-vectors", "broken-session-list"])
def test_a_damaged_vector_segment_is_found_and_fix_re_embeds_only_its_sessions(cli, isolated_home, damage):
    sessions = isolated_home / "sessions"
    sessions.mkdir(parents=True, mode=0o700)
    isolated_home.chmod(0o700)
    for number, sid in enumerate(SESSIONS[:3]):
        shutil.copy(REPO / "examples" / "sessions" / f"{sid}.json", sessions)
        (sessions / f"{sid}.json").chmod(0o600)
        if number != 1:
            Index(isolated_home).sync()
    manifest = Index(isolated_home).load_manifest()
    first, second = manifest.segments
    assert manifest.sessions[SESSIONS[2]].segments == [second]
    vectors = isolated_home / "index" / "vectors"
    if damage == "garbage-rows":
        (vectors / f"{second}.rows.npy").write_bytes(os.urandom(300))
    elif damage == "truncated-vectors":
        path = vectors / f"{second}.npy"
        path.write_bytes(path.read_bytes()[:200])
    else:
        (vectors / f"{second}.sessions.json").write_text('["session-')
    searched = cli("recall", "nginx", "--no-sync")
    assert searched.exit_code == 1 and "allow_pickle" not in searched.stderr
    assert f"segment {second}" in searched.stderr and "ollm doctor --fix" in searched.stderr
    code, report = doctor(cli)
    assert code == 1 and kinds(report) == ["segment-damaged"]
    assert second in report["findings"][0]["message"]
    code, fixed = doctor(cli, "--fix")
    assert code == 0 and fixed["ok"]
    repaired = Index(isolated_home).load_manifest()
    assert repaired.sessions[SESSIONS[0]].segments == [first]  # the sound segment was kept
    assert repaired.embedded_sessions() == 3
    assert cli("recall", "nginx", "--no-sync").exit_code == 0
    assert doctor(cli) == (0, {"ok": True, "findings": []})


def test_many_loose_modes_are_one_line_with_the_fix(cli, isolated_home):
    sessions = isolated_home / "sessions"
    shutil.copytree(REPO / "examples" / "sessions", sessions)
    for path in [isolated_home, sessions]:
        path.chmod(0o755)
    for path in sessions.glob("*.json"):
        path.chmod(0o644)
    Index(isolated_home).sync(meaning=False)
    result = cli("doctor")
    lines = result.stdout.splitlines()
    loose = [line for line in lines if "readable by others" in line]
    assert loose == [
        "47 files and folders are readable by others (want 0600 files, 0700 folders): "
        f"{isolated_home}, {sessions}, {sessions / 'session-1767863520000.json'}, "
        f"{sessions / 'session-1768419000000.json'}, {sessions / 'session-1768855200000.json'} "
        "and 42 more (ollm doctor --fix)"
    ]
    assert "45 sessions are not searchable by meaning yet (ollm doctor --fix)" in lines
    assert result.stderr == f"{len(lines)} problems left\n"  # as many as the lines above


def test_a_fresh_home_has_no_problems(cli, isolated_home):
    result = cli("doctor")
    assert result.exit_code == 0 and result.stdout == ""
    assert result.stderr == f"nothing recorded yet (no sessions folder in {isolated_home}): no problems\n"
    assert json.loads(cli("doctor", "--json").stdout) == {"ok": True, "findings": []}


def test_index_status_without_an_index_counts_what_is_on_disk(cli, isolated_home):
    shutil.copytree(REPO / "examples" / "sessions", isolated_home / "sessions")
    result = cli("index", "status")
    assert result.exit_code == 0, result.stderr
    assert "sessions  0 indexed of 45 on disk" in result.stdout
    state = json.loads(cli("index", "status", "--json").stdout)
    assert state["indexed"] == 0 and state["sessionsOnDisk"] == 45


def test_an_index_of_the_older_word_analysis_is_rebuilt_by_fix(cli, damaged: Path):
    manifest_path = damaged / "index" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    del manifest["analysis"]  # as an index built before technical words were kept whole
    manifest_path.write_text(json.dumps(manifest))
    _code, report = doctor(cli)
    outdated = [f for f in report["findings"] if f["kind"] == "index-outdated"]
    assert len(outdated) == 1 and "C++ and node.js" in outdated[0]["message"]
    doctor(cli, "--fix")
    from ollm_recall.index.textsearch import ANALYSIS_VERSION

    assert json.loads(manifest_path.read_text())["analysis"] == ANALYSIS_VERSION


@pytest.mark.slow
def test_every_file_ollm_writes_in_the_index_is_private(isolated_home: Path) -> None:
    shutil.copytree(REPO / "examples" / "sessions", isolated_home / "sessions")
    done = run_ollm("index", env={"OLLM_BACKGROUND_INDEX": "0"})
    assert done.returncode == 0, done.stderr
    loose = [
        f"{path.relative_to(isolated_home)} {stat.S_IMODE(path.stat().st_mode):o}"
        for path in (isolated_home / "index").rglob("*")
        if stat.S_IMODE(path.stat().st_mode) & 0o077
    ]
    assert loose == []


def test_a_live_writer_s_temporary_file_is_never_removed(isolated_home: Path):
    import signal
    import subprocess
    import sys

    from ollm_recall.archive.store import STALE_TEMP_SECONDS, SessionStore

    sessions = isolated_home / "sessions"
    sessions.mkdir(parents=True)
    writer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
    try:
        live = sessions / f".session-1.json.{writer.pid}.0a1b2c3d4e5f.tmp"  # being written right now
        live.write_text("half a session")
        old_name = sessions / f".session-2.json.{writer.pid}.tmp"  # a live pid, but an hour old: reused
        old_name.write_text("left long ago")
        long_ago = time.time() - STALE_TEMP_SECONDS - 60
        os.utime(old_name, (long_ago, long_ago))
        dead = sessions / ".session-3.json.999999999.0a1b2c3d4e5f.tmp"
        dead.write_text("left by a writer that died")
        store = SessionStore(sessions)
        assert store.stale_temp_files() == sorted([old_name, dead])
        assert run_ollm("doctor", "--fix").returncode == 0
        assert live.read_text() == "half a session" and not old_name.exists() and not dead.exists()
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
