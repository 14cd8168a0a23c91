from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ollm_recall.cli.app import app

REPO = Path(__file__).resolve().parent.parent
SUBPROCESS_CEILING = 600
"""Seconds a test's subprocess may take before it counts as hung: a ceiling, never a speed test."""


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache of the model's ONNX graphs for the whole run, as a user's machine has one."""
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model_cache: Path) -> Path:
    """No test touches a real home: OLLM_HOME points into the test's own folder."""
    home = tmp_path / "home"
    monkeypatch.setenv("OLLM_HOME", str(home))
    monkeypatch.setenv("OLLM_MODEL_CACHE", str(model_cache))
    monkeypatch.setenv("OLLM_BACKGROUND_INDEX", "0")  # tests of the background indexer turn it on
    return home


@pytest.fixture(scope="module")
def example_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example archive, indexed once for the module (read-only for the tests using it)."""
    import shutil

    from ollm_recall.index.indexer import Index

    home = tmp_path_factory.mktemp("examples")
    shutil.copytree(REPO / "examples" / "sessions", home / "sessions")
    report = Index(home).sync()
    assert report.added == 45 and not report.broken
    return home


@pytest.fixture
def sessions_path(isolated_home: Path) -> Path:
    return isolated_home / "sessions"


def session_document(session_id: str = "session-1", **overrides: object) -> dict:
    """A valid session document as another tool might have written it."""
    document = {
        "sessionId": session_id,
        "startTime": "2026-01-27T12:00:00.000Z",
        "lastActivity": "2026-01-27T12:05:30.000Z",
        "model": "gemma3:4b",
        "provider": "ollama",
        "messages": [
            {
                "role": "user",
                "parts": [{"type": "text", "text": "How do I rotate nginx logs?"}],
                "timestamp": "2026-01-27T12:00:00.000Z",
            },
            {
                "role": "assistant",
                "parts": [{"type": "text", "text": "Use logrotate with daily."}],
                "timestamp": "2026-01-27T12:00:05.000Z",
            },
        ],
        "toolCalls": [],
        "metadata": {"tokenCount": 1500, "compressionCount": 0, "modeHistory": []},
    }
    document.update(overrides)
    return document


def write_session_file(directory: Path, document: dict, name: str | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / (name or f"{document['sessionId']}.json")
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


@pytest.fixture
def cli():
    """Invoke ``ollm`` in-process; stdout and stderr kept apart."""
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(app, list(args), input=input, catch_exceptions=False)

    return invoke


def run_ollm(*args: str, env: dict | None = None, input: str | None = None, cwd: Path | None = None):
    """Run the real ``ollm`` console entry in a new process."""
    return subprocess.run(
        [sys.executable, "-c", "from ollm_recall.cli.app import main; main()", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        input=input,
        cwd=cwd,
        timeout=SUBPROCESS_CEILING,
    )


def _load_model_server_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("model_server", REPO / "examples" / "model_server.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


model_server_module = _load_model_server_module()


@pytest.fixture
def model_server():
    """Start the stand-in model server (both APIs) on 127.0.0.1; every server started is stopped."""
    started = []

    def start(**options: object):
        server = model_server_module.ModelServer(**options).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


KILLED_AT_A_WRITE = (
    "import os, signal, sys\n"
    "count, when = int(sys.argv[1]), sys.argv[2]\n"
    "real_replace, seen = os.replace, [0]\n"
    "def replace(source, target):\n"
    "    seen[0] += 1\n"
    "    if seen[0] == count and when == 'before':\n"
    "        os.kill(os.getpid(), signal.SIGKILL)\n"
    "    real_replace(source, target)\n"
    "    if seen[0] == count and when == 'after':\n"
    "        os.kill(os.getpid(), signal.SIGKILL)\n"
    "os.replace = replace\n"
    "sys.argv = ['ollm', *sys.argv[3:]]\n"
    "from ollm_recall.cli.app import main\n"
    "main()\n"
)
"""``ollm ARGS`` killed by SIGKILL at its COUNT-th atomic rename, just BEFORE or AFTER it: a
temporary file written and not yet in place, or a file in place and the next not begun."""


def ollm_killed_at_write(count: int, when: str, *args: str) -> subprocess.CompletedProcess:
    """``ollm ARGS`` in a new process that SIGKILLs itself at its ``count``-th rename, ``when`` is
    ``before`` or ``after`` it."""
    return subprocess.run(
        [sys.executable, "-c", KILLED_AT_A_WRITE, str(count), when, *args],
        capture_output=True,
        env=os.environ.copy(),
        timeout=SUBPROCESS_CEILING,
    )
