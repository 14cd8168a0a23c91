"""Mutation check of the promises the suite must keep: each mutant below is a change that once survived
the tests (or undoes a security fix). The script applies each one to a copy of the package, runs the
tests that should catch it, and prints whether they did. Exit code 1 if any mutant survives.

    python benchmarks/mutants.py            # every mutant (a few minutes)
    python benchmarks/mutants.py --list     # what each mutant changes
    python benchmarks/mutants.py fsync mcp  # only the mutants whose names contain these words
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Mutant:
    """A change to one file of the package (``old`` must occur exactly once), and the tests that
    must fail with it."""

    name: str
    file: str
    old: str
    new: str
    tests: tuple[str, ...]


MUTANTS = [
    Mutant(
        "fsync: neither the data nor the rename synced",
        "_atomic.py",
        "            os.fsync(fd)\n        finally:\n            os.close(fd)\n"
        "        os.replace(temp, path)\n"
        "    except BaseException:\n        with contextlib.suppress(OSError):\n            os.unlink(temp)\n"
        "        raise\n    fsync_directory(path.parent)\n",
        "        finally:\n            os.close(fd)\n        os.replace(temp, path)\n"
        "    except BaseException:\n        with contextlib.suppress(OSError):\n            os.unlink(temp)\n"
        "        raise\n",
        ("tests/test_atomic.py",),
    ),
    Mutant(
        "relevance floor disabled",
        "search/searcher.py",
        "                    relevance.get(sid, 0.0) >= RELEVANCE_FLOOR\n",
        "                    relevance.get(sid, 0.0) >= -1.0\n",
        ("tests/test_html_export.py::test_export_what_a_recall_query_finds",),
    ),
    Mutant(
        "readers do not retry when they meet a rebuild's swap half done",
        "search/searcher.py",
        "        for _attempt in range(2):\n            try:\n"
        "                self._load_at(self._manifest_mtime())\n                return\n"
        "            except (IndexProblem, OSError):\n                time.sleep(0.05)\n",
        "",
        ("tests/test_search.py::test_a_search_that_meets_a_rebuild_swap_half_done_answers_once_it_is_done",),
    ),
    Mutant(
        "sessions delete also deletes broken files",
        "cli/sessions.py",
        '    purge_from_index(ctx.obj, store)\n    info(f"deleted {len(sessions)}',
        "    for problem in store.list().problems:\n"
        "        (store.directory / str(problem).split(':')[0]).unlink()\n"
        '    purge_from_index(ctx.obj, store)\n    info(f"deleted {len(sessions)}',
        ("tests/test_bad_input.py::test_write_commands_leave_a_broken_file_byte_for_byte",),
    ),
    Mutant(
        "a live writer's temporary files deleted",
        "archive/store.py",
        "            if pid == os.getpid() or process_alive(pid) and age < STALE_TEMP_SECONDS:\n",
        "            if pid == os.getpid():\n",
        ("tests/test_doctor.py::test_a_live_writer_s_temporary_file_is_never_removed",),
    ),
    Mutant(
        "MCP get_session writes the session back",
        "agent/tools.py",
        "        session = self.store.read(self.store.resolve(session_id))  # validated, one-line errors\n",
        "        session = self.store.read(self.store.resolve(session_id))  # validated, one-line errors\n"
        "        self.store.write(session)\n",
        ("tests/test_mcp.py::test_an_agent_lists_the_tools_and_calls_each_one",),
    ),
    Mutant(
        "search hits leave the archive unredacted (security 1)",
        "search/results.py",
        '    highlights: their places moved)."""\n    if redactor is None:\n',
        '    highlights: their places moved)."""\n    if True:\n',
        ("tests/test_redact_archive.py", "tests/test_mcp.py"),
    ),
    Mutant(
        "stored text drives the terminal (security 2)",
        "cli/output.py",
        "    return _HIDDEN.sub(lambda found: repr(found.group())[1:-1], text)\n",
        "    return text\n",
        ("tests/test_cli.py",),
    ),
    Mutant(
        "temporary files opened through a planted symlink (security 4)",
        "_atomic.py",
        '    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(6)}{TEMP_SUFFIX}")\n',
        '    return path.with_name(f".{path.name}.{os.getpid()}{TEMP_SUFFIX}")\n',
        (
            "tests/test_cli.py::test_export_never_writes_through_a_symlink_planted_in_its_folder",
            "tests/test_atomic.py",
        ),
    ),
    Mutant(
        "unknown fields not scanned for secrets (security 5)",
        "archive/redaction.py",
        "        extra, in_extra = self.redact_value(session.extra)\n",
        "        extra, in_extra = session.extra, ()\n",
        ("tests/test_redaction.py::test_every_string_of_a_session_is_scanned_unknown_fields_included",),
    ),
    Mutant(
        "a FIFO named like a session is opened (security 8)",
        "archive/session_file.py",
        "        if kind != stat.S_IFREG:\n",
        "        if kind == stat.S_IFDIR:\n",
        ("tests/test_bad_input.py::test_a_fifo_or_a_huge_file_is_skipped_with_one_line_never_read",),
    ),
]


def mutated_checkout(mutant: Mutant, into: Path) -> Path:
    """A copy of what the tests need (package, tests, examples, the benchmarks' shared cases) with
    the mutant applied to the package; the tests run from it, so they import the mutated code."""
    skip = shutil.ignore_patterns("__pycache__", "out", ".pytest_cache")
    for name in ("ollm_recall", "tests", "examples", "benchmarks"):
        shutil.copytree(REPO / name, into / name, ignore=skip)
    shutil.copy(REPO / "pyproject.toml", into / "pyproject.toml")
    target = into / "ollm_recall" / mutant.file
    text = target.read_text(encoding="utf-8")
    if text.count(mutant.old) != 1:
        raise SystemExit(
            f"{mutant.name}: the code it changes is no longer in {mutant.file}: update the mutant"
        )
    target.write_text(text.replace(mutant.old, mutant.new), encoding="utf-8")
    return into


def run(mutant: Mutant, ceiling: float) -> tuple[bool, float, str]:
    """Whether the tests caught the mutant (they failed), how long they took, and pytest's last line."""
    with tempfile.TemporaryDirectory(prefix="mutant-") as scratch:
        checkout = mutated_checkout(mutant, Path(scratch))
        env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
        started = time.monotonic()
        try:
            result = subprocess.run(  # python -m puts the checkout first on sys.path
                [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *mutant.tests],
                cwd=checkout,
                env=env,
                capture_output=True,
                text=True,
                timeout=ceiling,
            )
        except subprocess.TimeoutExpired:
            return (
                True,
                time.monotonic() - started,
                f"timed out after {ceiling:.0f} s (a hang counts as caught)",
            )
        lines = [line for line in result.stdout.splitlines() if line.strip()]
        return (
            result.returncode != 0,
            time.monotonic() - started,
            lines[-1] if lines else result.stderr[-200:],
        )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("only", nargs="*", help="words of the mutants' names to run (all by default)")
    parser.add_argument("--list", action="store_true", help="list the mutants and the tests of each")
    parser.add_argument(
        "--ceiling", type=float, default=900.0, help="seconds before a test run counts as hung"
    )
    args = parser.parse_args()
    chosen = [m for m in MUTANTS if not args.only or any(word in m.name for word in args.only)]
    if args.list:
        for mutant in chosen:
            print(f"{mutant.name}\n  in ollm_recall/{mutant.file}\n  caught by {', '.join(mutant.tests)}")
        return 0
    print(f"{'mutant':66} {'result':9} {'seconds':>7}  tests")
    survived = 0
    for mutant in chosen:
        caught, seconds, last = run(mutant, args.ceiling)
        survived += not caught
        print(f"{mutant.name:66} {'caught' if caught else 'SURVIVED':9} {seconds:7.1f}  {last}", flush=True)
    print(f"{len(chosen) - survived} of {len(chosen)} mutants caught")
    return 1 if survived else 0


if __name__ == "__main__":
    raise SystemExit(main())
