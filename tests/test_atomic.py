"""The one write path: durable (both fsyncs, in order), never through a symlink, never to a guessable name."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ollm_recall import _atomic
from ollm_recall._atomic import create_temp_file, temp_path_for, write_atomic


def test_the_data_and_then_the_rename_are_synced_before_the_write_returns(tmp_path, monkeypatch):
    target = tmp_path / "s.json"
    target.write_bytes(b"old")
    synced: list[tuple[str, bytes]] = []
    real_fsync = os.fsync

    def spy(fd: int) -> None:
        real_fsync(fd)
        synced.append((os.readlink(f"/proc/self/fd/{fd}"), target.read_bytes()))

    monkeypatch.setattr(os, "fsync", spy)
    write_atomic(target, b"new")
    assert len(synced) == 2
    (data_file, seen_first), (folder, seen_after) = synced
    assert Path(data_file).parent == tmp_path and Path(data_file).name.endswith(".tmp")
    assert seen_first == b"old", "the data was not synced before the rename"
    assert folder == str(tmp_path) and seen_after == b"new", "the folder was not synced after the rename"


def test_a_symlink_at_the_target_is_replaced_not_followed(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("keep")
    (tmp_path / "out.md").symlink_to(victim)
    write_atomic(tmp_path / "out.md", b"page")
    assert victim.read_text() == "keep"
    assert not (tmp_path / "out.md").is_symlink() and (tmp_path / "out.md").read_bytes() == b"page"


def test_temporary_names_are_fresh_and_a_taken_one_is_never_opened(tmp_path, monkeypatch):
    target = tmp_path / "s.json"
    assert len({temp_path_for(target) for _ in range(100)}) == 100
    victim = tmp_path / "victim"
    victim.write_text("keep")
    monkeypatch.setattr(_atomic.secrets, "token_hex", lambda _n: "guessed")
    temp_path_for(target).symlink_to(victim)  # an attacker who guessed every name
    with pytest.raises(FileExistsError):
        create_temp_file(target)
    with pytest.raises(FileExistsError):
        write_atomic(target, b"data")
    assert victim.read_text() == "keep" and not target.exists()


def test_a_failed_write_leaves_the_previous_file_and_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "s.json"
    target.write_bytes(b"old")

    def disk_full(_fd: int, _data: object) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", disk_full)
    with pytest.raises(OSError):
        write_atomic(target, b"new")
    monkeypatch.undo()
    assert target.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["s.json"]
