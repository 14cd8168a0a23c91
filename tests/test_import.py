"""``ollm import``: hand-made exports in each source's real format, imported into real archives."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest
from conftest import REPO, run_ollm

from ollm_recall import SessionStore

FIXTURES = REPO / "tests" / "fixtures"
MARCH = FIXTURES / "chatgpt" / "export-2026-03"
MAY = FIXTURES / "chatgpt" / "export-2026-05"
NGINX = "chatgpt-6a1f0c2e-1111-4d2b-9a51-000000000001"
SOURDOUGH = "chatgpt-6a1f0c2e-2222-4d2b-9a51-000000000002"
ICELAND = "chatgpt-6a1f0c2e-4444-4d2b-9a51-000000000004"


def imported(cli, *args: str) -> dict:
    result = cli("import", *args, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def snapshot(sessions: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(sessions.glob("*.json"))}


def test_chatgpt_follows_the_current_branch_and_keeps_the_original_ids(cli, sessions_path):
    report = imported(cli, "chatgpt", str(MARCH))
    assert report["added"] == [NGINX, SOURDOUGH] and report["updated"] == []
    assert len(report["broken"]) == 1 and "conversation 3" in report["broken"][0]["where"]
    session = SessionStore(sessions_path).read(NGINX)
    assert session.provider == "chatgpt" and session.model == "gpt-4o"
    assert session.metadata["originalId"] == "6a1f0c2e-1111-4d2b-9a51-000000000001"
    assert session.metadata["originalTitle"] == "Nginx 502 after PHP upgrade"
    assert [m.role for m in session.messages] == ["user", "assistant", "assistant", "user"]
    texts = [m.content for m in session.messages]
    assert "regenerated" not in " ".join(texts)  # the abandoned branch is left out
    assert texts[2] == "```bash\ngrep -R listen /etc/php/8.3/fpm/pool.d/\n```"
    assert texts[3] == "That was it: the socket is now php8.3-fpm.sock. Thanks!"
    assert session.messages[0].timestamp == "2026-03-01T21:20:10.000Z"
    assert session.start_time == "2026-03-01T21:20:00.123Z"
    assert session.last_activity == "2026-03-01T21:30:00.500Z"
    chars = [len(text) for text in texts]  # no server said: estimates from the text, marked as such
    assert session.messages[1].extra["usage"] == {
        "promptTokens": chars[0] // 4,
        "completionTokens": chars[1] // 4,
        "estimated": True,
    }
    assert session.messages[2].extra["usage"]["promptTokens"] == (chars[0] + chars[1]) // 4
    assert "usage" not in session.messages[0].extra


def test_importing_again_adds_nothing_and_changes_no_file(cli, sessions_path):
    imported(cli, "chatgpt", str(MARCH / "conversations.json"))
    before = snapshot(sessions_path)
    again = imported(cli, "chatgpt", str(MARCH / "conversations.json"))
    assert again["added"] == [] and again["updated"] == [] and again["unchanged"] == 2
    assert snapshot(sessions_path) == before


def test_a_newer_split_export_in_a_zip_adds_the_new_and_grows_the_grown(cli, sessions_path, tmp_path):
    imported(cli, "chatgpt", str(MARCH))
    store = SessionStore(sessions_path)
    pinned = store.read(SOURDOUGH)
    pinned.metadata["pinned"] = True
    store.write(pinned)
    untouched = (sessions_path / f"{NGINX}.json").read_bytes()
    export = tmp_path / "chatgpt-export.zip"
    with zipfile.ZipFile(export, "w") as archive:
        for file in sorted(MAY.iterdir()):
            archive.write(file, f"export/{file.name}")
        archive.writestr("export/user.json", '{"id": "user-1"}')
    plan = imported(cli, "chatgpt", str(export), "--dry-run")
    assert plan["dry_run"] and plan["added"] == [ICELAND] and plan["updated"] == [SOURDOUGH]
    assert store.read(SOURDOUGH).metadata.get("pinned") and not (sessions_path / f"{ICELAND}.json").exists()
    report = imported(cli, "chatgpt", str(export))
    assert report["added"] == [ICELAND] and report["updated"] == [SOURDOUGH] and report["unchanged"] == 1
    grown = store.read(SOURDOUGH)
    assert len(grown.messages) == 4 and grown.metadata["pinned"] is True and grown.model == "gpt-4o"
    assert (sessions_path / f"{NGINX}.json").read_bytes() == untouched


def test_a_session_changed_in_the_archive_is_never_overwritten(cli, sessions_path):
    imported(cli, "chatgpt", str(MARCH))
    store = SessionStore(sessions_path)
    edited = store.read(SOURDOUGH)
    edited.messages.pop()  # the archive's copy no longer matches the export's start
    edited.messages.pop()
    from ollm_recall import Message

    edited.messages.append(Message.text("user", "a note of my own"))
    store.write(edited)
    before = (sessions_path / f"{SOURDOUGH}.json").read_bytes()
    report = imported(cli, "chatgpt", str(MAY))
    assert [s["session"] for s in report["skipped"]] == [SOURDOUGH]
    assert (sessions_path / f"{SOURDOUGH}.json").read_bytes() == before


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('[{"title": "x", "mapping": {', "conversations.json: truncated JSON"),
        ('{"conversations": []}', "conversations.json: expected a list of conversations"),
        ('[{"title": "a"}\n {"title": "b"}]', "malformed JSON: expected ',' or ']' (line 2, column 2)"),
        ('[{"title": "a"}, {"title": NaN}]', "conversations.json: malformed JSON"),
    ],
)
def test_a_malformed_export_is_one_line_naming_the_file_and_place(cli, tmp_path, content, expected):
    (tmp_path / "conversations.json").write_text(content)
    result = cli("import", "chatgpt", str(tmp_path))
    assert result.exit_code == 1 and expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_bad_arguments_are_one_line_errors(cli, tmp_path):
    result = cli("import", "myspace", str(MARCH))
    assert result.exit_code == 1 and "unknown source 'myspace'" in result.stderr
    result = cli("import", "chatgpt", str(tmp_path / "missing.zip"))
    assert result.exit_code == 1 and "no such file or folder" in result.stderr
    result = cli("import", "chatgpt", str(tmp_path))
    assert result.exit_code == 1 and "no export files in this folder" in result.stderr


def test_claude_export(cli, sessions_path):
    report = imported(cli, "claude", str(FIXTURES / "claude"))
    logrotate = "claude-c1d2e3f4-0000-4000-8000-00000000000a"
    budget = "claude-c1d2e3f4-0000-4000-8000-00000000000b"
    assert report["added"] == [logrotate, budget]
    assert [b["where"].rsplit(": ", 1)[1] for b in report["broken"]] == ["conversation 3"]
    assert [s["reason"] for s in report["skipped"]] == ["no message with text"]
    store = SessionStore(sessions_path)
    session = store.read(logrotate)
    assert session.provider == "claude" and session.metadata["originalTitle"] == "Logrotate for nginx"
    assert session.messages[1].content.startswith("Put this in /etc/logrotate.d/nginx:\n\n```")
    assert "tool_use" not in session.messages[1].content
    assert store.read(budget).start_time == "2026-04-02T17:00:00.000Z"
    assert imported(cli, "claude", str(FIXTURES / "claude"))["unchanged"] == 2


def test_ollm_files_are_validated_and_copied(cli, sessions_path, tmp_path):
    other = tmp_path / "other-archive" / "sessions"
    shutil.copytree(REPO / "examples" / "sessions", other)
    (other / "session-broken.json").write_text('{"sessionId": "session-broken", "startTime": ')
    (other / "session-evil.json").write_text(json.dumps({"sessionId": "../evil"}))
    (other / ".session-1.json.123.tmp").write_text("leftover")
    report = imported(cli, "ollm", str(other.parent))
    assert len(report["added"]) == 45 and len(report["broken"]) == 2
    assert not (sessions_path.parent / "evil.json").exists()
    source = json.loads((other / "session-1772486820000.json").read_text())
    copied = json.loads((sessions_path / "session-1772486820000.json").read_text())
    assert copied["messages"] == source["messages"] and copied["metadata"]["importedFrom"] == "ollm"
    assert imported(cli, "ollm", str(other))["unchanged"] == 45


@pytest.mark.slow
def test_imported_history_is_found_by_recall(tmp_path):
    import sqlite3

    home = tmp_path / "home"
    env = {"OLLM_HOME": str(home)}
    database = tmp_path / "logs.db"
    with sqlite3.connect(database) as connection:
        connection.executescript((FIXTURES / "llm" / "logs.sql").read_text())
    other = tmp_path / "other" / "sessions"
    shutil.copytree(REPO / "examples" / "sessions", other)
    sources = [
        ("chatgpt", MAY),
        ("claude", FIXTURES / "claude"),
        ("openwebui", FIXTURES / "openwebui"),
        ("llm", database),
        ("gemini-cli", FIXTURES / "gemini-cli"),
        ("ollm", other),
    ]
    for source, path in sources:
        assert run_ollm("import", source, str(path), env=env).returncode == 0, source
    for question, provider, expected in [
        ("what to wear driving around iceland in winter", "chatgpt", ICELAND),
        ("nginx log rotation", "claude", "claude-c1d2e3f4-0000-4000-8000-00000000000a"),
        (
            "postgres port already allocated in docker compose",
            "openwebui",
            "openwebui-0b9e8f7a-6d5c-4b3a-9281-7f6e5d4c3b2a",
        ),
        ("outside of the knee hurts after running", "llm", "llm-01j8zq7k3m4n5p6q7r8s9t0v1w"),
        (
            "undo a git commit and keep my changes",
            "gemini-cli",
            "gemini-cli-0c1d2e3f-4a5b-4c6d-8e9f-a0b1c2d3e4f5",
        ),
        ("sourdough starter smells of acetone", "ollama", "session-1770542400000"),
    ]:
        found = run_ollm("recall", question, "--json", "--provider", provider, env=env)
        assert found.returncode == 0, found.stderr
        assert json.loads(found.stdout.splitlines()[0])["sessionId"] == expected, question


def test_openwebui_export_follows_the_shown_branch(cli, sessions_path):
    report = imported(cli, "openwebui", str(FIXTURES / "openwebui"))
    docker = "openwebui-0b9e8f7a-6d5c-4b3a-9281-7f6e5d4c3b2a"
    assert report["added"] == [docker] and len(report["broken"]) == 2
    session = SessionStore(sessions_path).read(docker)
    assert [m.content[:10] for m in session.messages] == ["docker com", "A local Po", "Mapped 543"]
    assert session.model == "qwen2.5:7b" and session.provider == "openwebui"
    assert session.messages[0].timestamp == "2025-04-07T04:26:40.000Z"
    single = FIXTURES / "openwebui" / "chat-export-1745000000.json"
    import json as json_module

    one_chat = json_module.loads(single.read_text())[0]["chat"]
    one_chat["history"]["messages"]["m3"]["content"] = "Mapped 5433, works now. One more question?"
    path = sessions_path.parent / "single-chat.json"
    path.write_text(json_module.dumps(one_chat))  # a single chat's export: the inner object alone
    assert imported(cli, "openwebui", str(path))["added"] == ["openwebui-m1"]


def test_llm_logs_database_is_read_only_and_grouped_by_conversation(cli, sessions_path, tmp_path):
    import sqlite3

    database = tmp_path / "io.datasette.llm" / "logs.db"
    database.parent.mkdir()
    with sqlite3.connect(database) as connection:
        connection.executescript((FIXTURES / "llm" / "logs.sql").read_text())
    before = database.read_bytes()
    report = imported(cli, "llm", str(database.parent))
    knee, icelandic = "llm-01j8zq7k3m4n5p6q7r8s9t0v1w", "llm-01j8zq7k3m4n5p6q7r8s9t0v3c"
    assert sorted(report["added"]) == [knee, icelandic]
    session = SessionStore(sessions_path).read(knee)
    assert [m.role for m in session.messages] == ["system", "user", "assistant", "user", "assistant"]
    assert session.metadata["originalTitle"] == "Knee pain after running" and session.model == "gpt-4o-mini"
    assert session.start_time == "2026-02-10T07:30:00.123Z"
    assert database.read_bytes() == before
    with sqlite3.connect(database) as connection:
        connection.execute(
            "insert into responses (id, model, prompt, response, conversation_id, datetime_utc) values "
            "('r4', 'gpt-4o-mini', 'How long to rest?', 'A week.', '01j8zq7k3m4n5p6q7r8s9t0v1w', "
            "'2026-02-12T08:00:00')"
        )
    again = imported(cli, "llm", str(database))
    assert again["updated"] == [knee] and again["unchanged"] == 1
    (tmp_path / "not-a-db").write_text("hello")
    result = cli("import", "llm", str(tmp_path / "not-a-db"))
    assert result.exit_code == 1 and "not an llm log database" in result.stderr


def test_gemini_cli_sessions_in_json_and_json_lines(cli, sessions_path):
    report = imported(cli, "gemini-cli", str(FIXTURES / "gemini-cli"))
    first = "gemini-cli-7f3a9c21-5b6d-4e8f-a0b1-c2d3e4f5a6b7"
    second = "gemini-cli-0c1d2e3f-4a5b-4c6d-8e9f-a0b1c2d3e4f5"
    assert report["added"] == [first, second]
    assert len(report["broken"]) == 1 and "deadbeef" in report["broken"][0]["where"]
    store = SessionStore(sessions_path)
    session = store.read(first)
    assert [m.content for m in session.messages][2:] == [
        "And as a generator?",
        "evens = (n * n for n in numbers if n % 2 == 0)",
    ]
    assert session.model == "gemini-2.5-flash" and session.metadata["projectHash"].startswith("5f2b")
    lines = store.read(second)
    assert [m.content for m in lines.messages] == [
        "How do I undo the last git commit but keep the changes?",
        "git reset --soft HEAD~1 keeps your changes staged.",
    ]


@pytest.mark.parametrize("dry_run", [False, True])
def test_a_conversation_repeated_in_one_export_is_imported_once(cli, sessions_path, tmp_path, dry_run):
    older = json.loads((MARCH / "conversations.json").read_text())[1]
    newer = json.loads((MAY / "conversations-000.json").read_text())[1]
    (tmp_path / "conversations.json").write_text(json.dumps([older, newer, older]))
    report = imported(cli, "chatgpt", str(tmp_path), *(["--dry-run"] if dry_run else []))
    assert report["added"] == [SOURDOUGH] and report["updated"] == []
    assert [s["session"] for s in report["skipped"]] == [SOURDOUGH]  # the older copy after the newer
    if not dry_run:
        assert len(SessionStore(sessions_path).read(SOURDOUGH).messages) == 4


def test_gemini_cli_looks_only_where_it_keeps_chats(cli, tmp_path):
    chats = next((FIXTURES / "gemini-cli" / "tmp").iterdir()) / "chats"
    for path in (FIXTURES / "gemini-cli", FIXTURES / "gemini-cli" / "tmp", chats):
        assert len(imported(cli, "gemini-cli", str(path), "--dry-run")["added"]) == 2
    elsewhere = tmp_path / "elsewhere" / "deep" / "below"
    elsewhere.mkdir(parents=True)
    shutil.copy(next(chats.glob("*.json")), elsewhere)  # a session file, but not where gemini-cli keeps them
    result = cli("import", "gemini-cli", str(tmp_path / "elsewhere"))
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"error: {tmp_path / 'elsewhere'}: no gemini-cli chats here "
        "(it keeps them in ~/.gemini/tmp/<project>/chats)"
    )
    archive = cli("import", "gemini-cli", str(REPO / "examples"))  # the ollm example archive: not chats
    assert archive.exit_code == 1 and "no gemini-cli chats here" in archive.stderr


def test_the_wrong_source_for_an_export_fails_in_words(cli, sessions_path):
    result = cli("import", "openwebui", str(MARCH / "conversations.json"))
    assert result.exit_code == 1  # nothing at all could be imported
    assert "not an Open WebUI conversation (" in result.stderr
    assert "KeyError" not in result.stderr and "a Open" not in result.stderr
    as_json = cli("import", "openwebui", str(MARCH / "conversations.json"), "--json")
    assert as_json.exit_code == 1 and json.loads(as_json.stdout)["added"] == []


def test_open_webui_chats_without_ids_stay_apart_and_import_once(cli, sessions_path, tmp_path):
    def chat(title: str, text: str) -> dict:
        return {
            "chat": {
                "title": title,
                "timestamp": 1745000000,
                "messages": [
                    {"role": "user", "content": text, "timestamp": 1745000000},
                    {"role": "assistant", "content": "noted", "timestamp": 1745000001},
                ],
            }
        }

    export = tmp_path / "chat-export.json"
    export.write_text(
        json.dumps(
            [chat("tyres", "winter tyres go on in November"), chat("plants", "water the fern on Sundays")]
        )
    )
    first = imported(cli, "openwebui", str(export))
    assert len(first["added"]) == 2 and first["broken"] == []
    again = imported(cli, "openwebui", str(export))
    assert again["added"] == [] and again["unchanged"] == 2


def test_a_conversations_own_title_is_shown_in_list_show_and_exports(cli, sessions_path, tmp_path):
    imported(cli, "chatgpt", str(MARCH))
    raw = (sessions_path / f"{NGINX}.json").read_text()
    assert raw.index('"title"') < raw.index('"messages"')  # near the top: a listing reads the head
    listed = json.loads(cli("sessions", "list", "--json").stdout)
    assert {s["id"]: s["title"] for s in listed}[NGINX] == "Nginx 502 after PHP upgrade"
    assert "Nginx 502 after PHP upgrade" in cli("sessions", "list").stdout
    assert cli("sessions", "show", NGINX).stdout.startswith("# Nginx 502 after PHP upgrade")
    assert cli("export", NGINX).stdout.startswith("# Nginx 502 after PHP upgrade")
    out = tmp_path / "site"
    assert cli("export", "--all", "--format", "html", "--out", str(out)).exit_code == 0
    assert "Nginx 502 after PHP upgrade" in (out / "index.html").read_text()


def test_a_claude_export_imported_as_chatgpt_says_so_and_skips_have_their_reason(cli, sessions_path):
    wrong = cli("import", "chatgpt", str(FIXTURES / "claude"))
    assert wrong.exit_code == 1
    assert "it looks like a Claude export: `ollm import claude PATH` reads it" in wrong.stderr
    right = cli("import", "claude", str(FIXTURES / "claude"))
    assert right.exit_code == 0
    summary = [line for line in right.stderr.splitlines() if line.startswith("imported from")]
    assert summary and ", 1 skipped, " in summary[0]
    assert "skipped 1 conversation with no message with text: claude-" in right.stderr  # the reason


def test_the_hint_after_an_import_is_the_same_whoever_indexes(cli, sessions_path, monkeypatch):
    from ollm_recall._locking import IndexLock
    from ollm_recall.index.background import stop_worker
    from ollm_recall.index.indexer import Index

    monkeypatch.setenv("OLLM_BACKGROUND_INDEX", "1")
    index = Index(sessions_path.parent)
    first = cli("import", "chatgpt", str(MARCH))
    stop_worker(index)
    with IndexLock(index.lock_path):  # an indexer at work, as an earlier import's would be
        second = cli("import", "chatgpt", str(MAY))
    hints = [result.stderr.strip().splitlines()[-1] for result in (first, second)]
    assert hints[0] == hints[1] and hints[0].startswith("indexing them in the background")


def test_what_an_import_leaves_out_is_said(cli, sessions_path):
    result = cli("import", "chatgpt", str(MARCH))
    assert (
        "left out, messages on other branches (edited or regenerated): 1; attachments (files and images; "
        "their text is not in the export): 1 (the branch you last saw is kept)"
    ) in result.stderr
    report = json.loads(cli("import", "chatgpt", str(MARCH), "--json").stdout)
    assert report["leftOut"] == {
        "messages on other branches (edited or regenerated)": 1,
        "attachments (files and images; their text is not in the export)": 1,
    }
