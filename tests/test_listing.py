"""Listings read the head of each file, fall back to a full parse, and cache what did not change."""

from __future__ import annotations

import json

from conftest import session_document, write_session_file

from ollm_recall import ChatRecordingService, Message, SessionStore
from ollm_recall.archive.listing import read_summary
from ollm_recall.archive.store import store_for_home
from ollm_recall.home import listing_cache_path


def test_summary_of_a_file_in_another_key_order(sessions_path):
    document = session_document("reordered")
    reordered = {key: document[key] for key in reversed(list(document))}
    path = write_session_file(sessions_path, reordered)
    summary = read_summary(path)
    assert (summary.session_id, summary.model, summary.title) == (
        "reordered",
        "gemma3:4b",
        "How do I rotate nginx logs?",
    )


def test_title_skips_hidden_notices_and_falls_back_to_any_message(sessions_path):
    document = session_document("notice-first")
    document["messages"].insert(
        0,
        {
            "role": "system",
            "parts": [{"type": "text", "text": "notice"}],
            "timestamp": "2026-01-27T12:00:00Z",
            "excludeFromContext": True,
        },
    )
    assert read_summary(write_session_file(sessions_path, document)).title == "How do I rotate nginx logs?"
    only_assistant = session_document("assistant-only")
    only_assistant["messages"] = only_assistant["messages"][1:]
    summary = read_summary(write_session_file(sessions_path, only_assistant))
    assert summary.title == "Use logrotate with daily."


def test_a_huge_first_message_and_escapes_in_the_header(sessions_path):
    document = session_document("big", model='quote"and\\slash:7b')
    document["messages"][0]["parts"][0]["text"] = "word " * 100_000
    path = sessions_path / "big.json"
    sessions_path.mkdir(parents=True)
    path.write_bytes(json.dumps(document, separators=(",", ":")).encode())
    summary = read_summary(path)
    assert summary.model == 'quote"and\\slash:7b'
    assert summary.title.startswith("word word") and summary.title.endswith("…")


def test_unicode_titles_and_times_with_offsets(sessions_path):
    document = session_document(
        "unicode", startTime="2026-01-27T14:00:00+02:00", lastActivity="2026-01-27T12:30:00Z"
    )
    document["messages"][0]["parts"][0]["text"] = "Café crème ☕ — how to froth oat milk?"
    summary = read_summary(write_session_file(sessions_path, document))
    assert summary.title == "Café crème ☕ — how to froth oat milk?"


def test_cache_is_used_and_stays_correct(isolated_home):
    service = ChatRecordingService(isolated_home / "sessions")
    first = service.create_session(model="m")
    service.record_message(first, Message.text("user", "first title"))
    second = service.create_session(model="m")
    store = store_for_home(isolated_home)
    assert [s.title for s in store.list().sessions] == ["(empty session)", "first title"]
    cache_file = listing_cache_path(isolated_home)
    assert cache_file.exists()
    service.record_message(second, Message.text("user", "second title"))
    service.delete_session(first)
    assert [s.title for s in store.list().sessions] == ["second title"]
    assert list(json.loads(cache_file.read_text())["entries"]) == [f"{second}.json"]
    service.close()


def test_a_damaged_cache_is_ignored_and_rewritten(isolated_home):
    write_session_file(isolated_home / "sessions", session_document("s1"))
    cache_file = listing_cache_path(isolated_home)
    cache_file.parent.mkdir(parents=True)
    cache_file.write_text('{"version": 1, "entries": {"s1.json": [1, 2, 3, "x"]}}{{{')
    assert [s.session_id for s in store_for_home(isolated_home).list().sessions] == ["s1"]
    assert json.loads(cache_file.read_text())["version"] == 1


def test_a_cache_entry_with_a_stale_signature_is_not_trusted(isolated_home):
    sessions = isolated_home / "sessions"
    path = write_session_file(sessions, session_document("s1"))
    store = store_for_home(isolated_home)
    store.list()
    document = session_document("s1")
    document["messages"][0]["parts"][0]["text"] = "How do I rotate apache logs?"
    path.write_text(json.dumps(document))  # a new size; an editor's save
    assert store.list().sessions[0].title == "How do I rotate apache logs?"


def test_a_file_broken_after_caching_is_reported(isolated_home):
    sessions = isolated_home / "sessions"
    path = write_session_file(sessions, session_document("s1"))
    store = store_for_home(isolated_home)
    store.list()
    path.write_text('{"sessionId": "s1"')
    listing = store.list()
    assert listing.sessions == []
    assert [str(p) for p in listing.problems] == [
        "s1.json: truncated JSON: Expecting ',' delimiter (line 1, column 19)"
    ]


def test_listing_without_a_cache_writes_nothing(sessions_path):
    write_session_file(sessions_path, session_document("s1"))
    before = sorted(p.name for p in sessions_path.parent.rglob("*"))
    SessionStore(sessions_path).list()
    assert sorted(p.name for p in sessions_path.parent.rglob("*")) == before
