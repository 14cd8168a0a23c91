"""``ollm redact`` on archives saved before redaction, and deletion that leaves nothing in the index:
checked in the bytes of every file under the index folder and in the vectors themselves."""

from __future__ import annotations

import json
import re
import signal
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import (
    REPO,
    ollm_killed_at_write,
    run_ollm,
    session_document,
    write_session_file,
)

from ollm_recall import ChatRecordingService, Message, SessionStore
from ollm_recall.agent.tools import ArchiveTools
from ollm_recall.archive.session import ToolCall
from ollm_recall.index.indexer import Index
from ollm_recall.index.vector_segments import Segment

sys.path.insert(0, str(REPO / "benchmarks"))
from secret_cases import labelled_secrets  # noqa: E402

CASES = [case for case in labelled_secrets() if case.surrounding == "dotenv"]


def record_old_archive(home: Path, cases=CASES) -> list[str]:
    """Sessions saved as before redaction existed: secrets in a question, a reply and a tool call."""
    service = ChatRecordingService(home / "sessions", redactor=None)
    ids = []
    for number, case in enumerate(cases):
        session_id = service.create_session(model="demo")
        service.record_message(
            session_id,
            Message.text(
                "user", f"staging deploy number {number} fails with this environment file:\n{case.text}"
            ),
        )
        service.record_message(
            session_id,
            Message.text("assistant", f"The staging deploy reads {case.text} and the region is wrong."),
        )
        service.record_tool_call(
            session_id,
            ToolCall(
                id=f"call-{number}",
                name="read_file",
                args={"path": ".env"},
                result={"llmContent": [{"text": case.text}], "returnDisplay": "read .env"},
            ),
        )
        service.close_session(session_id)
        ids.append(session_id)
    return ids


def cores(secret: str) -> list[str]:
    """The lower-case runs of a secret long enough to be found in a file by chance never."""
    return [run.lower() for run in re.findall(r"[A-Za-z0-9]{10,}", secret)]


def index_files_holding(home: Path, needles: list[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in (home / "index").rglob("*"):
        if path.is_file():
            data = path.read_bytes().lower()
            for needle in needles:
                if needle.encode() in data:
                    found.setdefault(needle, []).append(path.name)
    return found


def vector_rows(home: Path, session_ids: set[str]) -> list[bytes]:
    """The exact bytes of every vector the index holds for these sessions."""
    index = Index(home)
    found = []
    for name in index.load_manifest(fresh=True).segments:
        segment = Segment(index.vector_dir, name, index.sealer)
        for position, (ordinal, _message, _chunk) in enumerate(segment.rows.tolist()):
            if segment.session_ids[ordinal] in session_ids:
                found.append(np.asarray(segment.vectors[position]).tobytes())
    return found


def files_holding_rows(home: Path, rows: list[bytes]) -> list[str]:
    """Files under the index folder in which any of these vectors' bytes still lie."""
    return [
        path.name
        for path in (home / "index").rglob("*")
        if path.is_file() and any(row in path.read_bytes() for row in rows)
    ]


@pytest.mark.slow
def test_redact_leaves_no_secret_in_the_files_the_indexes_or_the_exports(
    isolated_home: Path, tmp_path: Path
) -> None:
    record_old_archive(isolated_home)
    assert run_ollm("index").returncode == 0
    needles = [core for case in CASES for core in cores(case.secret)]
    assert index_files_holding(isolated_home, needles)  # the check can fail: the old index holds them
    old_rows = vector_rows(isolated_home, {path.stem for path in (isolated_home / "sessions").glob("*.json")})
    assert len(old_rows) >= 2 * len(CASES) and files_holding_rows(isolated_home, old_rows)

    listed = run_ollm("redact", "--dry-run", "--json")
    assert listed.returncode == 0, listed.stderr
    plan = json.loads(listed.stdout)
    assert len(plan["sessions"]) == len(CASES) and all(not s["rewritten"] for s in plan["sessions"])
    assert not any(case.secret in listed.stdout for case in CASES)

    done = run_ollm("redact", "--yes")
    assert done.returncode == 0, done.stderr
    assert f"in {len(CASES)} sessions" in done.stderr
    for path in (isolated_home / "sessions").glob("*.json"):
        raw = path.read_text()
        assert not any(case.secret in raw for case in CASES) and "[REDACTED:" in raw
    assert index_files_holding(isolated_home, needles) == {}
    assert files_holding_rows(isolated_home, old_rows) == []  # not one vector of the old text
    assert run_ollm("index").returncode == 0  # the redacted messages get their new vectors
    found = run_ollm("recall", "staging deploy region", "--json", "--mode", "text", "--limit", "50")
    assert found.returncode == 0, found.stderr
    assert len(found.stdout.splitlines()) == len(CASES)  # the words around the secrets stay searchable

    for fmt in ("md", "json", "html"):
        out = tmp_path / f"export-{fmt}"
        assert run_ollm("export", "--all", "--format", fmt, "--out", str(out)).returncode == 0
        for path in out.rglob("*"):
            if path.is_file():
                assert not any(case.secret in path.read_text() for case in CASES), path
    again = run_ollm("redact", "--dry-run")
    assert again.returncode == 0 and f"no secrets found in {len(CASES)} sessions" in again.stderr


@pytest.mark.slow
def test_deleted_and_pruned_sessions_leave_nothing_in_the_index(isolated_home: Path) -> None:
    service = ChatRecordingService(isolated_home / "sessions")
    words = {}
    for number in range(6):
        session_id = service.create_session(model="demo")
        words[session_id] = f"quokkaword{number}zz"
        service.record_message(
            session_id,
            Message.text(
                "user", f"the {words[session_id]} migration plan for the billing database, step {number}"
            ),
        )
        service.record_message(session_id, Message.text("assistant", f"Noted plan {number}."))
        service.close_session(session_id)
    assert run_ollm("index").returncode == 0
    assert set(index_files_holding(isolated_home, list(words.values()))) == set(words.values())
    ids = sorted(words)
    gone_rows, kept_rows = vector_rows(isolated_home, set(ids[:3])), vector_rows(isolated_home, set(ids[3:]))
    assert len(gone_rows) == 6 and files_holding_rows(isolated_home, gone_rows)

    deleted = run_ollm("sessions", "delete", ids[0], "--yes")
    assert deleted.returncode == 0, deleted.stderr
    pruned = run_ollm("sessions", "prune", "--keep", "3", "--yes")
    assert pruned.returncode == 0, pruned.stderr

    assert set(index_files_holding(isolated_home, list(words.values()))) == {words[sid] for sid in ids[3:]}
    assert files_holding_rows(isolated_home, gone_rows) == []
    assert sorted(vector_rows(isolated_home, set(ids[3:]))) == sorted(kept_rows)  # the rest untouched


KILL_POINTS = [(1, "before"), (1, "after"), (2, "before"), (4, "after"), (7, "before"), (12, "after")]


def test_redact_killed_at_any_write_loses_nothing(isolated_home: Path) -> None:
    cases = labelled_secrets()[:40]
    ids = record_old_archive(isolated_home, cases)
    store = SessionStore(isolated_home / "sessions", redactor=None)
    before = {sid: store.read(sid) for sid in ids}
    for count, when in KILL_POINTS:
        killed = ollm_killed_at_write(count, when, "redact", "--yes")
        assert killed.returncode == -signal.SIGKILL, (count, when, killed.stderr)  # it died there
        for sid in ids:
            after = store.read(sid)  # every file whole and valid
            old = before[sid]
            assert len(after.messages) == len(old.messages) and len(after.tool_calls) == len(old.tool_calls)
            for was, now in zip(old.messages, after.messages, strict=True):
                assert now.content == was.content or "[REDACTED:" in now.content
                assert now.content[:24] == was.content[:24]  # the words around the secret stay
    redacted = sum("[REDACTED:" in store.path_for(sid).read_text() for sid in ids)
    assert 0 < redacted < len(ids)  # the kills landed part way through
    finished = run_ollm("redact", "--yes")
    assert finished.returncode == 0, finished.stderr
    for sid, case in zip(ids, cases, strict=True):
        assert case.secret not in store.path_for(sid).read_text() or case.kind == "aws-secret-key"
    left = [p.name for p in store.directory.iterdir() if p.name.endswith(".tmp")]  # a kill before a rename
    assert run_ollm("doctor", "--fix").returncode in (0, 1)
    assert left and not [p.name for p in store.directory.iterdir() if p.name.endswith(".tmp")]


def test_redact_reports_unreadable_files_and_leaves_them_alone(isolated_home: Path) -> None:
    record_old_archive(isolated_home, CASES[:2])
    broken = isolated_home / "sessions" / "session-1700000000000.json"
    broken.write_text('{"sessionId": "session-1700000000000", "messages": [')
    result = run_ollm("redact", "--yes", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert len(report["unreadable"]) == 1 and "session-1700000000000.json" in report["unreadable"][0]
    assert report["secrets"] >= 2 and all(s["rewritten"] for s in report["sessions"])
    assert broken.read_text() == '{"sessionId": "session-1700000000000", "messages": ['


@pytest.mark.slow
def test_on_a_large_archive_the_words_leave_with_the_next_index_run(
    isolated_home: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ollm_recall.cli import index_upkeep

    monkeypatch.setattr(index_upkeep, "FOREGROUND_PURGE_SESSIONS", 1)  # as if it had thousands
    ids = record_old_archive(isolated_home, CASES[:3])
    assert cli("index").exit_code == 0
    gone = cores(CASES[0].secret)
    rows = vector_rows(isolated_home, {ids[0]})
    deleted = cli("sessions", "delete", ids[0], "--yes")
    assert deleted.exit_code == 0, deleted.stderr
    assert "still in the index files until `ollm index` runs" in deleted.stderr
    assert index_files_holding(isolated_home, gone)  # marked deleted in whoosh, not yet rewritten
    assert files_holding_rows(isolated_home, rows) == []  # the vectors go at once
    assert cli("recall", "staging deploy", "--mode", "text", "--json").stdout.count(ids[0]) == 0
    finished = cli("index")
    assert finished.exit_code == 0 and "removed from the index files" in finished.stderr
    assert index_files_holding(isolated_home, gone) == {}


def test_an_export_of_sessions_saved_before_redaction_holds_no_secret(
    isolated_home: Path, tmp_path: Path
) -> None:
    ids = record_old_archive(isolated_home)
    before = {path.name: path.read_bytes() for path in (isolated_home / "sessions").glob("*.json")}
    assert any(CASES[0].secret.encode() in raw for raw in before.values())  # the check can fail
    for fmt in ("md", "json", "jsonl", "html"):
        out = tmp_path / f"export-{fmt}"
        done = run_ollm("export", "--all", "--format", fmt, "--out", str(out))
        assert done.returncode == 0, done.stderr
        assert f"from {len(CASES)} session files saved before redaction" in done.stderr
        written = [path for path in out.rglob("*") if path.is_file()]
        assert written and all(not any(case.secret in path.read_text() for case in CASES) for path in written)
        assert any("[REDACTED:" in path.read_text() for path in written)
    for args in (["--format", "md", *ids], ["--format", "json", ids[0]], ["--format", "json", *ids[:2]]):
        printed = run_ollm("export", *args)
        assert printed.returncode == 0, printed.stderr
        assert "[REDACTED:" in printed.stdout and not any(case.secret in printed.stdout for case in CASES)
    copied = json.loads((tmp_path / "export-json" / f"{ids[0]}.json").read_text())
    assert copied["sessionId"] == ids[0] and len(copied["messages"]) == 2  # still a session file
    assert {path.name: path.read_bytes() for path in (isolated_home / "sessions").glob("*.json")} == before
    (isolated_home / "config.toml").write_text("redact = false\n")
    plain = run_ollm("export", "--format", "md", ids[0])
    assert CASES[0].secret in plain.stdout and "redacted" not in plain.stderr  # redaction off: as stored


def test_an_agent_reading_a_session_saved_before_redaction_gets_no_secret(isolated_home: Path) -> None:
    from ollm_recall.agent.tools import ArchiveTools

    ids = record_old_archive(isolated_home, CASES[:3])
    tools = ArchiveTools(isolated_home, background=False)
    try:
        for session_id, case in zip(ids, CASES[:3], strict=True):
            text = tools.get_session(session_id)
            assert case.secret not in text and "[REDACTED:" in text and "staging deploy" in text
    finally:
        tools.close()
    assert any(CASES[0].secret in path.read_text() for path in (isolated_home / "sessions").glob("*.json"))


def test_markers_of_an_earlier_redaction_are_not_found_again(isolated_home: Path, cli) -> None:
    text = "the app connects with mysql://root:[REDACTED:url-password]@db:3306/shop"
    document = session_document("session-1767225600000")
    document["messages"][1]["parts"][0]["text"] = text
    path = write_session_file(isolated_home / "sessions", document)
    stored = path.read_bytes()
    listed = cli("redact", "--dry-run")
    assert listed.exit_code == 0 and "no secrets found in 1 session" in listed.stderr, listed.stderr
    assert cli("redact", "--yes").exit_code == 0 and path.read_bytes() == stored
    exported = cli("export", "--format", "md", "session-1767225600000")
    assert exported.exit_code == 0 and text in exported.stdout
    assert "before redaction" not in exported.stderr


@pytest.mark.slow
def test_nothing_that_leaves_the_archive_holds_a_secret_saved_before_redaction(
    isolated_home: Path, cli, model_server
) -> None:
    token = "ghp_" + "Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0FeDcBa"
    custom = "db-pass hunter2hunter2"
    isolated_home.mkdir(exist_ok=True)
    (isolated_home / "config.toml").write_text('redact_patterns = ["db-pass (\\\\S+)"]\n')
    document = session_document("session-1767225600000")
    document["messages"][0]["parts"][0]["text"] = f"deploy key for the staging box is {token}"
    document["messages"][1]["parts"][0]["text"] = f"noted; the staging database uses {custom}"
    write_session_file(isolated_home / "sessions", document)  # as a save before redaction left it
    Index(isolated_home).sync()
    secrets = (token, "hunter2hunter2")
    for args in (["recall", "staging deploy key database"], ["recall", "staging deploy key", "--json"]):
        shown = cli(*args)
        assert shown.exit_code == 0 and "staging" in shown.stdout, shown.stderr
        assert not any(secret in shown.stdout + shown.stderr for secret in secrets), args
    tools = ArchiveTools(isolated_home, background=False)
    answers = [
        json.dumps(tools.recall("staging deploy key database", limit=3)),
        json.dumps(tools.list_sessions(limit=5)),
        tools.get_session("session-1767225600000"),
    ]
    tools.close()
    assert all(not any(secret in answer for secret in secrets) for answer in answers)
    assert "[REDACTED:custom]" in answers[2]  # the home's own patterns too
    server = model_server()
    asked = cli(
        "chat",
        "--model",
        "demo",
        "--base-url",
        server.url,
        "-p",
        "what was the staging deploy key and database?",
    )
    assert asked.exit_code == 0, asked.stderr
    sent = json.dumps([request["body"] for request in server.requests])
    assert "staging" in sent and not any(secret in sent for secret in secrets)  # nothing reaches a model
