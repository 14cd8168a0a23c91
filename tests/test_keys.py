"""``ollm key``: the archive key wrapped by a passphrase (argon2id), a recovery key and optionally the OS
keyring; re-wrapped, never rewritten; a wrong secret is one line naming the key."""

from __future__ import annotations

import json
import re
import signal
from pathlib import Path

import pytest
from conftest import ollm_killed_at_write, run_ollm

RECOVERY = re.compile(r"^[A-Z2-7]{4}(?:-[A-Z2-7]{1,4}){12}$", re.M)


def ollm(home: Path, *args: str, **secrets: str):
    """``ollm --home HOME ARGS`` in this process (the CLI runner), secrets given as variables."""
    import subprocess

    from typer.testing import CliRunner

    from ollm_recall.cli.app import app

    names = ("OLLM_PASSPHRASE", "OLLM_NEW_PASSPHRASE", "OLLM_RECOVERY_KEY")
    env = {name: secrets.get(name.lower()) for name in names}
    result = CliRunner().invoke(app, ["--home", str(home), *args], env=env, catch_exceptions=False)
    return subprocess.CompletedProcess(args, result.exit_code, result.stdout, result.stderr)


@pytest.fixture
def keyed(isolated_home: Path, monkeypatch) -> tuple[Path, str, str]:
    for name in ("OLLM_PASSPHRASE", "OLLM_NEW_PASSPHRASE", "OLLM_RECOVERY_KEY"):
        monkeypatch.delenv(name, raising=False)
    made = ollm(isolated_home, "key", "add", "--keyring", ollm_passphrase="correct horse")
    assert made.returncode == 0, made.stderr
    [recovery] = RECOVERY.findall(made.stdout)
    key_id = re.search(r"made archive key ([0-9a-f]{16})", made.stderr)[1]
    assert "no OS keyring here" in made.stderr  # a headless machine: the passphrase unlocks
    assert "shown once" in made.stderr
    return isolated_home, recovery, key_id


def test_a_key_is_made_once_and_kept_only_wrapped(keyed) -> None:
    home, recovery, key_id = keyed
    key_file = home / "sessions" / ".ollm-key.json"
    document = json.loads(key_file.read_text())
    assert document["keyId"] == key_id and oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert sorted(wrap["kind"] for wrap in document["wraps"]) == ["passphrase", "recovery"]
    assert document["wraps"][0]["kdf"] == "argon2id" and document["wraps"][0]["memory_cost"] >= 64 * 1024
    again = ollm(home, "key", "add", ollm_passphrase="another")
    assert again.returncode == 1 and f"already has a key ({key_id})" in again.stderr
    verified = ollm(home, "key", "verify", "--json", ollm_passphrase="correct horse")
    assert json.loads(verified.stdout) == {"keyId": key_id, "verified": True}


def test_a_wrong_passphrase_or_recovery_key_is_one_line_naming_the_key(keyed) -> None:
    home, recovery, key_id = keyed
    before = (home / "sessions" / ".ollm-key.json").read_bytes()
    wrong = ollm(home, "key", "verify", ollm_passphrase="wrong horse")
    assert wrong.returncode == 1 and wrong.stderr == f"error: wrong passphrase for key {key_id}\n"
    bad = ollm(home, "key", "recovery", ollm_recovery_key="AAAA-BBBB", ollm_new_passphrase="x")
    assert bad.returncode == 1 and bad.stderr == f"error: wrong recovery key for key {key_id}\n"
    unkeyed = run_ollm("--home", str(home / "elsewhere"), "key", "verify", env={"OLLM_PASSPHRASE": "x"})
    assert (
        unkeyed.returncode == 1 and "no archive key" in unkeyed.stderr and "`ollm key add`" in unkeyed.stderr
    )
    assert (home / "sessions" / ".ollm-key.json").read_bytes() == before
    piped = run_ollm("--home", str(home), "key", "verify", input="")
    assert piped.returncode == 1 and "set OLLM_PASSPHRASE" in piped.stderr


def test_rekey_rewraps_and_recovery_resets_a_forgotten_passphrase(keyed) -> None:
    home, recovery, key_id = keyed
    changed = ollm(
        home, "key", "rekey", ollm_passphrase="correct horse", ollm_new_passphrase="battery staple"
    )
    assert changed.returncode == 0, changed.stderr
    assert ollm(home, "key", "verify", ollm_passphrase="correct horse").returncode == 1
    assert ollm(home, "key", "verify", ollm_passphrase="battery staple").returncode == 0
    reset = ollm(home, "key", "recovery", ollm_recovery_key=recovery.lower(), ollm_new_passphrase="new one")
    assert reset.returncode == 0 and f"key {key_id}" in reset.stderr
    assert ollm(home, "key", "verify", ollm_passphrase="new one").returncode == 0
    fresh = ollm(home, "key", "recovery", "--new", ollm_passphrase="new one")
    [replacement] = RECOVERY.findall(fresh.stdout)
    assert ollm(home, "key", "recovery", ollm_recovery_key=recovery, ollm_new_passphrase="x").returncode == 1
    assert (
        ollm(home, "key", "recovery", ollm_recovery_key=replacement, ollm_new_passphrase="y").returncode == 0
    )


def test_a_second_device_sharing_the_folder_unlocks_with_the_same_passphrase(keyed, tmp_path) -> None:
    home, _recovery, key_id = keyed
    other = tmp_path / "desktop"
    other.mkdir()
    (other / "config.toml").write_text(f'sessions_dir = "{home / "sessions"}"\n')
    verified = ollm(other, "key", "verify", ollm_passphrase="correct horse")
    assert verified.returncode == 0 and f"key {key_id} verifies" in verified.stderr


@pytest.mark.parametrize("when", ["before", "after"])
def test_rekey_killed_at_its_write_leaves_a_key_that_unlocks(keyed, when: str, monkeypatch) -> None:
    home, _recovery, _key_id = keyed
    from ollm_recall import ChatRecordingService, Message

    service = ChatRecordingService(home / "sessions")
    made = service.create_session(model="llama3.2")
    service.record_message(made, Message.text("user", "the ferry leaves at nine"))
    service.close()
    assert ollm(home, "encrypt", ollm_passphrase="correct horse").returncode == 0
    monkeypatch.setenv("OLLM_PASSPHRASE", "correct horse")
    monkeypatch.setenv("OLLM_NEW_PASSPHRASE", "battery staple")
    killed = ollm_killed_at_write(1, when, "--home", str(home), "key", "rekey")
    assert killed.returncode == -signal.SIGKILL
    expected = "correct horse" if when == "before" else "battery staple"
    assert ollm(home, "key", "verify", ollm_passphrase=expected).returncode == 0
    shown = ollm(home, "sessions", "show", made, ollm_passphrase=expected)  # the archive reads as before
    assert shown.returncode == 0 and "the ferry leaves at nine" in shown.stdout
