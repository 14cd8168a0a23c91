"""Two devices sharing a sessions folder through a sync tool: the tool's conflict copies are read as
both halves of one session, and merged without losing a message either device recorded."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from conftest import run_ollm, session_document, write_session_file

from ollm_recall import ChatRecordingService, Message
from ollm_recall.archive.conflicts import conflict_bases
from ollm_recall.archive.shared_folder import merge_conflicts, remove_deleted
from ollm_recall.archive.store import store_for_home
from ollm_recall.home import device_tag, locks_dir

BASE = "session-1796256822000-k3fz"
SECRET = "ghp_" + "aB3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hJ6"


def _redacted(texts: set[str]) -> set[str]:
    from ollm_recall.archive.redaction import Redactor

    return {Redactor().redact_text(text).text for text in texts}


@pytest.mark.parametrize(
    "name",
    [
        f"{BASE}.sync-conflict-20261203-184717-5RQAITR",  # Syncthing
        f"{BASE} (conflicted copy)",  # Dropbox
        f"{BASE} (Ann's conflicted copy 2026-12-03)",  # Dropbox
        f"{BASE} (conflicted copy 2026-12-03 184717)",  # Nextcloud
        f"{BASE}_conflict-20261203-184717",  # ownCloud
        f"{BASE} 2",  # iCloud
        f"{BASE}-DESKTOP-1A2B3C",  # OneDrive
    ],
)
def test_each_sync_tool_s_conflict_copy_names_its_session(name: str) -> None:
    assert BASE in conflict_bases(name)


@pytest.mark.parametrize("name", [BASE, "session-1796256822000", "session-1796256822000-k3fz-2", "notes"])
def test_a_session_s_own_name_is_no_conflict_copy(name: str) -> None:
    assert name not in conflict_bases(name) and BASE not in conflict_bases(name)


class Device:
    """One device: its own home (index, locks, device tag) and its copy of the shared sessions folder."""

    def __init__(self, root: Path, name: str) -> None:
        self.home = root / name
        self.sessions = root / f"{name}-Sync" / "ollm"
        self.sessions.mkdir(parents=True)
        self.home.mkdir()
        (self.home / "config.toml").write_text(f'sessions_dir = "{self.sessions}"\n')

    def record(self, session_id: str | None, text: str, *, redact: bool = True) -> str:
        """A chat on this device: a new session, or one resumed; the service closes as a chat ends.
        ``redact=False``: saved as a home with redaction off saves it."""
        service = ChatRecordingService(
            self.sessions,
            locks_dir=locks_dir(self.home),
            device=device_tag(self.home),
            **({} if redact else {"redactor": None}),
        )
        try:
            if session_id is None:
                session_id = service.create_session(model="demo")
            service.record_message(session_id, Message.text("user", text))
            service.record_message(session_id, Message.text("assistant", f"noted: {text}"))
        finally:
            service.close()
        return session_id

    def delete(self, session_id: str) -> None:
        service = ChatRecordingService(
            self.sessions, locks_dir=locks_dir(self.home), device=device_tag(self.home)
        )
        service.delete_session(session_id)

    def redact(self) -> None:
        """``ollm redact`` on this device: every session with a secret rewritten redacted."""
        store = store_for_home(self.home, writing=True)
        for summary in store.list().sessions:
            session = store.read(summary.session_id)
            if store.redactor is not None and store.redactor.redact_session(session)[1]:
                store.write(session)

    def merge(self) -> int:
        """What the index's catch-up does before indexing: deleted sessions removed again, copies merged."""
        store = store_for_home(self.home, writing=True)
        remove_deleted(store)
        return merge_conflicts(store).copies_removed

    def files(self) -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in self.sessions.iterdir() if p.suffix == ".json"}


class StandInSyncTool:
    """Copies files both ways as Syncthing and Dropbox do: a change on one side goes to the other,
    a deletion too; a file changed on both sides keeps one version under its name and the other as a
    conflict copy (named as Syncthing or Dropbox names it), on both sides."""

    def __init__(self, first: Device, second: Device, rng: random.Random) -> None:
        self.sides = (first.sessions, second.sessions)
        self.synced: dict[str, bytes] = {}
        self.rng = rng
        self.conflicts = 0

    def run(self) -> None:
        a, b = self.sides
        names = {p.name for side in self.sides for p in side.iterdir() if p.suffix == ".json"} | set(
            self.synced
        )
        for name in sorted(names):
            left, right, before = _read(a / name), _read(b / name), self.synced.get(name)
            if left == right:
                agreed = left
            elif left == before:
                agreed = right
            elif right == before:
                agreed = left
            elif left is None or right is None:  # deleted on one side, changed on the other: kept
                agreed = left if left is not None else right
            else:
                winner, loser = (left, right) if self.rng.random() < 0.5 else (right, left)
                stem = name.removesuffix(".json")
                copy = (
                    f"{stem}.sync-conflict-20261203-{self.conflicts:06d}-5RQAITR.json"
                    if self.rng.random() < 0.5
                    else f"{stem} (Ann's conflicted copy 2026-12-03 ({self.conflicts})).json"
                )
                self.conflicts += 1
                for side in self.sides:
                    (side / copy).write_bytes(loser)
                self.synced[copy] = loser
                agreed = winner
            for side in self.sides:
                _put(side / name, agreed)
            if agreed is None:
                self.synced.pop(name, None)
            else:
                self.synced[name] = agreed


def _read(path: Path) -> bytes | None:
    return path.read_bytes() if path.exists() else None


def _put(path: Path, data: bytes | None) -> None:
    if data is None:
        path.unlink(missing_ok=True)
    elif _read(path) != data:
        path.write_bytes(data)


def _texts(device: Device, session_id: str) -> set[str]:
    document = json.loads((device.sessions / f"{session_id}.json").read_text())
    return {message["parts"][0]["text"] for message in document["messages"]}


@pytest.mark.parametrize("seed", range(12))
def test_any_interleaving_of_chats_deletes_and_redactions_on_two_devices_keeps_every_message(
    tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed)
    devices = [Device(tmp_path, "laptop"), Device(tmp_path, "desktop")]
    tool = StandInSyncTool(*devices, rng)
    said: dict[str, set[str]] = {}
    deleted: set[str] = set()
    last = devices[0].record(None, "start")  # one conflict for sure: the session resumed on both
    tool.run()
    for device, text in zip(devices, ("laptop side", "desktop side"), strict=True):
        device.record(last, text)
    said[last] = {
        text for word in ("start", "laptop side", "desktop side") for text in (word, f"noted: {word}")
    }
    for step in range(40):
        device = rng.choice(devices)
        action = rng.random()
        known = [sid for sid in said if (device.sessions / f"{sid}.json").exists()]
        if action < 0.2 or not known:
            text, session_id = f"new {step}", None
        elif action < 0.75:  # often the session just continued elsewhere: where conflicts come from
            text = f"more {step}"
            session_id = last if last in known and rng.random() < 0.5 else rng.choice(known)
            if rng.random() < 0.15:  # pasted a token, on a device with redaction off
                text += f" with {SECRET}"
                session_id = last = device.record(session_id, text, redact=False)
                said.setdefault(session_id, set()).update(_redacted({text, f"noted: {text}"}))
                continue
        elif action < 0.78:
            device.redact()
            continue
        elif action < 0.8:
            doomed = rng.choice(known)
            device.delete(doomed)
            deleted.add(doomed)
            continue
        else:
            tool.run()
            rng.choice(devices).merge()
            continue
        session_id = last = device.record(session_id, text)
        said.setdefault(session_id, set()).update({text, f"noted: {text}"})
    devices[0].redact()  # the secrets go, and no copy of the other device brings them back
    for _round in range(4):  # the devices settle: sync, merge on each, sync
        tool.run()
        for device in devices:
            device.merge()
    tool.run()
    first, second = (device.files() for device in devices)
    assert not [name for name, data in first.items() if SECRET.encode() in data]
    assert first == second, "the two devices disagree after syncing"
    kept = {session_id: texts for session_id, texts in said.items() if session_id not in deleted}
    assert sorted(name.removesuffix(".json") for name in first) == sorted(kept)  # no copy, nothing deleted
    for session_id, texts in kept.items():
        assert texts <= _texts(devices[0], session_id), (session_id, texts - _texts(devices[0], session_id))
    assert tool.conflicts > 0  # the interleaving did make the tool keep both versions somewhere


def test_listing_and_search_see_both_halves_and_index_merges_them(isolated_home: Path) -> None:
    sessions = isolated_home / "sessions"
    mine = session_document(BASE)
    theirs = session_document(BASE)
    theirs["messages"] = [
        *theirs["messages"],
        {
            "role": "user",
            "parts": [{"type": "text", "text": "the spare key is under the blue flowerpot"}],
            "timestamp": "2026-01-27T12:06:00.000Z",
        },
    ]
    theirs["lastActivity"] = "2026-01-27T12:06:00.000Z"
    write_session_file(sessions, mine)
    copy = write_session_file(sessions, theirs, name=f"{BASE}.sync-conflict-20261203-184717-5RQAITR.json")
    listed = run_ollm("sessions", "list", "--json")
    assert listed.returncode == 0 and "skipped" not in listed.stderr
    assert "1 conflict copy of a sync tool" in listed.stderr
    [summary] = json.loads(listed.stdout)
    assert summary["id"] == BASE and summary["lastActivity"] == "2026-01-27T12:06:00.000Z"  # the copy's
    doctor = run_ollm("doctor")
    assert (
        doctor.returncode == 1 and "a sync tool's conflict copy of " + BASE in doctor.stdout + doctor.stderr
    )
    indexed = run_ollm("index", "--json")
    assert indexed.returncode == 0, indexed.stderr
    assert json.loads(indexed.stdout)["conflictsMerged"] == 1 and not copy.exists()
    saved = json.loads((sessions / f"{BASE}.json").read_text())
    assert len(saved["messages"]) == 3 and saved["lastActivity"] == "2026-01-27T12:06:00.000Z"
    found = run_ollm("recall", "where is the spare key", "--json")
    assert found.returncode == 0 and json.loads(found.stdout.splitlines()[0])["sessionId"] == BASE
    assert "conflict copy" not in run_ollm("doctor").stdout


def test_doctor_fix_merges_a_copy_and_keeps_what_it_cannot_read(isolated_home: Path) -> None:
    sessions = isolated_home / "sessions"
    write_session_file(sessions, session_document(BASE))
    theirs = session_document(BASE)
    theirs["messages"][0]["parts"][0]["text"] = "asked on the desktop"
    copy = write_session_file(sessions, theirs, name=f"{BASE} (conflicted copy).json")
    broken = sessions / f"{BASE} 2.json"
    broken.write_text('{"sessionId": "' + BASE + '", "startTime": ')  # a copy cut short: never removed
    fixed = run_ollm("doctor", "--fix")
    assert "conflict copy of " + BASE in fixed.stdout, fixed.stdout
    assert not copy.exists() and broken.exists()
    texts = {m["parts"][0]["text"] for m in json.loads((sessions / f"{BASE}.json").read_text())["messages"]}
    assert "asked on the desktop" in texts and "How do I rotate nginx logs?" in texts


def test_a_session_being_recorded_is_merged_once_it_is_free(tmp_path: Path) -> None:
    device = Device(tmp_path, "laptop")
    session_id = device.record(None, "first")
    copy = device.sessions / f"{session_id} (conflicted copy).json"
    copy.write_bytes((device.sessions / f"{session_id}.json").read_bytes().replace(b"first", b"other"))
    service = ChatRecordingService(
        device.sessions, locks_dir=locks_dir(device.home), device=device_tag(device.home)
    )
    service.record_message(session_id, Message.text("user", "still chatting"))  # holds the session
    assert merge_conflicts(store_for_home(device.home, writing=True)).busy == [session_id] and copy.exists()
    service.close()
    assert device.merge() == 1 and not copy.exists()
    assert {"first", "other", "still chatting"} <= _texts(device, session_id)


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_merge_killed_at_its_write_loses_nothing(isolated_home: Path, when: str) -> None:
    import signal

    from conftest import ollm_killed_at_write

    sessions = isolated_home / "sessions"
    write_session_file(sessions, session_document(BASE))
    theirs = session_document(BASE)
    theirs["messages"][0]["parts"][0]["text"] = "asked on the desktop"
    copy = write_session_file(sessions, theirs, name=f"{BASE}.sync-conflict-20261203-184717-5RQAITR.json")
    write = 1
    while True:  # each write of the merge in turn (the listing cache's, the session's), until none is left
        killed = ollm_killed_at_write(write, when, "doctor", "--fix")
        texts = {
            m["parts"][0]["text"]
            for path in sessions.glob("*.json")
            for m in json.loads(path.read_text())["messages"]  # every file whole and readable
        }
        assert {"asked on the desktop", "How do I rotate nginx logs?"} <= texts
        if killed.returncode != -signal.SIGKILL:
            break
        write += 1
    assert write > 1 and not copy.exists()


def test_a_deleted_session_that_comes_back_stays_deleted(isolated_home: Path, tmp_path: Path) -> None:
    sessions = isolated_home / "sessions"
    write_session_file(sessions, session_document(BASE))
    write_session_file(sessions, session_document("session-1796256822001-k3fz"))
    kept = (sessions / f"{BASE}.json").read_bytes()
    assert run_ollm("sessions", "delete", BASE, "--yes").returncode == 0
    [tombstones] = list((sessions / ".tombstones").glob("*.jsonl"))
    assert tombstones.name == f"{device_tag(isolated_home)}.jsonl"
    assert json.loads(tombstones.read_text())["sessionId"] == BASE
    (sessions / f"{BASE}.json").write_bytes(kept)  # a device that had not seen the deletion synced it back
    (sessions / f"{BASE} (conflicted copy).json").write_bytes(kept)
    listed = run_ollm("sessions", "list", "--json")
    assert [s["id"] for s in json.loads(listed.stdout)] == ["session-1796256822001-k3fz"]
    assert "deleted on a device, back from another" in run_ollm("doctor").stdout
    assert run_ollm("index").returncode == 0
    assert sorted(p.name for p in sessions.glob("*.json")) == ["session-1796256822001-k3fz.json"]
    export = tmp_path / "export"
    export.mkdir()
    (export / f"{BASE}.json").write_bytes(kept)
    imported = run_ollm("import", "ollm", str(export), "--json")
    assert imported.returncode == 0, imported.stderr
    assert not (sessions / f"{BASE}.json").exists()  # an import does not bring it back either


def test_tombstones_from_another_device_are_input_never_paths(tmp_path: Path) -> None:
    from ollm_recall.archive.tombstones import deleted_sessions

    folder = tmp_path / "sessions" / ".tombstones"
    folder.mkdir(parents=True)
    (folder / "zzzz.jsonl").write_text(
        '{"sessionId": "../../etc/passwd", "deletedAt": "2026-12-03T00:00:00.000Z"}\n'
        '{"sessionId": "session-1", "deletedAt": "2026-12-03T00:00:00.000Z"}\n'
        '{"sessionId": "session-2", "deleted'  # cut short while it synced
    )
    assert deleted_sessions(tmp_path / "sessions") == {"session-1": "2026-12-03T00:00:00.000Z"}


def test_a_deleted_session_that_comes_back_compressed_is_removed_too(isolated_home: Path) -> None:
    from ollm_recall.archive.compression import compress_session

    sessions = isolated_home / "sessions"
    write_session_file(sessions, session_document(BASE))
    kept = (sessions / f"{BASE}.json").read_bytes()
    assert run_ollm("sessions", "delete", BASE, "--yes").returncode == 0
    (sessions / f"{BASE}.json.zst").write_bytes(
        compress_session(kept, None)
    )  # compressed on the other device
    assert run_ollm("index").returncode == 0
    assert not list(sessions.glob(f"{BASE}*"))
