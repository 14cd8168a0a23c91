"""A read-only archive (a read-only mount, or folders not ours to write) is read as usual; anything
that must write says so in one line, and nothing is written."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import REPO, SUBPROCESS_CEILING, run_ollm

from ollm_recall.agent.tools import ArchiveTools
from ollm_recall.index.indexer import Index


def _bind_read_only(source: Path, target: Path) -> bool:
    """Mount ``source`` read-only at ``target`` (root only); False where mounts are not allowed."""
    target.mkdir()
    for command in (
        ["mount", "--bind", str(source), str(target)],
        ["mount", "-o", "remount,bind,ro", str(target)],
    ):
        done = subprocess.run(command, capture_output=True, timeout=SUBPROCESS_CEILING)
        if done.returncode != 0:
            subprocess.run(["umount", str(target)], capture_output=True, timeout=SUBPROCESS_CEILING)
            return False
    return True


@pytest.fixture(scope="module")
def read_only_home(tmp_path_factory: pytest.TempPathFactory):
    """The example archive, indexed, then made read-only: a read-only bind mount when run as root
    (who may write anywhere else), folders without write permission otherwise."""
    base = tmp_path_factory.mktemp("read-only")
    source = base / "archive"
    shutil.copytree(REPO / "examples" / "sessions", source / "sessions")
    Index(source).sync()
    if os.geteuid() == 0:
        home = base / "mounted"
        if not _bind_read_only(source, home):
            pytest.skip("running as root where bind mounts are not allowed: nothing is read-only to root")
        yield home
        subprocess.run(["umount", str(home)], capture_output=True, timeout=SUBPROCESS_CEILING)
    else:
        folders = [path for path in [source, *source.rglob("*")] if path.is_dir()]
        for folder in folders:
            folder.chmod(0o500)
        yield source
        for folder in folders:
            folder.chmod(0o700)


def snapshot(home: Path) -> dict[str, tuple[int, int]]:
    return {str(path): (path.stat().st_size, path.stat().st_mtime_ns) for path in sorted(home.rglob("*"))}


def ollm(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_ollm("--home", str(home), *args, env={"OLLM_BACKGROUND_INDEX": "1"})


@pytest.mark.slow
def test_every_read_works_and_writes_nothing(read_only_home: Path) -> None:
    before = snapshot(read_only_home)
    for args in (
        ["recall", "nginx 502 php"],  # with its sync, which cannot write and is skipped
        ["recall", "nginx 502 php", "--no-sync"],
        ["export", "--query", "nginx 502 php", "--limit", "1"],
    ):
        done = ollm(read_only_home, *args)
        assert done.returncode == 0, (args, done.stderr)
        assert "nginx returns 502" in done.stdout.lower() or "502 bad gateway" in done.stdout.lower(), args
    for args in (
        ["sessions", "list", "--limit", "3"],
        ["sessions", "show", "session-1772486820000"],
        ["export", "session-1772486820000"],
        ["index", "status"],
    ):
        done = ollm(read_only_home, *args)
        assert done.returncode == 0 and done.stdout, (args, done.stderr)
    for done in (ollm(read_only_home, "doctor"), ollm(read_only_home, "doctor", "--fix")):
        assert "Traceback" not in done.stderr and "internal error" not in done.stderr
    assert snapshot(read_only_home) == before


@pytest.mark.slow
def test_what_must_write_says_in_one_line_that_the_archive_is_read_only(
    read_only_home: Path, model_server
) -> None:
    server = model_server()
    for args in (
        ["index"],
        ["chat", "--base-url", server.url, "--model", "demo", "-p", "how do I fix the nginx 502 again"],
    ):
        done = ollm(read_only_home, *args)
        assert done.returncode == 1, args
        [line] = done.stderr.strip().splitlines()
        assert line.startswith("error: the archive folder") and "read-only" in line, line
    assert not server.requests  # nothing was sent that could not be recorded


@pytest.mark.slow
def test_the_mcp_recall_tool_answers_from_a_read_only_archive(read_only_home: Path) -> None:
    tools = ArchiveTools(read_only_home, background=True)
    found = tools.recall("nginx 502 php", limit=2)
    tools.close()
    assert found["hits"] and found["hits"][0]["sessionId"] == "session-1772486820000"
