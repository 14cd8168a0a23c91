"""The recording service: the original's behaviours, plus failed saves that are never silent."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import SUBPROCESS_CEILING

from ollm_recall import (
    ChatRecordingService,
    InvalidSessionId,
    Message,
    SessionNotFound,
    SessionWriteError,
    ToolCall,
    UsageError,
)


@pytest.fixture
def service(sessions_path: Path):
    svc = ChatRecordingService(data_dir=sessions_path)
    yield svc
    svc.close()


def on_disk(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def test_create_session_returns_an_id_with_model_and_provider(service):
    sid = service.create_session(model="gemma3:4b", provider="ollama")
    assert sid.startswith("session-")
    session = service.get_session(sid)
    assert (session.model, session.provider, session.messages, session.tool_calls) == (
        "gemma3:4b",
        "ollama",
        [],
        [],
    )
    assert session.metadata == {"tokenCount": 0, "compressionCount": 0, "modeHistory": []}


def test_session_is_saved_on_creation(service, sessions_path):
    sid = service.create_session(model="gemma3:4b")
    document = on_disk(sessions_path / f"{sid}.json")
    assert document["sessionId"] == sid
    assert document["messages"] == [] and document["toolCalls"] == []
    assert document["startTime"].endswith("Z") and len(document["startTime"]) == 24


def test_records_user_and_assistant_messages(service):
    sid = service.create_session(model="gemma3:4b")
    service.record_message(sid, Message.text("user", "hello"))
    service.record_message(sid, Message.text("assistant", "hi there"))
    roles = [(m.role, m.content) for m in service.get_session(sid).messages]
    assert roles == [("user", "hello"), ("assistant", "hi there")]


def test_messages_keep_their_order(service, sessions_path):
    sid = service.create_session(model="m")
    for index in range(25):
        service.record_message(sid, Message.text("user" if index % 2 == 0 else "assistant", f"m{index}"))
    texts = [m["parts"][0]["text"] for m in on_disk(sessions_path / f"{sid}.json")["messages"]]
    assert texts == [f"m{index}" for index in range(25)]


def test_each_message_is_on_disk_when_record_returns(service, sessions_path):
    sid = service.create_session(model="m")
    for count in range(1, 4):
        service.record_message(sid, Message.text("user", f"message {count}"))
        assert len(on_disk(sessions_path / f"{sid}.json")["messages"]) == count


def test_last_activity_moves_forward(service, sessions_path):
    sid = service.create_session(model="m")
    before = on_disk(sessions_path / f"{sid}.json")["lastActivity"]
    time.sleep(0.01)
    service.record_message(sid, Message.text("user", "later"))
    after = on_disk(sessions_path / f"{sid}.json")["lastActivity"]
    assert after > before
    assert service.get_session(sid).last_activity == after


def test_tool_calls_are_recorded_and_auto_saved(service, sessions_path):
    sid = service.create_session(model="m")
    call = ToolCall(
        id="t1",
        name="read_file",
        args={"path": "a.txt"},
        result={"llmContent": "...", "returnDisplay": "Read 3 lines"},
    )
    service.record_tool_call(sid, call)
    stored = on_disk(sessions_path / f"{sid}.json")["toolCalls"]
    assert len(stored) == 1
    assert {k: stored[0][k] for k in ("id", "name", "args", "result")} == {
        "id": "t1",
        "name": "read_file",
        "args": {"path": "a.txt"},
        "result": {"llmContent": "...", "returnDisplay": "Read 3 lines"},
    }
    assert service.get_session(sid).tool_calls[0].name == "read_file"


def test_full_history_survives_into_a_new_service(sessions_path):
    first = ChatRecordingService(data_dir=sessions_path)
    sid = first.create_session(model="llama3.2:3b", provider="openai")
    first.record_message(sid, Message.text("user", "one"))
    first.record_tool_call(sid, ToolCall(id="t", name="ls", args={}, result={"llmContent": "a b"}))
    first.record_message(sid, Message.text("assistant", "two"))
    first.close()
    session = ChatRecordingService(data_dir=sessions_path).get_session(sid)
    assert [m.content for m in session.messages] == ["one", "two"]
    assert session.tool_calls[0].result == {"llmContent": "a b"}
    assert session.provider == "openai"


def test_a_session_of_a_killed_process_is_continued_by_a_new_service(sessions_path):
    """A process killed mid-session (no close, no cleanup) leaves a session another one continues."""
    script = (
        "import os, signal, sys; from pathlib import Path; "
        "from ollm_recall import ChatRecordingService, Message; "
        "service = ChatRecordingService(data_dir=Path(sys.argv[1])); "
        "sid = service.create_session(model='m'); print(sid, flush=True); "
        "service.record_message(sid, Message.text('user', 'before the crash')); "
        "service.record_message(sid, Message.text('assistant', 'partial reply', interrupted=True)); "
        "os.kill(os.getpid(), signal.SIGKILL)"
    )
    killed = subprocess.run(
        [sys.executable, "-c", script, str(sessions_path)],
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_CEILING,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    sid = killed.stdout.strip()
    second = ChatRecordingService(data_dir=sessions_path)  # the dead process's lock is free
    second.record_message(sid, Message.text("user", "after"))
    messages = second.get_session(sid).messages
    assert [m.content for m in messages] == ["before the crash", "partial reply", "after"]
    assert messages[1].interrupted is True
    second.close()


def test_list_sessions_summarises_each(service):
    a = service.create_session(model="gemma3:4b")
    service.record_message(a, Message.text("user", "How do I rotate nginx logs?"))
    b = service.create_session(model="qwen2.5:7b")
    listed = {s.session_id: s for s in service.list_sessions()}
    assert set(listed) == {a, b}
    assert listed[a].title == "How do I rotate nginx logs?"
    assert listed[b].model == "qwen2.5:7b"


def test_list_sorts_by_last_activity_newest_first(service):
    first = service.create_session(model="m")
    time.sleep(0.005)
    second = service.create_session(model="m")
    time.sleep(0.005)
    service.record_message(first, Message.text("user", "newer activity"))
    assert [s.session_id for s in service.list_sessions()] == [first, second]


def test_delete_session_removes_the_file(service, sessions_path):
    sid = service.create_session(model="m")
    service.delete_session(sid)
    assert not (sessions_path / f"{sid}.json").exists()
    assert service.get_session(sid) is None
    assert service.list_sessions() == []


def test_deletes_oldest_beyond_max_sessions(sessions_path):
    svc = ChatRecordingService(data_dir=sessions_path, max_sessions=3)
    ids = []
    for _ in range(5):
        sid = svc.create_session(model="m")
        svc.close_session(sid)
        ids.append(sid)
        time.sleep(0.003)
    assert {s.session_id for s in svc.list_sessions()} == set(ids[-3:])


def test_retention_is_off_by_default(service):
    ids = [service.create_session(model="m") for _ in range(12)]
    assert len(service.list_sessions()) == len(ids)


def test_unknown_session_id_on_message_is_an_error(service):
    with pytest.raises(SessionNotFound, match="no session with id 'session-404'"):
        service.record_message("session-404", Message.text("user", "x"))


def test_unknown_session_id_on_tool_call_is_an_error(service):
    with pytest.raises(SessionNotFound):
        service.record_tool_call(
            "session-404", ToolCall(id="t", name="n", args={}, result={"llmContent": ""})
        )


@pytest.mark.parametrize("bad", ["../x", "a/b", "a\\b", "..", "", "x" * 129, ".hidden"])
def test_bad_ids_are_refused_before_any_file_is_touched(service, sessions_path, bad):
    before = sorted(p.name for p in sessions_path.parent.rglob("*"))
    with pytest.raises(InvalidSessionId):
        service.record_message(bad, Message.text("user", "x"))
    with pytest.raises(InvalidSessionId):
        service.get_session(bad)
    assert sorted(p.name for p in sessions_path.parent.rglob("*")) == before


def test_ids_are_chronological_and_unique_within_a_millisecond(service):
    import re

    ids = [service.create_session(model="m") for _ in range(20)]
    assert len(set(ids)) == 20
    keys = []
    for sid in ids:
        match = re.fullmatch(r"session-(\d+)(?:-(\d+))?", sid)
        assert match, sid
        keys.append((int(match[1]), int(match[2] or 1)))
    assert keys == sorted(keys)


def test_a_failed_save_raises_keeps_the_message_and_retries(service, sessions_path, monkeypatch):
    sid = service.create_session(model="m")
    service.record_message(sid, Message.text("user", "saved"))
    good = (sessions_path / f"{sid}.json").read_bytes()
    real_write = os.write

    def disk_full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", disk_full)
    with pytest.raises(SessionWriteError, match=f"cannot save session {sid}"):
        service.record_message(sid, Message.text("assistant", "kept in memory"))
    assert (sessions_path / f"{sid}.json").read_bytes() == good
    assert service.has_unsaved_changes(sid)
    assert [m.content for m in service.get_session(sid).messages] == ["saved", "kept in memory"]
    assert not [p for p in sessions_path.iterdir() if p.name.endswith(".tmp")]
    monkeypatch.setattr(os, "write", real_write)
    service.record_message(sid, Message.text("user", "next"))
    texts = [m["parts"][0]["text"] for m in on_disk(sessions_path / f"{sid}.json")["messages"]]
    assert texts == ["saved", "kept in memory", "next"]
    assert not service.has_unsaved_changes(sid)


def test_auto_save_off_writes_only_on_save(sessions_path):
    svc = ChatRecordingService(data_dir=sessions_path, auto_save=False)
    sid = svc.create_session(model="m")
    svc.record_message(sid, Message.text("user", "later"))
    assert on_disk(sessions_path / f"{sid}.json")["messages"] == []
    svc.save_session(sid)
    assert len(on_disk(sessions_path / f"{sid}.json")["messages"]) == 1
    svc.close()


def test_files_are_private(service, sessions_path):
    sid = service.create_session(model="m")
    assert (sessions_path / f"{sid}.json").stat().st_mode & 0o777 == 0o600
    assert sessions_path.stat().st_mode & 0o777 == 0o700


def test_unknown_keys_survive_recording(sessions_path):
    from conftest import session_document, write_session_file

    document = session_document("imported-1", futureField={"nested": [1, 2**70]})
    document["messages"][0]["reaction"] = "thumbs-up"
    document["messages"][0]["parts"].append({"type": "image", "url": "x.png"})
    document["metadata"]["recalledSessions"] = ["a"]
    write_session_file(sessions_path, document)
    svc = ChatRecordingService(data_dir=sessions_path)
    svc.record_message("imported-1", Message.text("user", "more"))
    svc.close()
    stored = on_disk(sessions_path / "imported-1.json")
    assert stored["futureField"] == {"nested": [1, 2**70]}
    assert stored["messages"][0] == document["messages"][0]
    assert stored["metadata"]["recalledSessions"] == ["a"]


def test_temp_files_of_dead_writers_are_cleaned(sessions_path):
    sessions_path.mkdir(parents=True)
    stale = sessions_path / ".session-1.json.999999999.tmp"
    stale.write_text("{half")
    ChatRecordingService(data_dir=sessions_path).create_session(model="m")
    assert not stale.exists()


@pytest.mark.parametrize(
    "fields",
    [
        {"id": "", "name": "recall", "args": {}, "result": {"llmContent": ""}},
        {"id": "call-1", "name": "", "args": {}, "result": {"llmContent": ""}},
        {"id": "call-1", "name": "recall", "args": [], "result": {"llmContent": ""}},
        {"id": "call-1", "name": "recall", "args": {}, "result": {}},
    ],
)
def test_a_malformed_tool_call_is_the_projects_usage_error(fields: dict) -> None:
    with pytest.raises(UsageError):
        ToolCall(**fields)
