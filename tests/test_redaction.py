"""Secrets never reach disk: what is saved is redacted, what is in memory is not, look-alikes stay."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from conftest import REPO, session_document, write_session_file

from ollm_recall import ChatRecordingService, Message
from ollm_recall.archive.redaction import Redactor
from ollm_recall.archive.session import ToolCall

sys.path.insert(0, str(REPO / "benchmarks"))
from secret_cases import GENERATORS, labelled_secrets, look_alikes  # noqa: E402

ONE_OF_EACH = {case.form or case.kind: case for case in labelled_secrets() if case.surrounding == "dotenv"}
"""Every form of secret (a classic and a fine-grained GitHub token...), in a .env file."""


def test_the_labelled_secrets_are_caught_and_the_look_alikes_kept() -> None:
    redactor = Redactor()
    cases = labelled_secrets()
    caught = [
        case
        for case in cases
        if case.secret not in (out := redactor.redact_text(case.text)).text
        and f"[REDACTED:{case.kind}]" in out.text
    ]
    assert len(cases) >= 100
    assert len(caught) / len(cases) >= 0.98
    assert {case.kind for case in caught} >= {kind for kind, _, _ in GENERATORS.values()} - {"aws-secret-key"}
    for text in look_alikes():
        assert redactor.redact_text(text).text == text


def test_a_marker_is_never_a_secret_so_redaction_is_idempotent() -> None:
    redactor = Redactor(extra_patterns=[r"db-pass (\S+)"])
    texts = [case.text for case in labelled_secrets()] + [
        "mysql://root:s3cretpassword@db:3306/shop",
        "https://deploy:hunter2hunter2@git.example.com/repo.git",
        "db-pass 9fj2kdl3m",
    ]
    for text in texts:
        once = redactor.redact_text(text).text
        again = redactor.redact_text(once)
        assert again.text == once and again.kinds == (), once
    assert redactor.redact_text("mysql://root:[REDACTED:url-password]@db").kinds == ()


@pytest.mark.parametrize("case", list(ONE_OF_EACH.values()), ids=list(ONE_OF_EACH))
def test_a_secret_in_any_message_or_tool_call_never_reaches_the_file(tmp_path: Path, case) -> None:
    service = ChatRecordingService(tmp_path)
    session_id = service.create_session(model="demo")
    service.record_message(session_id, Message.text("user", f"deploy fails, my config:\n{case.text}"))
    service.record_message(session_id, Message.text("assistant", f"Your staging file sets {case.text}"))
    service.record_tool_call(
        session_id,
        ToolCall(
            id="call-1",
            name="read_file",
            args={"path": ".env", "api_token": case.secret},
            result={"llmContent": [{"text": case.text}], "returnDisplay": f"read {case.text}"},
        ),
    )
    raw = service.session_path(session_id).read_text()
    assert case.secret not in raw
    assert raw.count("[REDACTED:") == 5  # user, assistant, args, llmContent, returnDisplay
    assert raw.count(f"[REDACTED:{case.kind}]") >= 4
    user_text = json.loads(raw)["messages"][0]["parts"][0]["text"]
    start = case.text.index(case.secret)
    before, after = case.text[:start][-12:].strip(), case.text[start + len(case.secret) :][:12].strip()
    assert user_text.startswith("deploy fails") and before in user_text and after in user_text
    in_memory = service.get_session(session_id)
    assert in_memory is not None and case.secret in in_memory.messages[0].content  # the chat still has it


def test_a_reply_saved_while_it_streams_never_holds_a_key_cut_short(tmp_path: Path) -> None:
    service = ChatRecordingService(tmp_path)
    session_id = service.create_session(model="demo")
    token = "ghp_" + "aB3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hJ6"
    service.record_message(session_id, Message.text("user", "what did I set?"))
    for cut in (8, 20, len(token)):
        partial = Message.text("assistant", f"You set GITHUB_TOKEN to {token[:cut]}", interrupted=True)
        service.replace_last_message(session_id, partial) if cut > 8 else service.record_message(
            session_id, partial
        )
        assert token[:8] not in service.session_path(session_id).read_text()
    service.replace_last_message(session_id, Message.text("assistant", f"You set it to {token}. Done."))
    raw = service.session_path(session_id).read_text()
    assert token[:8] not in raw and "[REDACTED:github-token]. Done." in raw


def test_ordinary_text_is_saved_byte_for_byte(tmp_path: Path) -> None:
    service = ChatRecordingService(tmp_path)
    session_id = service.create_session(model="demo")
    for text in look_alikes():
        service.record_message(session_id, Message.text("user", text))
    saved = json.loads(service.session_path(session_id).read_text())
    assert [m["parts"][0]["text"] for m in saved["messages"]] == look_alikes()


def _export_with(secret_text: str, folder: Path) -> Path:
    document = session_document("session-1769600000000")
    document["messages"][0]["parts"][0]["text"] = f"nginx keeps failing. {secret_text}"
    write_session_file(folder, document)
    return folder


def test_import_redacts_and_importing_again_changes_nothing(tmp_path: Path, isolated_home: Path, cli) -> None:
    case = ONE_OF_EACH["github-classic"]
    export = _export_with(case.text, tmp_path / "export")
    first = cli("import", "ollm", str(export), "--json")
    assert first.exit_code == 0, first.stderr
    assert json.loads(first.stdout)["redacted"] == 1
    saved = (isolated_home / "sessions" / "session-1769600000000.json").read_text()
    assert case.secret not in saved and "[REDACTED:github-token]" in saved and "nginx keeps failing" in saved
    again = json.loads(cli("import", "ollm", str(export), "--json").stdout)
    assert again["added"] == [] and again["updated"] == [] and again["unchanged"] == 1


def test_the_config_turns_redaction_off_and_adds_patterns_and_exceptions(
    tmp_path: Path, isolated_home: Path, cli
) -> None:
    case = ONE_OF_EACH["github-classic"]
    isolated_home.mkdir(parents=True)
    config = isolated_home / "config.toml"
    saved = isolated_home / "sessions" / "session-1769600000000.json"

    config.write_text('redact_patterns = ["corp-([0-9a-f]{12})"]\nredact_allow = ["ghp_[A-Za-z0-9]+"]\n')
    export = _export_with(case.text + " corp-0123456789ab", tmp_path / "a")
    assert cli("import", "ollm", str(export)).exit_code == 0
    text = saved.read_text()
    assert case.secret in text and "corp-[REDACTED:custom]" in text
    saved.unlink()

    config.write_text("redact = false\n")
    assert cli("import", "ollm", str(_export_with(case.text, tmp_path / "b"))).exit_code == 0
    assert case.secret in saved.read_text()
    shown = cli("config")
    assert "redact = false" in shown.stderr and "saved as they are" in shown.stderr

    config.write_text('redact_patterns = ["corp-(["]\n')
    broken = cli("import", "ollm", str(tmp_path / "b"))
    assert broken.exit_code == 1 and "is not a regular expression" in broken.stderr
    assert len(broken.stderr.strip().splitlines()) == 1


def test_the_chat_sends_what_was_typed_saves_it_redacted_and_says_so(
    isolated_home: Path, model_server, cli
) -> None:
    case = ONE_OF_EACH["openai-project"]
    server = model_server()
    result = cli(
        "chat",
        "--base-url",
        server.url,
        "--model",
        "demo",
        "--no-recall",
        "-p",
        f"why does this fail? {case.text}",
    )
    assert result.exit_code == 0, result.stderr
    assert case.secret in server.requests[-1]["body"]["messages"][-1]["content"]  # the model got it
    assert case.secret in result.stdout  # and its echo reached the screen
    [saved] = (isolated_home / "sessions").glob("session-*.json")
    raw = saved.read_text()
    assert case.secret not in raw and raw.count("[REDACTED:openai-key]") == 2
    assert "your message was saved with 1 secret (openai-key) redacted" in result.stderr
    assert "the reply was saved with 1 secret (openai-key) redacted" in result.stderr


def test_an_imported_title_in_the_metadata_is_redacted_too(tmp_path: Path) -> None:
    case = ONE_OF_EACH["slack-bot"]
    service = ChatRecordingService(tmp_path)
    session_id = service.create_session(
        model="demo", metadata={"originalTitle": f"bot setup {case.secret}", "importedHash": "ab" * 32}
    )
    saved = json.loads(service.session_path(session_id).read_text())["metadata"]
    assert saved["originalTitle"] == "bot setup [REDACTED:slack-token]" and saved["importedHash"] == "ab" * 32


GITHUB = "ghp_" + "aB3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hJ6"


def _saved(tmp_path: Path, document: dict) -> str:
    """The bytes a save writes for ``document`` (read as an archive file, written back by the store)."""
    from ollm_recall.archive.store import SessionStore

    write_session_file(tmp_path, document)
    store = SessionStore(tmp_path)
    store.write(store.read(document["sessionId"]))
    return (tmp_path / f"{document['sessionId']}.json").read_text()


def test_every_string_of_a_session_is_scanned_unknown_fields_included(tmp_path: Path) -> None:
    document = session_document(
        "session-1",
        summary=f"user pasted {GITHUB}",
        messages=[
            {
                "role": "assistant",
                "timestamp": "2026-01-01T00:00:00.000Z",
                "thoughts": [{"subject": "key", "description": f"the key is {GITHUB}"}],
                "parts": [
                    {"type": "text", "text": "done"},
                    {"type": "image", "alt": f"screenshot with {GITHUB}"},
                    {"type": "reasoning", "reasoning": f"they use {GITHUB}"},
                ],
            }
        ],
        toolCalls=[
            {
                "id": f"call-{GITHUB}",
                "name": "fetch",
                "args": {},
                "result": {"llmContent": [], "returnDisplay": ""},
                "timestamp": "2026-01-01T00:00:00.000Z",
                "status": f"fetched with {GITHUB}",
            }
        ],
    )
    raw = _saved(tmp_path, document)
    assert GITHUB not in raw and GITHUB[:12] not in raw
    assert raw.count("[REDACTED:github-token]") == 6
    saved = json.loads(raw)
    assert saved["messages"][0]["parts"][0]["text"] == "done" and "summary" in saved


@pytest.mark.parametrize(
    "text",
    [
        f"https://api.example.com/repos?token%3D{GITHUB}",
        f"callback=https%3A%2F%2Fx.io%2F%3Fkey%3D{GITHUB}",
        "https://x.io/?password%3DKp9%21vX2mQ7zL",
        "https://x.io/?q=" + "%67%68%70%5F" + GITHUB[4:],
    ],
)
def test_a_secret_behind_url_escapes_is_found(text: str) -> None:
    out = Redactor().redact_text(text)
    assert out.kinds, out.text
    assert GITHUB[4:20] not in out.text and "Kp9" not in out.text
    assert out.text.startswith(text[:14])


def test_a_secret_split_across_two_text_parts_is_found_in_both(tmp_path: Path) -> None:
    document = session_document(
        "session-1",
        messages=[
            {
                "role": "user",
                "timestamp": "2026-01-01T00:00:00.000Z",
                "parts": [
                    {"type": "text", "text": f"my token is {GITHUB[:14]}"},
                    {"type": "text", "text": f"{GITHUB[14:]} ok"},
                ],
            }
        ],
    )
    parts = json.loads(_saved(tmp_path, document))["messages"][0]["parts"]
    assert parts == [
        {"type": "text", "text": "my token is [REDACTED:github-token]"},
        {"type": "text", "text": " ok"},
    ]


def test_header_pairs_and_name_value_objects_are_named_secrets() -> None:
    redactor = Redactor()
    value = {
        "headers": [["X-Api-Key", "Zq8vN2kLm4Rt7Yp1"], ["Accept", "application/json"]],
        "har": [
            {"name": "X-Auth-Token", "value": "Zq8vN2kLm4Rt7Yp1"},
            {"name": "Host", "value": "example.com"},
        ],
    }
    redacted, kinds = redactor.redact_value(value)
    assert "Zq8vN2kLm4Rt7Yp1" not in json.dumps(redacted)
    assert kinds == ("api-key", "token")
    assert (
        redacted["headers"][1] == ["Accept", "application/json"]
        and redacted["har"][1]["value"] == "example.com"
    )


def test_base64_of_a_known_format_goes_whole() -> None:
    import base64

    for secret in (GITHUB, f'{{"token": "{GITHUB}"}}'):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encode(secret.encode()).decode()
            out = Redactor().redact_text(f"config: {encoded} end")
            assert out.text == "config: [REDACTED:github-token] end", (secret, out.text)
    kept = "sha256 " + "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    assert Redactor().redact_text(kept).text == kept


def test_a_random_password_holding_a_percent_sign_is_found() -> None:
    out = Redactor().redact_text("DB_PASSWORD=Xk9%mQ2vL7!p")
    assert out.text == "DB_PASSWORD=[REDACTED:password]"
    for kept in ("password=%(password)s", "PASSWORD=%DB_PASSWORD%", "password: %s"):
        assert Redactor().redact_text(kept).text == kept


def test_a_catastrophic_custom_pattern_cannot_hang_a_redact_or_an_export(isolated_home: Path) -> None:
    from conftest import run_ollm

    sessions = isolated_home / "sessions"
    sessions.mkdir(parents=True)
    document = session_document("session-1", messages=[])
    document["messages"] = [
        {
            "role": "user",
            "timestamp": "2026-01-01T00:00:00.000Z",
            "parts": [{"type": "text", "text": "a" * 40 + "!"}],
        },
        {
            "role": "user",
            "timestamp": "2026-01-01T00:00:01.000Z",
            "parts": [{"type": "text", "text": "aaaa"}],
        },
    ]
    write_session_file(sessions, document)
    (isolated_home / "config.toml").write_text('redact_patterns = ["(a+)+$"]\n')
    # backtracking would take about 2**40 steps on the first text: the ceiling, not the pattern, would end it
    redact = run_ollm("redact", "--yes")
    assert redact.returncode == 0, redact.stderr
    texts = [m["parts"][0]["text"] for m in json.loads((sessions / "session-1.json").read_text())["messages"]]
    assert texts == ["a" * 40 + "!", "[REDACTED:custom]"]
    exported = run_ollm("export", "session-1")
    assert exported.returncode == 0 and "a" * 40 + "!" in exported.stdout


def test_a_pattern_that_needs_backtracking_is_refused_with_one_line(isolated_home: Path, cli) -> None:
    isolated_home.mkdir(parents=True)
    (isolated_home / "config.toml").write_text('redact_patterns = ["(\\\\w+)-\\\\1"]\n')
    result = cli("redact", "--dry-run")
    assert result.exit_code == 1 and len(result.stderr.strip().splitlines()) == 1
    assert "cannot be matched in linear time" in result.stderr and "backreferences" in result.stderr
