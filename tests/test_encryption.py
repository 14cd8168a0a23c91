"""Encryption at rest: after `ollm encrypt`, no byte of a message, title, tool result or embedding
vector is left anywhere under the home, the sessions folder or the index; every command still works
once unlocked; `ollm decrypt` gives the very same sessions back; a wrong key changes nothing."""

from __future__ import annotations

import json
import shutil
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO

from ollm_recall import ChatRecordingService, Message
from ollm_recall.archive.session import ToolCall
from ollm_recall.archive.unlocking import forget_keys
from ollm_recall.index.indexer import Index
from ollm_recall.index.vector_segments import Segment

PASSPHRASE = "correct horse battery staple"
CANARIES = (b"quokkafjord", b"zebrinmothix", b"plumbagorix", b"marzipanquell")
"""Odd words planted in a message, a title, a tool result and the chat's line history: whoosh keeps
words one by one (so a phrase would never be found in its files even unencrypted)."""
NGINX = "session-1772486820000"


@pytest.fixture(autouse=True)
def quick_key_derivation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keys made here are wrapped with a cheap argon2id (each wrap records its parameters, so every
    unlock, killed processes' included, stays cheap): these tests unlock a hundred times, and what
    they test is what is encrypted, not the cost of guessing a passphrase (tests/test_keys.py)."""
    from ollm_recall.archive import keys

    monkeypatch.setattr(keys, "ARGON2", {"time_cost": 1, "memory_cost": 8 * 1024, "parallelism": 1})


def run_ollm(*args: str) -> subprocess.CompletedProcess:
    """``ollm ARGS`` in this process (the model stays loaded between commands)."""
    from typer.testing import CliRunner

    from ollm_recall.cli.app import app

    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    return subprocess.CompletedProcess(args, result.exit_code, result.stdout, result.stderr)


@pytest.fixture
def archive(isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The example archive, a session holding the canaries, and a line history, indexed."""
    monkeypatch.setenv("OLLM_PASSPHRASE", PASSPHRASE)
    forget_keys()
    sessions = isolated_home / "sessions"
    shutil.copytree(REPO / "examples" / "sessions", sessions)
    for folder in (isolated_home, sessions):
        folder.chmod(0o700)
    service = ChatRecordingService(sessions)
    session_id = service.create_session(model="llama3.2", session_id="session-canary")
    service.record_message(session_id, Message.text("user", "plan the quokkafjord trip by the zebrinmothix"))
    call = ToolCall(
        id="call-1", name="recall", args={"query": "trip"}, result={"llmContent": "found plumbagorix"}
    )
    service.record_tool_call(session_id, call)
    service.record_message(session_id, Message.text("assistant", "the quokkafjord trip starts at dawn"))
    service.close()
    (isolated_home / "chat_history").write_text("\n# 2026-01-27 12:00:00\n+what about marzipanquell\n")
    assert run_ollm("index").returncode == 0
    assert run_ollm("sessions", "list").returncode == 0  # the listing cache, with titles
    assert run_ollm("stats").returncode == 0  # the stats cache, with each session's frequent words
    return sessions


def _needles(home: Path) -> dict[str, list[bytes]]:
    """What must not be readable: canaries, every session's title and message openings, vectors."""
    texts, titles = [], []
    for path in sorted((home / "sessions").glob("*.json")):
        document = json.loads(path.read_bytes())
        for message in document["messages"]:
            for part in message["parts"]:
                if len(part.get("text", "")) >= 24:
                    texts.append(part["text"][:24].encode())
    listing = json.loads(run_ollm("sessions", "list", "--json").stdout)
    titles = [entry["title"].encode() for entry in listing if len(entry["title"]) >= 12]
    index = Index(home)
    vectors = []
    for name in index.load_manifest(fresh=True).segments:
        segment = Segment(index.vector_dir, name, index.sealer)
        vectors += [
            np.asarray(row).tobytes()[:32] for row in segment.vectors[:: max(1, len(segment.rows) // 50)]
        ]
    return {"canaries": list(CANARIES), "texts": texts, "titles": titles, "vectors": vectors}


def _summaries(listed: str) -> list[tuple[str, str, str, str]]:
    return [(s["id"], s["title"], s["startTime"], s["lastActivity"]) for s in json.loads(listed)]


def _readable(root: Path) -> list[tuple[Path, bytes]]:
    """Every file's bytes, and every zlib stream found inside them inflated."""
    found = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        found.append((path, data))
        for start in range(len(data) - 1):
            if data[start] == 0x78 and data[start + 1] in (0x01, 0x5E, 0x9C, 0xDA):
                try:
                    found.append((path, zlib.decompressobj().decompress(data[start:], 1 << 24)))
                except zlib.error:
                    continue
    return found


def _hits(home: Path, needles: dict[str, list[bytes]]) -> dict[str, set[str]]:
    blobs = _readable(home)
    hits: dict[str, set[str]] = {}
    for kind, values in needles.items():
        for needle in values:
            for path, data in blobs:
                if needle in data or kind != "vectors" and needle.lower() in data:
                    hits.setdefault(kind, set()).add(str(path.relative_to(home)))
    return hits


@pytest.mark.slow
def test_encrypt_leaves_no_plaintext_and_every_command_still_works(
    archive: Path, isolated_home: Path
) -> None:
    needles = _needles(isolated_home)
    before = _hits(isolated_home, needles)
    assert set(before) == {"canaries", "texts", "titles", "vectors"}  # the search can find each kind
    assert any(hit.startswith("index/fulltext") for hit in before["canaries"])
    assert "chat_history" in before["canaries"] and "index/listing.json" in before["titles"]
    assert "index/stats.json" in before["canaries"]
    listed = run_ollm("sessions", "list", "--json").stdout
    shown = run_ollm("sessions", "show", NGINX).stdout
    found = json.loads(run_ollm("recall", "nginx 502 after the php upgrade", "--json").stdout.splitlines()[0])
    originals = {p.name: p.read_bytes() for p in archive.glob("session-*.json")}

    encrypted = run_ollm("encrypt", "--json")
    assert encrypted.returncode == 0, encrypted.stderr
    report = json.loads(encrypted.stdout)
    assert len(report["encrypted"]) == len(originals) and report["derivedFiles"] > 5
    assert not list(archive.glob("session-*.json")) and len(list(archive.glob("session-*.json.enc"))) == len(
        originals
    )

    assert _hits(isolated_home, needles) == {}
    forget_keys()
    assert _summaries(run_ollm("sessions", "list", "--json").stdout) == _summaries(listed)
    assert run_ollm("sessions", "show", NGINX).stdout == shown
    again = run_ollm("recall", "nginx 502 after the php upgrade", "--json")
    assert json.loads(again.stdout.splitlines()[0])["sessionId"] == found["sessionId"] == NGINX
    assert "quokkafjord" in run_ollm("recall", "quokkafjord", "--json").stdout
    counted = json.loads(run_ollm("stats", "--json").stdout)  # from the sealed stats cache and means
    assert counted["activity"]["sessions"] == len(originals) and counted["topics"]

    service = ChatRecordingService(archive)  # a new message, and a new session: encrypted at once
    service.record_message("session-canary", Message.text("user", "one more zebrinmothix"))
    fresh = service.create_session(model="llama3.2")
    service.record_message(fresh, Message.text("user", "a new quokkafjord question"))
    service.close()
    assert run_ollm("index").returncode == 0
    assert "one more zebrinmothix" in run_ollm("sessions", "show", "session-canary").stdout
    assert _hits(isolated_home, needles) == {}
    doctor = run_ollm("doctor", "--json")
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr

    decrypted = run_ollm("decrypt", "--json")
    assert decrypted.returncode == 0, decrypted.stderr
    for name, data in originals.items():
        if name != "session-canary.json":
            assert (archive / name).read_bytes() == data
    assert not list(archive.glob("session-*.json.enc"))
    assert run_ollm("sessions", "list", "--json").returncode == 0
    assert "quokkafjord" in run_ollm("recall", "quokkafjord", "--json").stdout
    assert "canaries" in _hits(isolated_home, needles)  # plain again, as asked


def test_a_wrong_passphrase_is_one_line_naming_the_key_and_changes_nothing(
    archive: Path, isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run_ollm("encrypt").returncode == 0
    key_id = json.loads((archive / ".ollm-key.json").read_bytes())["keyId"]
    files = {p: p.read_bytes() for p in isolated_home.rglob("*") if p.is_file()}
    monkeypatch.setenv("OLLM_PASSPHRASE", "not the passphrase")
    for args in (("sessions", "list"), ("recall", "nginx"), ("decrypt",), ("sessions", "show", NGINX)):
        result = run_ollm(*args)
        assert result.returncode == 1, args
        assert result.stderr.strip() == f"error: wrong passphrase for key {key_id}", args
    monkeypatch.delenv("OLLM_PASSPHRASE")
    result = run_ollm("sessions", "list")
    assert result.returncode == 1 and "OLLM_PASSPHRASE" in result.stderr and key_id in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert {p: p.read_bytes() for p in isolated_home.rglob("*") if p.is_file() and p in files} == files


@pytest.fixture
def small_archive(isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Three sessions, indexed: small enough to kill `ollm encrypt` at each of its writes."""
    monkeypatch.setenv("OLLM_PASSPHRASE", PASSPHRASE)
    forget_keys()
    sessions = isolated_home / "sessions"
    service = ChatRecordingService(sessions)
    for number, words in enumerate(("quokkafjord ferry times", "zebrinmothix sourdough", "plumbagorix vlan")):
        session_id = service.create_session(model="llama3.2", session_id=f"session-17000000{number}0000")
        service.record_message(session_id, Message.text("user", f"tell me about {words}"))
        service.record_message(session_id, Message.text("assistant", f"{words}: here is what I know"))
    service.close()
    assert run_ollm("index").returncode == 0
    return sessions


def _session_texts(home: Path) -> dict[str, list[str]]:
    """Every session's messages as the store reads them now (unlocking as a command would)."""
    from ollm_recall.archive.store import store_for_home

    forget_keys()
    store = store_for_home(home)
    listing = store.list()
    assert not listing.problems, listing.problems
    return {
        summary.session_id: [m.content for m in store.read(summary.session_id).messages]
        for summary in listing.sessions
    }


@pytest.mark.slow
@pytest.mark.parametrize("encrypt", [True, False], ids=["encrypt", "decrypt"])
def test_a_kill_at_any_write_of_encrypt_or_decrypt_loses_nothing(
    small_archive: Path, isolated_home: Path, tmp_path: Path, encrypt: bool
) -> None:
    from conftest import ollm_killed_at_write

    assert run_ollm("key", "add").returncode == 0  # here, so that the killed processes unlock cheaply
    if not encrypt:
        assert run_ollm("encrypt").returncode == 0
    command = "encrypt" if encrypt else "decrypt"
    expected = _session_texts(isolated_home)
    start = tmp_path / "start"
    shutil.copytree(isolated_home, start)
    finished_at = None
    for count in range(1, 40):
        for when in ("after",) if count % 3 else ("before", "after"):  # before: a temp file left too
            shutil.rmtree(isolated_home)
            shutil.copytree(start, isolated_home)
            killed = ollm_killed_at_write(count, when, command)
            if killed.returncode == 0:
                finished_at = count
                break
            assert killed.returncode == -9, killed.stderr
            assert _session_texts(isolated_home) == expected, (count, when)  # readable, nothing lost
            again = run_ollm(command)
            assert again.returncode == 0, (count, when, again.stderr)
            assert _session_texts(isolated_home) == expected
            forms = {p.name.split(".", 1)[1] for p in small_archive.glob("session-*")}
            assert forms == ({"json.enc"} if encrypt else {"json"}), (count, when, forms)
            assert "quokkafjord" in run_ollm("recall", "quokkafjord", "--json").stdout  # the index reads
        if finished_at:
            break
    assert finished_at is not None and finished_at > 8, finished_at  # killed at every write it makes


def test_two_devices_sharing_the_folder_read_each_other(
    small_archive: Path, isolated_home: Path, tmp_path: Path
) -> None:
    assert run_ollm("encrypt").returncode == 0
    other_home, other_sessions = tmp_path / "laptop", tmp_path / "laptop-sessions"
    other_home.mkdir(mode=0o700)
    (other_home / "config.toml").write_text(f'sessions_dir = "{other_sessions}"\n')
    shutil.copytree(small_archive, other_sessions)  # what a sync tool does: the key file travels too
    listed = json.loads(run_ollm("--home", str(other_home), "sessions", "list", "--json").stdout)
    assert len(listed) == 3
    assert "quokkafjord" in run_ollm("--home", str(other_home), "recall", "quokkafjord", "--json").stdout
    service = ChatRecordingService(other_sessions)
    made = service.create_session(model="llama3.2")
    service.record_message(made, Message.text("user", "written on the laptop: marzipanquell"))
    service.close()
    written = other_sessions / f"{made}.json.enc"
    assert written.exists() and b"marzipanquell" not in written.read_bytes()
    shutil.copy2(written, small_archive / written.name)  # and back
    assert "marzipanquell" in run_ollm("sessions", "show", made).stdout


def test_doctor_names_a_file_of_another_key(small_archive: Path, isolated_home: Path, tmp_path: Path) -> None:
    assert run_ollm("encrypt").returncode == 0
    stranger = tmp_path / "stranger"
    (stranger / "sessions").mkdir(parents=True)
    service = ChatRecordingService(stranger / "sessions")
    made = service.create_session(model="llama3.2", session_id="session-1700000990000")
    service.record_message(made, Message.text("user", "another archive's chat"))
    service.close()
    assert run_ollm("--home", str(stranger), "encrypt").returncode == 0
    stranger_key = json.loads((stranger / "sessions" / ".ollm-key.json").read_bytes())["keyId"]
    shutil.copy(stranger / "sessions" / f"{made}.json.enc", small_archive)
    forget_keys()
    (small_archive / "session-1700000980000.json").write_text('{"sessionId": "session-1700000980000"}')
    doctor = run_ollm("doctor")
    assert doctor.returncode == 1
    assert f"{made}.json.enc: encrypted with key {stranger_key}, not this archive's key" in doctor.stdout
    assert "session files are not encrypted (session-1700000980000.json...)" in doctor.stdout
    (small_archive / "session-1700000980000.json").unlink()
    shutil.copy(small_archive / ".ollm-key.json", tmp_path / "key-backup")
    (small_archive / ".ollm-key.json").write_text("{not json")
    broken = run_ollm("doctor")
    assert broken.returncode == 1 and ".ollm-key.json cannot be read" in broken.stdout, broken.stdout


def test_exports_say_they_are_plaintext_and_encrypt_to_an_age_recipient(
    archive: Path, isolated_home: Path, tmp_path: Path
) -> None:
    from pyrage import decrypt, x25519

    plain = run_ollm("export", NGINX, "--format", "json")
    assert plain.returncode == 0 and "warning" not in plain.stderr  # a plain archive: nothing to say
    assert run_ollm("encrypt").returncode == 0
    forget_keys()
    exported = run_ollm("export", NGINX, "--format", "json")
    assert json.loads(exported.stdout) == json.loads(plain.stdout)
    assert "the archive is encrypted, this export is not" in exported.stderr

    identity = x25519.Identity.generate()
    target = tmp_path / "backup.jsonl.age"
    sealed = run_ollm(
        "export",
        "--all",
        "--format",
        "jsonl",
        "--encrypt-to",
        str(identity.to_public()),
        "--out",
        str(target),
    )
    assert sealed.returncode == 0, sealed.stderr
    assert "this export is not" not in sealed.stderr and "encrypted with age" in sealed.stderr
    data = target.read_bytes()
    assert data.startswith(b"age-encryption.org/v1") and b"nginx" not in data and b"quokkafjord" not in data
    lines = decrypt(data, [identity]).decode().splitlines()
    assert len(lines) == 46 and any(json.loads(line)["sessionId"] == NGINX for line in lines)

    bad = run_ollm("export", NGINX, "--encrypt-to", "age1notakey", "--out", str(tmp_path / "x.age"))
    assert (
        bad.returncode != 0 and "is not an age recipient" in bad.stderr and len(bad.stderr.splitlines()) == 1
    )
    site = run_ollm("export", "--all", "--format", "html", "--encrypt-to", str(identity.to_public()))
    assert site.returncode != 0 and "--encrypt-to writes one file" in site.stderr
    assert not (tmp_path / "x.age").exists()


def test_another_home_imports_an_encrypted_folder(small_archive: Path, tmp_path: Path) -> None:
    assert run_ollm("encrypt").returncode == 0
    forget_keys()
    other = tmp_path / "other"
    imported = run_ollm("--home", str(other), "import", "ollm", str(small_archive), "--json")
    assert imported.returncode == 0, imported.stderr
    texts = [
        json.loads(p.read_bytes())["messages"][0]["parts"][0]["text"]
        for p in (other / "sessions").glob("*.json")
    ]
    assert sorted(texts) == sorted(
        f"tell me about {words}"
        for words in ("quokkafjord ferry times", "zebrinmothix sourdough", "plumbagorix vlan")
    )
