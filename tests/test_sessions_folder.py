"""A sessions folder that can live anywhere (a folder a sync tool shares), holding session files only,
and ids that two devices sharing it never both mint."""

from __future__ import annotations

import json
import re
from pathlib import Path

from conftest import run_ollm, session_document, write_session_file

from ollm_recall.home import device_tag, locks_dir, sessions_dir

DEVICE_ID = re.compile(r"session-\d{13}-[a-z2-7]{4}")


def test_the_sessions_folder_comes_from_the_environment_then_the_config(tmp_path: Path, monkeypatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.delenv("OLLM_SESSIONS_DIR", raising=False)
    assert sessions_dir(home) == home / "sessions" and locks_dir(home) == home / "sessions" / ".locks"
    (home / "config.toml").write_text('sessions_dir = "shared/ollm"\n')
    assert sessions_dir(home) == home / "shared" / "ollm"  # relative to the home
    assert locks_dir(home) == home / "locks"  # never inside a folder chosen to be shared
    monkeypatch.setenv("OLLM_SESSIONS_DIR", str(tmp_path / "Sync" / "chats"))
    assert sessions_dir(home) == tmp_path / "Sync" / "chats"


def test_a_chat_into_a_synced_folder_leaves_only_session_files_there(
    cli, isolated_home: Path, tmp_path: Path, model_server, monkeypatch
) -> None:
    synced = tmp_path / "Sync" / "ollm-sessions"
    monkeypatch.setenv("OLLM_SESSIONS_DIR", str(synced))
    server = model_server()
    for question in ("the pegs are in the blue bag", "the tent poles are in the garage"):
        result = cli("chat", "--model", "demo", "--base-url", server.url, "-p", question)
        assert result.exit_code == 0, result.stderr
    assert run_ollm("index").returncode == 0
    found = run_ollm("recall", "where are the tent poles", "--json")
    assert found.returncode == 0, found.stderr
    first = json.loads(found.stdout.splitlines()[0])
    assert "tent poles" in first["title"]
    names = sorted(path.name for path in synced.iterdir())
    assert len(names) == 2 and all(DEVICE_ID.fullmatch(name.removesuffix(".json")) for name in names), names
    assert (isolated_home / "index" / "manifest.json").is_file() and not (isolated_home / "sessions").exists()
    assert {name.removesuffix(".json").split("-")[2] for name in names} == {device_tag(isolated_home)}


def test_config_set_moves_where_new_sessions_go(cli, isolated_home: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "Dropbox" / "ollm"
    assert cli("config", "set", "sessions_dir", str(elsewhere)).exit_code == 0
    write_session_file(elsewhere, session_document("session-1"))
    listed = cli("sessions", "list", "--json")
    assert listed.exit_code == 0 and [s["id"] for s in json.loads(listed.stdout)] == ["session-1"]
    shown = cli("config").stdout.splitlines()
    assert [line.split() for line in shown if line.startswith("sessions_dir")] == [
        ["sessions_dir", str(elsewhere), str(isolated_home / "config.toml")]
    ]


def test_each_home_has_its_own_device_tag_kept_across_runs(tmp_path: Path) -> None:
    first, second = tmp_path / "laptop", tmp_path / "desktop"
    tags = [device_tag(first), device_tag(first), device_tag(second)]
    assert tags[0] == tags[1] and re.fullmatch(r"[a-z2-7]{4}", tags[0])
    assert (first / "device").read_text().strip() == tags[0]
    assert oct((first / "device").stat().st_mode & 0o777) == "0o600"
    (second / "device").write_text("not a tag\n")  # damaged: made again
    assert re.fullmatch(r"[a-z2-7]{4}", device_tag(second)) and device_tag(second) != "not a tag"
