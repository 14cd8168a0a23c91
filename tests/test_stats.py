"""`ollm stats` on a small archive whose figures were counted by hand (the comments say how)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import session_document, write_session_file

from ollm_recall import ChatRecordingService, Message


def _message(role: str, text: str, at: str, **extra: object) -> dict:
    return {"role": role, "parts": [{"type": "text", "text": text}], "timestamp": at, **extra}


@pytest.fixture
def counted(isolated_home: Path) -> Iterator[Path]:
    """Three sessions, in UTC (the zone the figures are bucketed in):

    - A, llama3.2:3b, Monday 2026-03-02 09:00: 4 messages, gaps 10 s, 120 s, 10 s; replies reported
      20+80 tokens in, 50+30 out in 1,000+500 ms; recalled session C automatically, called the tool.
    - B, llama3.2:1b, Wednesday 2026-03-04 21:00: 2 messages 30 min apart (counted as the 5-minute
      cap), the reply cut short, 5 in, 10 out in 250 ms.
    - C, gpt-4o imported from chatgpt, Tuesday 2026-02-10 14:00: a 40-character question and an
      80-character reply, 60 s apart, nothing reported: estimated 40/4 = 10 in, 80/4 = 20 out.
    """
    zone = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    sessions = isolated_home / "sessions"
    a = session_document(
        "session-a", startTime="2026-03-02T09:00:00.000Z", lastActivity="2026-03-02T09:02:20.000Z"
    )
    a["model"] = "llama3.2:3b"
    a["messages"] = [
        _message("user", "how do I tune postgres autovacuum", "2026-03-02T09:00:00.000Z"),
        _message("assistant", "lower the scale factor", "2026-03-02T09:00:10.000Z",
                 usage={"promptTokens": 20, "completionTokens": 50, "evalMs": 1000}),
        _message("user", "and for one big postgres table", "2026-03-02T09:02:10.000Z"),
        _message("assistant", "set it per table", "2026-03-02T09:02:20.000Z",
                 usage={"promptTokens": 80, "completionTokens": 30, "evalMs": 500}),
    ]  # fmt: skip
    a["metadata"]["recalledSessions"] = ["session-c"]
    a["toolCalls"] = [
        {"id": "t1", "name": "recall", "args": {"query": "postgres"}, "result": {"llmContent": "none"},
         "timestamp": "2026-03-02T09:00:05.000Z"}
    ]  # fmt: skip
    b = session_document(
        "session-b", startTime="2026-03-04T21:00:00.000Z", lastActivity="2026-03-04T21:30:00.000Z"
    )
    b["model"] = "llama3.2:1b"
    b["messages"] = [
        _message("user", "a haiku about rain", "2026-03-04T21:00:00.000Z"),
        _message("assistant", "grey drops on", "2026-03-04T21:30:00.000Z", interrupted=True,
                 usage={"promptTokens": 5, "completionTokens": 10, "evalMs": 250}),
    ]  # fmt: skip
    c = session_document(
        "session-c", startTime="2026-02-10T14:00:00.000Z", lastActivity="2026-02-10T14:01:00.000Z"
    )
    c["model"], c["provider"] = "gpt-4o", "chatgpt"
    c["metadata"]["importedFrom"] = "chatgpt"
    c["messages"] = [
        _message("user", "q" * 40, "2026-02-10T14:00:00.000Z"),
        _message("assistant", "r" * 80, "2026-02-10T14:01:00.000Z"),
    ]
    for document in (a, b, c):
        write_session_file(sessions, document)
    yield sessions
    if zone is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = zone
    time.tzset()


def stats(cli, *args: str) -> dict:
    result = cli("stats", "--json", *args)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_the_figures_are_those_counted_by_hand(counted: Path, cli) -> None:
    figures = stats(cli)
    assert figures["period"] == {"from": "2026-02-10T14:00:00+00:00", "to": "2026-03-04T21:30:00+00:00"}
    activity = figures["activity"]
    assert activity["sessions"] == 3 and activity["messages"] == {"assistant": 4, "user": 4}
    assert activity["activeDays"] == 3 and activity["secondsSpent"] == 140 + 300 + 60
    assert activity["messagesByDay"] == {"2026-02-10": 2, "2026-03-02": 4, "2026-03-04": 2}
    assert activity["messagesByWeek"] == {"2026-W07": 2, "2026-W08": 0, "2026-W09": 0, "2026-W10": 6}
    assert [activity["messagesByHour"][h] for h in (9, 14, 21)] == [4, 2, 2]
    assert sum(activity["messagesByHour"]) == 8
    assert activity["messagesByWeekday"] == {
        "Mon": 4,
        "Tue": 2,
        "Wed": 2,
        "Thu": 0,
        "Fri": 0,
        "Sat": 0,
        "Sun": 0,
    }
    models = figures["models"]
    assert models["llama3.2:3b"] | {"tokensPerSecondByMonth": None} == {
        "sessions": 1, "replies": 2, "tokensIn": 100, "tokensOut": 80, "estimatedTokensIn": 0,
        "estimatedTokensOut": 0, "tokensPerSecond": 53.3, "tokensPerSecondByMonth": None,
        "interruptedReplies": 0,
    }  # fmt: skip
    assert (
        models["llama3.2:1b"]["tokensPerSecond"] == 40.0 and models["llama3.2:1b"]["interruptedReplies"] == 1
    )
    assert models["gpt-4o"]["estimatedTokensIn"] == 10 and models["gpt-4o"]["estimatedTokensOut"] == 20
    assert models["gpt-4o"]["tokensIn"] == 0 and models["gpt-4o"]["tokensPerSecond"] is None
    assert figures["families"]["llama3.2"]["sessions"] == 2
    assert figures["families"]["llama3.2"]["tokensPerSecond"] == round(90 / 1.75, 1)  # 51.4
    assert figures["memory"] == {
        "sessionsWithAutomaticRecall": 1,
        "sessionsRecalledAutomatically": 1,
        "recallToolCalls": 1,
        "mostRecalled": [{"sessionId": "session-c", "times": 1}],
        "importedFrom": {"chatgpt": 1},
    }


def test_filters_choose_the_sessions_counted(counted: Path, cli) -> None:
    assert stats(cli, "--since", "2026-03-01")["activity"]["sessions"] == 2
    assert stats(cli, "--until", "2026-03-02")["activity"]["messagesByDay"] == {
        "2026-02-10": 2,
        "2026-03-02": 4,
    }
    assert stats(cli, "--model", "llama3.2")["activity"]["sessions"] == 2
    assert list(stats(cli, "--provider", "chatgpt")["models"]) == ["gpt-4o"]
    assert stats(cli, "--model", "mistral")["activity"]["sessions"] == 0
    bad = cli("stats", "--since", "last tuesday")
    assert bad.exit_code != 0 and len(bad.stderr.strip().splitlines()) == 1
    for target in (counted, counted / "missing" / "stats.html"):  # a folder; a folder that is not there
        refused = cli("stats", "--html", str(target))
        assert (
            refused.exit_code == 1
            and refused.stderr.startswith("error: ")
            and len(refused.stderr.splitlines()) == 1
        )


def test_the_cache_reads_only_what_changed(counted: Path, isolated_home: Path, cli) -> None:
    stats(cli)
    cache = isolated_home / "index" / "stats.json"
    before = json.loads(cache.read_bytes())["entries"]
    assert set(before) == {"session-a.json", "session-b.json", "session-c.json"}
    service = ChatRecordingService(counted)
    service.record_message(
        "session-b", Message.text("user", "another haiku", timestamp="2026-03-04T21:31:00.000Z")
    )
    service.close()
    figures = stats(cli)
    assert figures["activity"]["messages"] == {"assistant": 4, "user": 5}
    after = json.loads(cache.read_bytes())["entries"]
    assert (
        after["session-a.json"] == before["session-a.json"]
        and after["session-b.json"] != before["session-b.json"]
    )


def test_the_terminal_view_says_the_period_and_draws(counted: Path, cli) -> None:
    result = cli("stats")
    assert result.exit_code == 0, result.stderr
    assert (
        "2026-02-10 to 2026-03-04 (23 days)\n3 sessions, 8 messages, 3 active days, 0 h 08 min spent"
        in result.stdout
    )
    assert "llama3.2:3b" in result.stdout and "53.3" in result.stdout and "~10" in result.stdout
    assert "Mon ████████████████████████ 4" in result.stdout  # the busiest weekday, full width
    assert "1x  session-c" in result.stdout


@pytest.mark.slow
def test_the_page_loads_alone_has_titled_charts_and_follows_the_theme(
    counted: Path, cli, tmp_path: Path
) -> None:
    from collections import Counter

    from test_html_export import browse, decode_png

    page = tmp_path / "stats.html"
    result = cli("stats", "--html", str(page))
    assert result.exit_code == 0, result.stderr
    text = page.read_text()
    assert "<script" not in text and "http://" not in text and "https://" not in text  # nothing to fetch
    assert "default-src 'none'" in text and (page.stat().st_mode & 0o777) == 0o600
    dom = browse(page.as_uri(), tmp_path / "profile", "--dump-dom")
    charts = dom.count('role="img"')
    assert charts >= 5 and dom.count("<title id=") == charts and dom.count("<desc id=") == charts
    assert "2026-02-10 to 2026-03-04: 3 sessions, 8 messages on 3 days" in dom
    assert "<td>53.3</td>" not in dom and "2026-03-02: 4 messages" in dom  # a calendar day's own title
    backgrounds = []
    for extra in ((), ("--force-dark-mode",)):
        shot = tmp_path / f"stats{len(extra)}.png"
        browse(page.as_uri(), tmp_path / "profile", f"--screenshot={shot}", "--window-size=1000,900", *extra)
        width, _height, pixels = decode_png(shot.read_bytes())
        background, count = Counter(pixels).most_common(1)[0]
        backgrounds.append(sum(background))
        assert count / len(pixels) > 0.3 and len(set(pixels)) > 8  # a page with charts on it, not a blank
    assert backgrounds[0] > 600 and backgrounds[1] < 150  # light, then dark when the system asks


BREAD = [
    "my sourdough starter smells sour",
    "sourdough dough too sticky with rye flour",
    "sourdough crumb dense, starter weak",
    "feeding a sourdough starter with rye flour",
    "sourdough loaf flat after proofing",
    "sourdough starter and whole wheat flour",
]
KUBE = [
    "kubernetes pods stuck pending",
    "kubectl rollout of a kubernetes deployment hangs",
    "kubernetes pods evicted on the node",
    "kubernetes deployment replicas and kubectl scale",
    "kubectl logs of crashing kubernetes pods",
    "kubernetes ingress for a deployment",
]


@pytest.mark.slow
def test_topics_group_sessions_by_meaning_and_name_them_by_their_words(isolated_home: Path, cli) -> None:
    service = ChatRecordingService(isolated_home / "sessions")
    for number, text in enumerate(BREAD + KUBE):
        month = 1 + number % 3
        stamp = f"2026-0{month}-1{number % 9}T10:00:00.000Z"
        made = service.create_session(model="llama3.2:3b", session_id=f"session-{number:02d}")
        service.record_message(made, Message.text("user", text, timestamp=stamp))
        service.record_message(
            made, Message.text("assistant", f"about {text}: here is what helps", timestamp=stamp)
        )
    service.close()
    assert cli("index").exit_code == 0
    topics = stats(cli)["topics"]
    assert sorted(topic["sessions"] for topic in topics) == [6, 6]
    labels = [set(topic["words"]) for topic in topics]
    assert any({"sourdough", "starter", "flour"} & words for words in labels)
    assert any({"kubernetes", "pods", "kubectl", "deployment"} & words for words in labels)
    assert all(sum(topic["sessionsByMonth"].values()) == 6 for topic in topics)
    without_index = cli("--index-dir", str(isolated_home / "nothing"), "stats", "--json")
    assert json.loads(without_index.stdout)["topics"] == []  # no vectors yet: no topics, no error
