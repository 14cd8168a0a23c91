"""SessionManager: the current session, model swaps, /new, the one-shot pending context size."""

from __future__ import annotations

import json

import pytest

from ollm_recall import ChatRecordingService, Message, SessionManager, SessionNotFound, UsageError


@pytest.fixture
def manager(sessions_path):
    recording = ChatRecordingService(sessions_path)
    yield SessionManager(recording, model="gemma3:4b")
    recording.close()


def test_no_session_until_one_is_started(manager):
    assert manager.current_session_id is None
    assert manager.session_file_path() is None
    session_id = manager.ensure_session()
    assert manager.current_session_id == session_id
    assert manager.session_file_path().exists()
    assert manager.ensure_session() == session_id


def test_new_session_on_request_and_on_model_swap(manager):
    first = manager.create_new_session()
    second = manager.create_new_session()  # /new
    assert first != second and manager.current_model == "gemma3:4b"
    third = manager.switch_model("qwen2.5:7b")
    assert third not in (first, second)
    assert manager.current_model == "qwen2.5:7b"
    assert manager.recording.get_session(third).model == "qwen2.5:7b"
    assert manager.switch_model("qwen2.5:7b") == third  # same model: same session


def test_pending_context_size_applies_once(manager, sessions_path):
    manager.set_pending_context_size(8192)
    assert manager.pending_context_size == 8192
    with_size = manager.switch_model("llama3.2:3b")
    without = manager.create_new_session()
    stored = json.loads((sessions_path / f"{with_size}.json").read_text())
    assert stored["metadata"]["contextSize"] == 8192
    assert manager.pending_context_size is None
    assert "contextSize" not in json.loads((sessions_path / f"{without}.json").read_text())["metadata"]


@pytest.mark.parametrize("bad", [0, -5, 1.5, "4096", True])
def test_bad_context_sizes_are_refused(manager, bad):
    with pytest.raises(UsageError):
        manager.set_pending_context_size(bad)


def test_listeners_hear_every_change_until_they_unsubscribe(manager):
    heard: list[tuple[str, str]] = []
    unsubscribe = manager.on_session_change(lambda sid, model: heard.append((sid, model)))
    first = manager.create_new_session()
    second = manager.switch_model("phi4:14b")
    unsubscribe()
    manager.create_new_session()
    assert heard == [(first, "gemma3:4b"), (second, "phi4:14b")]
    unsubscribe()  # twice is harmless


def test_a_finished_session_is_released_for_other_recorders(manager, sessions_path):
    first = manager.create_new_session()
    manager.recording.record_message(first, Message.text("user", "hello"))
    manager.create_new_session()
    other = ChatRecordingService(sessions_path)
    other.record_message(first, Message.text("user", "continued elsewhere"))  # raises if still held
    other.close()
    saved = json.loads((sessions_path / f"{first}.json").read_text())
    assert [m["parts"][0]["text"] for m in saved["messages"]] == ["hello", "continued elsewhere"]


def test_resume_makes_an_earlier_session_current(manager):
    first = manager.create_new_session()
    manager.switch_model("phi4:14b")
    assert manager.resume(first) == first
    assert (manager.current_session_id, manager.current_model) == (first, "gemma3:4b")
    with pytest.raises(SessionNotFound):
        manager.resume("session-404")


def test_a_model_is_needed(sessions_path):
    with pytest.raises(UsageError, match="no model chosen"):
        SessionManager(ChatRecordingService(sessions_path)).create_new_session()
