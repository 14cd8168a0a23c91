"""``ollm sync REMOTE`` through the real rclone, with a local folder as the remote and a second home
acting as the other device."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import run_ollm

from ollm_recall import ChatRecordingService, Message
from ollm_recall.home import device_tag, locks_dir


class Device:
    def __init__(self, root: Path, name: str) -> None:
        self.home = root / name
        self.sessions = self.home / "sessions"

    def ollm(self, *args: str):
        return run_ollm("--home", str(self.home), *args)

    def record(self, session_id: str | None, text: str) -> str:
        service = ChatRecordingService(
            self.sessions, locks_dir=locks_dir(self.home), device=device_tag(self.home)
        )
        try:
            session_id = session_id or service.create_session(model="demo")
            service.record_message(session_id, Message.text("user", text))
        finally:
            service.close()
        return session_id

    def sync(self, remote: Path, *flags: str) -> dict:
        result = self.ollm("sync", str(remote), "--json", *flags)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def texts(self, session_id: str) -> list[str]:
        document = json.loads((self.sessions / f"{session_id}.json").read_text())
        return [message["parts"][0]["text"] for message in document["messages"]]

    def ids(self) -> list[str]:
        return sorted(p.name.removesuffix(".json") for p in self.sessions.glob("*.json"))


@pytest.fixture
def devices(tmp_path: Path, monkeypatch) -> tuple[Device, Device, Path]:
    monkeypatch.delenv("OLLM_HOME", raising=False)
    return Device(tmp_path, "laptop"), Device(tmp_path, "desktop"), tmp_path / "remote" / "ollm"


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_two_devices_meet_through_a_remote_and_lose_nothing(devices) -> None:
    laptop, desktop, remote = devices
    shared = laptop.record(None, "on the laptop")
    desktop_only = desktop.record(None, "on the desktop")
    assert laptop.sync(remote)["uploaded"] == [shared]
    assert desktop.sync(remote)["downloaded"] == [shared]
    assert laptop.sync(remote)["downloaded"] == [desktop_only]
    assert laptop.ids() == desktop.ids() == sorted([shared, desktop_only])

    laptop.record(shared, "laptop, later")  # the same session changed on both before they sync
    desktop.record(shared, "desktop, later")
    laptop.sync(remote)
    report = desktop.sync(remote)
    assert report["merged"] == [shared] and report["uploaded"] == []
    laptop.sync(remote)
    expected = {"on the laptop", "laptop, later", "desktop, later"}
    assert set(laptop.texts(shared)) == set(desktop.texts(shared)) == expected
    assert laptop.ids() == desktop.ids()
    assert not [name for name in files(remote) if "conflict" in name]


def test_a_deletion_travels_as_a_tombstone_and_nothing_else_is_deleted(devices) -> None:
    laptop, desktop, remote = devices
    doomed = laptop.record(None, "delete me")
    kept = laptop.record(None, "keep me")
    laptop.sync(remote)
    desktop.sync(remote)
    assert laptop.ollm("sessions", "delete", doomed, "--yes").returncode == 0
    assert laptop.sync(remote)["deletedOnRemote"] == [doomed]
    assert f"{doomed}.json" not in files(remote) and f".tombstones/{device_tag(laptop.home)}.jsonl" in files(
        remote
    )
    assert desktop.sync(remote)["removedHere"] == [doomed]
    assert desktop.ids() == laptop.ids() == [kept]
    (remote / f"{kept}.json").unlink()  # gone from the remote without a tombstone: uploaded again
    assert laptop.sync(remote)["uploaded"] == [kept] and (remote / f"{kept}.json").exists()


def test_a_dry_run_changes_nothing_here_or_there(devices) -> None:
    laptop, desktop, remote = devices
    laptop.record(None, "first")
    laptop.sync(remote)
    mine = desktop.record(None, "second")
    here, there = files(desktop.sessions), files(remote)
    report = desktop.sync(remote, "--dry-run")
    assert report["dryRun"] and report["uploaded"] == [mine] and len(report["downloaded"]) == 1
    assert files(desktop.sessions) == here and files(remote) == there


def test_an_unreachable_remote_is_one_line(devices) -> None:
    laptop, _desktop, _remote = devices
    laptop.record(None, "first")
    result = laptop.ollm("sync", "nosuchremote:folder")
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: rclone ") and "Traceback" not in result.stderr


def test_rclone_comes_with_the_package() -> None:
    from ollm_recall.transfer.remote_sync import rclone_executable

    assert os.access(rclone_executable(), os.X_OK)


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_sync_killed_at_any_write_loses_nothing(devices, when: str) -> None:
    import signal

    from conftest import ollm_killed_at_write

    laptop, desktop, remote = devices
    shared = laptop.record(None, "on the laptop")
    laptop.sync(remote)
    desktop.sync(remote)
    laptop.record(shared, "laptop, later")
    desktop.record(shared, "desktop, later")
    laptop.sync(remote)
    write = 1
    while True:  # the desktop's sync killed at its first write, then its second..., until it finishes
        killed = ollm_killed_at_write(write, when, "--home", str(desktop.home), "sync", str(remote))
        held = {
            message["parts"][0]["text"]
            for folder in (desktop.sessions, remote)
            for path in folder.glob("*.json")  # every file whole and readable
            for message in json.loads(path.read_text())["messages"]
        }
        assert {"on the laptop", "laptop, later", "desktop, later"} <= held
        if killed.returncode != -signal.SIGKILL:
            assert killed.returncode == 0, killed.stderr
            break
        write += 1
    assert write > 1
    laptop.sync(remote)
    assert (
        set(laptop.texts(shared))
        == set(desktop.texts(shared))
        == {"on the laptop", "laptop, later", "desktop, later"}
    )


def test_the_archive_key_travels_and_another_archive_s_is_refused(devices, tmp_path) -> None:
    laptop, desktop, remote = devices
    laptop.record(None, "first")
    made = run_ollm("--home", str(laptop.home), "key", "add", env={"OLLM_PASSPHRASE": "correct horse"})
    assert made.returncode == 0, made.stderr
    laptop.sync(remote)
    desktop.sync(remote)  # the second device joins: the key file came with the sessions
    verified = run_ollm(
        "--home", str(desktop.home), "key", "verify", env={"OLLM_PASSPHRASE": "correct horse"}
    )
    assert verified.returncode == 0, verified.stderr
    stranger = Device(tmp_path, "stranger")
    stranger.record(None, "another archive")
    run_ollm("--home", str(stranger.home), "key", "add", env={"OLLM_PASSPHRASE": "x"})
    before = files(remote)
    refused = stranger.ollm("sync", str(remote))
    assert refused.returncode == 1 and "not the same archive" in refused.stderr
    assert files(remote) == before


def test_an_archive_encrypted_on_one_device_is_encrypted_everywhere_it_syncs(devices, monkeypatch) -> None:
    laptop, desktop, remote = devices
    monkeypatch.setenv("OLLM_PASSPHRASE", "correct horse")
    shared = laptop.record(None, "the quokkafjord ferry leaves at nine")
    desktop_only = desktop.record(None, "zebrinmothix sourdough starter")
    laptop.sync(remote)
    desktop.sync(remote)
    assert laptop.ollm("encrypt").returncode == 0
    report = laptop.sync(remote)
    assert shared in report["merged"] + report["uploaded"]
    for name, data in files(laptop.home).items():  # its mirror of the remote too, at once
        assert b"quokkafjord" not in data, name
    desktop.sync(remote)  # takes the key file, then its plain files become encrypted ones, there and here
    laptop.sync(remote)
    for folder in (remote, laptop.sessions, desktop.sessions):
        names = [name for name in files(folder) if name.startswith("session-")]
        assert sorted(names) == sorted(f"{sid}.json.enc" for sid in (shared, desktop_only)), (folder, names)
    for folder in (remote, laptop.home, desktop.home):  # the homes' mirrors of the remote included
        for name, data in files(folder).items():
            assert b"quokkafjord" not in data and b"zebrinmothix" not in data, name
    for device in (laptop, desktop):
        shown = device.ollm("sessions", "show", desktop_only)
        assert shown.returncode == 0 and "zebrinmothix" in shown.stdout, shown.stderr
    later = desktop.record(shared, "and the return at six")
    assert (desktop.sessions / f"{later}.json.enc").exists() and not (
        desktop.sessions / f"{later}.json"
    ).exists()
    desktop.sync(remote)
    laptop.sync(remote)
    assert "the return at six" in laptop.ollm("sessions", "show", shared).stdout
