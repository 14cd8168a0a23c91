"""The README's commands are the ones CI runs and they work; every command is documented."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from conftest import SUBPROCESS_CEILING

from ollm_recall.cli.app import app
from ollm_recall.cli.reference import command_paths, help_text, reference

REPO = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```bash\n(.+?)\n```", text, flags=re.DOTALL)


def test_readme_opens_with_exactly_two_commands():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    head = text.split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.+?)\n```", head, flags=re.DOTALL)
    assert len(blocks) == 2
    assert all("\n" not in block for block in blocks)
    main_job, tests = blocks
    assert "pip install -c constraints.txt" in main_job and "pip install -c constraints.txt" in tests
    assert "--home examples" in main_job
    assert "pytest" in tests


def test_ci_runs_the_readme_test_command():
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert readme_commands()[1] in ci.splitlines()


def test_constraints_pin_the_cpu_torch():
    assert "torch==2.13.0" in (REPO / "constraints.txt").read_text().split()


@pytest.mark.slow
def test_the_main_job_runs_on_the_example_archive(tmp_path):
    """The README's first command, after its install step, on a copy of examples/."""
    shutil.copytree(REPO / "examples" / "sessions", tmp_path / "examples" / "sessions")
    (tmp_path / "indexes").mkdir()
    steps = [step.strip() for step in readme_commands()[0].split("&&")]
    ollm_steps = [step for step in steps if step.startswith(".venv/bin/ollm ")]
    assert ollm_steps
    outputs = []
    for step in ollm_steps:
        args = shlex.split(step)[1:]
        result = subprocess.run(
            [sys.executable, "-m", "ollm_recall", *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=SUBPROCESS_CEILING,
        )
        assert result.returncode == 0, (step, result.stderr)
        outputs.append(result.stdout)
    assert outputs[1].startswith("1. 2026-03-02  gemma3:4b  nginx returns 502 Bad Gateway")
    tour = (REPO / "README.md").read_text(encoding="utf-8").split("## A one-minute tour", 1)[1]
    shown = tour.split("```console\n", 1)[1].split("\n$ ", 2)[0].splitlines()[1:]
    printed = subprocess.run(
        [
            sys.executable,
            "-m",
            "ollm_recall",
            *shlex.split(tour.split("```console\n$ ollm ", 1)[1].split("\n")[0]),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_CEILING,
    ).stdout.splitlines()
    headings = [line for line in printed if line[:1].isdigit()]
    assert headings == [line for line in shown if line[:1].isdigit()]  # the tour shows what ships
    assert "score 0.00" not in "\n".join(printed)
    assert ". .venv/bin/activate" in tour.split("```console", 1)[0]  # the bare `ollm` works as written


def test_example_archive_is_rich_enough():
    from ollm_recall import SessionStore

    store = SessionStore(REPO / "examples" / "sessions")
    listing = store.list()
    assert not listing.problems
    assert len(listing.sessions) >= 40
    sessions = [store.read(s.session_id) for s in listing.sessions]
    assert len({s.model for s in sessions}) >= 5
    assert len({s.provider for s in sessions}) >= 2
    assert sum(1 for s in sessions if s.tool_calls) >= 5
    assert max(len(s.messages) for s in sessions) >= 20
    months = {s.start_time[:7] for s in sessions}
    assert len(months) >= 10


def test_example_archive_matches_its_source(tmp_path):
    """examples/sessions is exactly what examples/build_archive.py writes."""
    copy = tmp_path / "examples"
    shutil.copytree(
        REPO / "examples", copy, ignore=shutil.ignore_patterns("sessions", "index", "__pycache__")
    )
    subprocess.run(
        [sys.executable, str(copy / "build_archive.py")],
        check=True,
        capture_output=True,
        timeout=SUBPROCESS_CEILING,
    )
    built = {p.name: p.read_bytes() for p in (copy / "sessions").glob("*.json")}
    shipped = {p.name: p.read_bytes() for p in (REPO / "examples" / "sessions").glob("*.json")}
    assert built == shipped


def test_every_command_has_help_with_an_example():
    for path in command_paths(typer.main.get_command(app)):
        text = help_text(path)
        assert "Example:" in text, path


def test_cli_reference_is_current():
    assert (REPO / "docs" / "cli.md").read_text(encoding="utf-8") == reference(), (
        "run: python -m ollm_recall.cli.reference > docs/cli.md"
    )


def test_docs_name_every_command():
    usage = (REPO / "docs" / "usage.md").read_text(encoding="utf-8")
    for path in command_paths(typer.main.get_command(app)):
        if path:
            assert f"ollm {' '.join(path)}" in usage or path == ("sessions",), path
