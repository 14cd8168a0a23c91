"""Compressed history: idle sessions stored as zstd with a dictionary trained on the archive, read by
every command as before, plain again once resumed, and never lost to a kill."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
from conftest import REPO

from ollm_recall import ChatRecordingService, Message, SessionStore

NGINX = "session-1772486820000"


def run_ollm(*args: str) -> subprocess.CompletedProcess:
    """``ollm ARGS`` in this process (the CLI runner): the model stays loaded between commands."""
    from typer.testing import CliRunner

    from ollm_recall.cli.app import app

    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    return subprocess.CompletedProcess(args, result.exit_code, result.stdout, result.stderr)


@pytest.fixture
def archive(isolated_home: Path) -> Path:
    sessions = isolated_home / "sessions"
    shutil.copytree(REPO / "examples" / "sessions", sessions)
    return sessions


def _originals(sessions: Path) -> dict[str, bytes]:
    return {p.name.removesuffix(".json"): p.read_bytes() for p in sessions.glob("*.json")}


def test_compacted_sessions_are_smaller_and_every_command_reads_them(archive: Path, tmp_path: Path) -> None:
    before = _originals(archive)
    listed = run_ollm("sessions", "list", "--json").stdout
    shown = run_ollm("sessions", "show", NGINX).stdout
    compacted = run_ollm("sessions", "compact", "--older-than", "30d", "--json")
    assert compacted.returncode == 0, compacted.stderr
    report = json.loads(compacted.stdout)
    assert NGINX in report["compressed"] and len(report["compressed"]) >= 30
    assert report["bytesAfter"] * 2 < report["bytesBefore"]
    assert (archive / f"{NGINX}.json.zst").exists() and not (archive / f"{NGINX}.json").exists()
    assert len(list((archive / ".zstd-dicts").glob("*.dict"))) == 1

    after_list = json.loads(run_ollm("sessions", "list", "--json").stdout)
    assert [(s["id"], s["title"], s["lastActivity"]) for s in after_list] == [
        (s["id"], s["title"], s["lastActivity"]) for s in json.loads(listed)
    ]
    assert run_ollm("sessions", "show", NGINX).stdout == shown
    exported = run_ollm("export", NGINX, "--format", "json").stdout.encode()
    assert exported.rstrip(b"\n") == before[NGINX].rstrip(b"\n")  # the very bytes that were compressed
    assert run_ollm("index").returncode == 0
    found = run_ollm("recall", "nginx 502 after the php upgrade", "--json")
    assert json.loads(found.stdout.splitlines()[0])["sessionId"] == NGINX
    assert run_ollm("redact", "--dry-run").returncode == 0
    doctor = run_ollm("doctor")
    assert "unreadable" not in doctor.stdout and "not in the index" not in doctor.stdout, doctor.stdout
    other = tmp_path / "other-home"  # importing a folder of compressed sessions
    imported = run_ollm("--home", str(other), "import", "ollm", str(archive), "--json")
    assert imported.returncode == 0, imported.stderr
    assert json.loads((other / "sessions" / f"{NGINX}.json").read_bytes())["sessionId"] == NGINX


def test_a_resumed_session_is_plain_again_and_keeps_every_message(archive: Path, isolated_home: Path) -> None:
    assert run_ollm("sessions", "compact", "--older-than", "30d").returncode == 0
    old = json.loads(run_ollm("export", NGINX, "--format", "json").stdout)
    service = ChatRecordingService(archive)
    service.record_message(NGINX, Message.text("user", "and one more question"))
    service.close()
    assert (archive / f"{NGINX}.json").exists() and not (archive / f"{NGINX}.json.zst").exists()
    now = json.loads((archive / f"{NGINX}.json").read_text())
    assert now["messages"][: len(old["messages"])] == old["messages"]
    assert now["messages"][-1]["parts"][0]["text"] == "and one more question"


def test_a_dry_run_changes_nothing(archive: Path) -> None:
    before = _originals(archive)
    result = run_ollm("sessions", "compact", "--older-than", "30d", "--dry-run")
    assert result.returncode == 0 and result.stderr.startswith("would compress ")
    assert _originals(archive) == before and not (archive / ".zstd-dicts").exists()


def test_damaged_compressed_files_are_one_line_each(archive: Path) -> None:
    assert run_ollm("sessions", "compact", "--older-than", "30d").returncode == 0
    damaged = archive / f"{NGINX}.json.zst"
    damaged.write_bytes(damaged.read_bytes()[:40])
    shown = run_ollm("sessions", "show", NGINX)
    assert shown.returncode == 1 and shown.stderr.count("\n") == 1 and "zstd" in shown.stderr
    [dictionary] = (archive / ".zstd-dicts").glob("*.dict")
    dictionary.rename(archive / "elsewhere.bin")
    listed = run_ollm("sessions", "list", "--json")
    assert listed.returncode == 0
    assert "missing from .zstd-dicts" in listed.stderr and "Traceback" not in listed.stderr


@pytest.mark.parametrize("when", ["before", "after"])
def test_compaction_killed_at_any_write_loses_nothing(archive: Path, when: str) -> None:
    from conftest import ollm_killed_at_write

    before = {sid: json.loads(raw) for sid, raw in _originals(archive).items()}
    for write in range(1, 7):  # the dictionary's write, the listing cache's, then one session after another
        killed = ollm_killed_at_write(write, when, "sessions", "compact", "--older-than", "30d")
        assert killed.returncode == -signal.SIGKILL, killed.stderr
        store = SessionStore(archive)  # read here, as every command reads
        listing = store.list()
        assert not listing.problems
        assert sorted(s.session_id for s in listing.sessions) == sorted(before)  # each once
        for session_id in before:
            assert json.loads(store.read_with_bytes(session_id)[1]) == before[session_id]
    finished = run_ollm("sessions", "compact", "--older-than", "30d")
    assert finished.returncode == 0, finished.stderr
    assert not [p for p in archive.glob("*.json") if (archive / f"{p.name}.zst").exists()]


def test_deleting_pinning_and_redacting_a_compressed_session(archive: Path, isolated_home: Path) -> None:
    assert run_ollm("sessions", "compact", "--older-than", "30d").returncode == 0
    packed = sorted(p.name.removesuffix(".json.zst") for p in archive.glob("*.json.zst"))
    doomed, pinned = packed[0], packed[1]
    assert run_ollm("sessions", "delete", doomed, "--yes").returncode == 0
    assert not list(archive.glob(f"{doomed}.*"))
    assert run_ollm("sessions", "pin", pinned).returncode == 0
    assert json.loads((archive / f"{pinned}.json").read_text())["metadata"]["pinned"] is True
    assert not (archive / f"{pinned}.json.zst").exists()  # written plain, its compressed file gone
    listed = [s["id"] for s in json.loads(run_ollm("sessions", "list", "--json").stdout)]
    assert doomed not in listed and listed.count(pinned) == 1 and len(listed) == 44
