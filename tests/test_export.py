"""Markdown a person wants to read: title, facts, roles and times, tool calls, code kept intact."""

from __future__ import annotations

from ollm_recall import Message, Part, Session, ToolCall
from ollm_recall._time import format_duration
from ollm_recall.transfer.markdown import fence_for, to_markdown


def _session() -> Session:
    return Session(
        session_id="session-1769515200000",
        start_time="2026-01-27T12:00:00.000Z",
        last_activity="2026-01-27T12:05:30.000Z",
        model="gemma3:4b",
        provider="ollama",
        messages=[
            Message.text(
                "system",
                "new session started",
                timestamp="2026-01-27T12:00:00.000Z",
                exclude_from_context=True,
            ),
            Message.text(
                "user", "How do I rotate nginx logs?\nDaily please.", timestamp="2026-01-27T12:00:01.000Z"
            ),
            Message(
                role="assistant",
                timestamp="2026-01-27T12:00:09.000Z",
                parts=(
                    Part(
                        type="text",
                        text="Use **logrotate**:\n\n```conf\n/var/log/nginx/*.log {\n    daily\n}\n```",
                    ),
                    Part(type="image", extra={"url": "x.png"}),
                ),
            ),
            Message.text(
                "assistant", "Also ````four```` ticks", timestamp="2026-01-27T12:05:30.000Z", interrupted=True
            ),
        ],
        tool_calls=[
            ToolCall(
                id="t1",
                name="read_file",
                args={"path": "/etc/logrotate.conf"},
                result={"llmContent": "weekly\nrotate 4", "returnDisplay": "Read 2 lines"},
                timestamp="2026-01-27T12:00:05.000Z",
            )
        ],
    )


def test_markdown_document():
    text = to_markdown(_session())
    assert text.startswith("# How do I rotate nginx logs?\n\n| | |\n|---|---|\n")
    for fact in (
        "| Session | `session-1769515200000` |",
        "| Model | gemma3:4b (ollama) |",
        "| Started | 2026-01-27 12:00:00 UTC |",
        "| Duration | 5 min 30 s |",
        "| Messages | 3 |",
        "| Tool calls | 1 |",
    ):
        assert fact in text
    assert "### User · 12:00:01\n\nHow do I rotate nginx logs?\nDaily please." in text
    assert "```conf\n/var/log/nginx/*.log {\n    daily\n}\n```" in text
    assert "#### Tool call: `read_file` · 12:00:05" in text
    assert '```json\n{\n  "path": "/etc/logrotate.conf"\n}\n```' in text
    assert "Result (Read 2 lines):\n\n```\nweekly\nrotate 4\n```" in text
    assert "> _new session started_" in text
    assert "_(reply interrupted)_" in text
    assert "_(also: image parts, not shown)_" in text
    order = [text.index(s) for s in ("### User", "#### Tool call", "### Assistant · 12:00:09")]
    assert order == sorted(order)


def test_fences_outgrow_the_content():
    assert fence_for("plain") == "```"
    assert fence_for("has ```` inside") == "`````"


def test_durations():
    assert [format_duration(s) for s in (0, 59, 61, 3600 * 2 + 300, 3 * 86400)] == [
        "0 s",
        "59 s",
        "1 min 01 s",
        "2 h 05 min",
        "3 d 00 h",
    ]


def test_an_empty_session_still_has_a_title():
    session = Session(
        session_id="s",
        start_time="2026-01-27T12:00:00Z",
        last_activity="2026-01-27T12:00:00Z",
        model="m",
        provider="p",
    )
    assert to_markdown(session).startswith("# (empty session)\n")
