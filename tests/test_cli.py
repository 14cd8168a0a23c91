"""The sessions and export commands on a real archive in tmp_path."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import session_document, write_session_file

from ollm_recall import ChatRecordingService, Message
from ollm_recall._time import format_timestamp


@pytest.fixture
def archive(sessions_path: Path) -> dict[str, str]:
    """Three sessions at known times: two gemma3 sizes and a qwen."""
    service = ChatRecordingService(sessions_path)
    made = {}
    now = datetime.now(UTC)
    for name, model, age_days in (
        ("old", "gemma3:12b", 60),
        ("mid", "qwen2.5:7b", 10),
        ("new", "gemma3:4b", 1),
    ):
        sid = service.create_session(model=model, session_id=f"s-{name}")
        service.record_message(sid, Message.text("user", f"question about {name} things"))
        service.record_message(sid, Message.text("assistant", f"answer about {name}"))
        service.close_session(sid)
        _age(sessions_path / f"{sid}.json", now - timedelta(days=age_days))
        made[name] = sid
    return made


def _age(path: Path, when: datetime) -> None:
    """Move a session's times into the past, as if it had been recorded then."""
    document = json.loads(path.read_text())
    stamp = format_timestamp(when)
    document["startTime"] = stamp
    document["lastActivity"] = format_timestamp(when + timedelta(minutes=5))
    for message in document["messages"]:
        message["timestamp"] = stamp
    path.write_text(json.dumps(document))


def _ids(result) -> list[str]:
    assert result.exit_code == 0, result.stderr
    return [item["id"] for item in json.loads(result.stdout)]


def test_list_newest_first_as_json(cli, archive):
    result = cli("sessions", "list", "--json")
    assert _ids(result) == ["s-new", "s-mid", "s-old"]
    first = json.loads(result.stdout)[0]
    assert first["title"] == "question about new things"
    assert first["model"] == "gemma3:4b" and first["provider"] == "ollama"


def test_list_filters(cli, archive):
    assert _ids(cli("sessions", "list", "--json", "--model", "gemma3")) == ["s-new", "s-old"]
    assert _ids(cli("sessions", "list", "--json", "--model", "gemma3:4b")) == ["s-new"]
    assert _ids(cli("sessions", "list", "--json", "--since", "2w")) == ["s-new", "s-mid"]
    assert _ids(cli("sessions", "list", "--json", "--until", "30d")) == ["s-old"]
    assert _ids(cli("sessions", "list", "--json", "--limit", "1")) == ["s-new"]
    today = datetime.now().astimezone().date().isoformat()
    assert _ids(cli("sessions", "list", "--json", "--since", today)) == []


def test_list_table(cli, archive):
    result = cli("sessions", "list")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["id", "last", "activity", "model", "title"]
    assert [line.split()[0] for line in lines[1:]] == ["s-new", "s-mid", "s-old"]
    assert result.stderr == "3 sessions\n"


def test_list_of_an_empty_home(cli, sessions_path):
    result = cli("sessions", "list")
    assert result.exit_code == 0 and result.stdout == ""
    assert result.stderr.startswith("no sessions in ")
    assert cli("sessions", "list", "--json").stdout == "[]\n"


def test_bad_limit_is_a_usage_error(cli, archive):
    result = cli("sessions", "list", "--limit", "0")
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr


def test_show_renders_markdown_and_json_is_the_file(cli, archive, sessions_path):
    shown = cli("sessions", "show", "s-mid")
    assert shown.exit_code == 0
    assert shown.stdout.startswith("# question about mid things\n")
    raw = cli("sessions", "show", "s-mid", "--json")
    assert raw.stdout == (sessions_path / "s-mid.json").read_text() + "\n"


def test_delete_needs_yes_when_not_interactive(cli, archive, sessions_path):
    result = cli("sessions", "delete", "s-old")
    assert result.exit_code == 1
    assert result.stderr == "error: refusing to delete without --yes when not run interactively\n"
    assert (sessions_path / "s-old.json").exists()
    result = cli("sessions", "delete", "s-old", "s-mid", "--yes")
    assert result.exit_code == 0 and result.stderr == "deleted 2 sessions\n"
    assert _ids(cli("sessions", "list", "--json")) == ["s-new"]


def test_delete_refuses_a_session_being_recorded(cli, archive, sessions_path):
    holder = ChatRecordingService(sessions_path)
    holder.record_message("s-new", Message.text("user", "still chatting"))
    result = cli("sessions", "delete", "s-new", "--yes")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: session s-new is being recorded by process")
    holder.close()
    assert (sessions_path / "s-new.json").exists()


def test_prune_dry_run_then_for_real(cli, archive, sessions_path):
    dry = cli("sessions", "prune", "--keep", "1", "--dry-run", "--json")
    assert json.loads(dry.stdout) == {"deleted": [], "wouldDelete": ["s-old", "s-mid"], "pinned": []}
    assert len(list(sessions_path.glob("*.json"))) == 3
    refused = cli("sessions", "prune", "--keep", "1")  # no terminal to ask on: --yes or --dry-run
    assert refused.exit_code == 1 and "refusing to delete without --yes" in refused.stderr
    assert len(list(sessions_path.glob("*.json"))) == 3
    real = cli("sessions", "prune", "--keep", "1", "--yes")
    assert real.exit_code == 0 and real.stderr == "deleted 2 sessions\n"
    assert _ids(cli("sessions", "list", "--json")) == ["s-new"]


def test_export_to_a_folder_in_both_formats(cli, archive, sessions_path, tmp_path):
    before = {p.name: p.read_bytes() for p in sessions_path.glob("*.json")}
    out = tmp_path / "out"
    md = cli("export", "--all", "--out", str(out))
    assert md.exit_code == 0 and md.stdout == ""  # one summary line, not a line a file
    assert sorted(path.name for path in out.iterdir()) == ["index.md", "s-mid.md", "s-new.md", "s-old.md"]
    assert md.stderr == f"exported 3 sessions to {out}\n"
    assert (out / "s-new.md").read_text().startswith("# question about new things")
    js = cli("export", "s-old", "--format", "json", "--out", str(out))
    assert js.exit_code == 0
    assert (out / "s-old.json").read_bytes() == before["s-old.json"]
    assert {p.name: p.read_bytes() for p in sessions_path.glob("*.json")} == before


def test_export_to_stdout(cli, archive):
    single = cli("export", "s-new", "--format", "json")
    assert json.loads(single.stdout)["sessionId"] == "s-new"
    several = cli("export", "s-new", "s-old", "--format", "json")
    assert [d["sessionId"] for d in json.loads(several.stdout)] == ["s-new", "s-old"]
    markdown = cli("export", "s-new", "s-old")
    assert markdown.stdout.count("\n# question about") + markdown.stdout.startswith("# ") == 2


def test_export_needs_ids_or_all(cli, archive):
    assert cli("export").stderr == "error: name at least one session id, or use --all\n"
    assert cli("export", "s-new", "--all").stderr == (
        "error: give session ids or --all/--since/--until/--model/--query, not both\n"
    )


@pytest.mark.parametrize("fmt", ["md", "json", "jsonl", "html"])
def test_an_export_is_as_private_as_the_archive(cli, archive, tmp_path, fmt):
    out = tmp_path / "shared" / "export"
    assert cli("export", "--all", "--format", fmt, "--out", str(out)).exit_code == 0
    assert oct(out.stat().st_mode & 0o777) == "0o700" and oct(out.parent.stat().st_mode & 0o777) == "0o700"
    files = [path for path in out.rglob("*") if path.is_file()]
    assert files and {oct(path.stat().st_mode & 0o777) for path in files} == {"0o600"}


@pytest.mark.parametrize("fmt", ["md", "json", "jsonl"])
def test_export_to_stdout_checks_every_id_before_writing_anything(cli, archive, fmt):
    result = cli("export", "s-new", "s-missing", "--format", fmt)
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.startswith("error: no session with id 's-missing'")


def test_export_with_an_empty_query_is_an_error_as_recall_says(cli, archive):
    result = cli("export", "--query", "  ")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == "error: nothing to search for: the --query is empty\n"


@pytest.mark.parametrize("inside", ["", "sub", "sub/deeper"])
def test_export_refuses_the_sessions_folder(cli, archive, sessions_path, inside):
    result = cli("export", "s-new", "-f", "json", "--out", str(sessions_path / inside))
    assert result.exit_code == 1
    assert result.stderr == f"error: refusing to export into the sessions directory {sessions_path}\n"
    assert not (sessions_path / "sub").exists()


@pytest.mark.parametrize("fmt", ["md", "json", "jsonl", "html"])
def test_export_never_writes_through_a_symlink_planted_in_its_folder(cli, archive, tmp_path, fmt):
    out = tmp_path / "out"
    out.mkdir(mode=0o700)
    victim = tmp_path / "victim"
    victim.write_text("not yours")
    victim.chmod(0o644)
    names = ["s-new", "s-old", "s-mid", "index", "sessions"]
    suffixes = [".md", ".json", ".jsonl", ".html"]
    for name in names:  # every temporary name a writer of this process could predict
        for suffix in suffixes:
            (out / f".{name}{suffix}.{os.getpid()}.tmp").symlink_to(victim)
    assert cli("export", "--all", "--format", fmt, "--out", str(out)).exit_code == 0
    assert victim.read_text() == "not yours" and oct(victim.stat().st_mode & 0o777) == "0o644"
    written = [path for path in out.iterdir() if not path.is_symlink()]
    assert written and all(path.read_bytes() != b"not yours" for path in written)


@pytest.mark.parametrize("mode", [0o777, 0o1777, 0o702])
def test_export_refuses_a_folder_other_users_can_write(cli, archive, tmp_path, mode):
    out = tmp_path / "shared"
    out.mkdir()
    out.chmod(mode)
    result = cli("export", "--all", "--out", str(out))
    assert result.exit_code == 1 and list(out.iterdir()) == []
    assert result.stderr == (
        f"error: refusing to export into {out}: other users can write in it; choose a folder of your own\n"
    )


def test_home_option_beats_the_environment(cli, archive, tmp_path):
    other = tmp_path / "elsewhere"
    result = cli("--home", str(other), "sessions", "list", "--json")
    assert result.stdout == "[]\n"


def test_the_console_script_runs_in_a_real_process(archive):
    from conftest import run_ollm

    result = run_ollm("sessions", "list", "--json")
    assert result.returncode == 0, result.stderr
    assert [s["id"] for s in json.loads(result.stdout)] == ["s-new", "s-mid", "s-old"]
    missing = run_ollm("sessions", "show", "nope")
    assert missing.returncode == 1
    assert missing.stderr.startswith("error: no session with id 'nope'")
    assert "Traceback" not in missing.stderr
    bad_flag = run_ollm("sessions", "list", "--bogus")
    assert bad_flag.returncode == 2 and "No such option" in bad_flag.stderr


def test_prune_older_than_keeps_pinned_sessions_and_updates_the_index(cli, isolated_home):
    import shutil

    from conftest import REPO

    from ollm_recall.index.indexer import Index

    sessions = isolated_home / "sessions"
    shutil.copytree(REPO / "examples" / "sessions", sessions)
    Index(isolated_home).sync()
    listing = _ids(cli("sessions", "list", "--json"))
    oldest, second = listing[-1], listing[-2]
    assert cli("sessions", "pin", oldest).stderr == "pinned 1 session\n"
    before_pin = cli("sessions", "show", oldest, "--json").stdout
    assert json.loads(before_pin)["metadata"]["pinned"] is True
    dry = cli("sessions", "prune", "--older-than", "2026-02-01", "--dry-run", "--json")
    plan = json.loads(dry.stdout)
    assert oldest not in plan["wouldDelete"] and second in plan["wouldDelete"] and plan["pinned"] == [oldest]
    assert len(list(sessions.glob("*.json"))) == 45
    real = cli("sessions", "prune", "--older-than", "2026-02-01", "--yes")
    assert real.exit_code == 0 and second in real.stdout
    assert f"removed {len(plan['wouldDelete'])} from the index" in real.stderr
    assert "keeping 1 pinned session" in real.stderr
    left = _ids(cli("sessions", "list", "--json"))
    assert oldest in left and second not in left and len(left) == 45 - len(plan["wouldDelete"])
    manifest = Index(isolated_home).load_manifest()
    assert set(manifest.sessions) == set(left)
    assert cli("sessions", "unpin", oldest).exit_code == 0
    assert (
        oldest
        in json.loads(cli("sessions", "prune", "--older-than", "2026-02-01", "--dry-run", "--json").stdout)[
            "wouldDelete"
        ]
    )
    assert "say what to prune" in cli("sessions", "prune").stderr
    assert cli("sessions", "pin", "no-such-session").exit_code == 1


def test_one_session_exports_as_a_page_that_stands_alone(cli, archive):
    page = cli("export", "s-new", "--format", "html")
    assert page.exit_code == 0, page.stderr
    assert page.stdout.startswith("<!doctype html>") and "question about new things" in page.stdout
    assert "index.html" not in page.stdout  # no link to a site that is not there
    several = cli("export", "s-new", "s-old", "--format", "html")
    assert several.exit_code == 1 and "give --out DIR" in several.stderr and several.stdout == ""


def test_a_unique_prefix_of_an_id_works_wherever_an_id_is_taken(cli, archive, sessions_path):
    assert cli("sessions", "show", "s-ne").stdout == cli("sessions", "show", "s-new").stdout
    assert json.loads(cli("export", "s-o", "--format", "json").stdout)["sessionId"] == "s-old"
    assert cli("sessions", "pin", "s-m").exit_code == 0
    ambiguous = cli("sessions", "delete", "s-", "--yes")
    assert ambiguous.exit_code == 1
    assert ambiguous.stderr == "error: 's-' begins 3 session ids (s-mid, s-new, s-old): give more of it\n"
    assert len(list(sessions_path.glob("*.json"))) == 3
    assert cli("sessions", "delete", "s-o", "--yes").stderr == "deleted 1 session\n"
    assert cli("sessions", "show", "s-o").stderr == f"error: no session with id 's-o' in {sessions_path}\n"


def test_a_date_too_far_back_is_one_line(cli, archive):
    result = cli("sessions", "list", "--since", "9999999999999d")
    assert (
        result.exit_code == 1
        and result.stderr == "error: invalid date '9999999999999d': that is before the year 1\n"
    )


def test_stored_text_never_drives_the_terminal(cli, sessions_path):
    hostile = "clear \x1b[2J title \x1b]0;pwned\x07 clip \x1b]52;c;aGk=\x07 csi \x9b31m rtl \u202etxt.exe"
    document = session_document("s-evil")
    document["messages"][0]["parts"][0]["text"] = "nginx " + hostile
    write_session_file(sessions_path, document)
    for args in (["sessions", "show", "s-evil"], ["sessions", "list"], ["recall", "nginx", "--no-sync"]):
        result = cli(*args)
        assert result.exit_code == 0, (args, result.stderr)
        printed = result.stdout + result.stderr
        assert not any(c in printed for c in "\x1b\x07\x9b\u202e"), args
        assert "\\x1b" in result.stdout, args  # shown, as an escape
