"""The CLI reference in ``docs/cli.md``, generated from the commands' own ``--help``.

``python -m ollm_recall.cli.reference > docs/cli.md`` rewrites it; a test checks it is current.
"""

from __future__ import annotations

from typing import Any

import typer
from typer.testing import CliRunner

from .app import app

WIDTH = "100"


def command_paths(command: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command and group below ``command``, depth first, in the order ``--help`` lists them."""
    found = [path]
    if hasattr(command, "list_commands"):
        context = command.context_class(command)
        for name in command.list_commands(context):
            sub = command.get_command(context, name)
            if sub is not None and not getattr(sub, "hidden", False):
                found += command_paths(sub, (*path, name))
    return found


def help_text(path: tuple[str, ...]) -> str:
    """What ``ollm PATH --help`` prints, at a fixed width so the reference is reproducible."""
    result = CliRunner().invoke(
        app, [*path, "--help"], env={"COLUMNS": WIDTH, "OLLM_HOME": "~/.ollm"}, prog_name="ollm"
    )
    if result.exit_code != 0:
        raise RuntimeError(f"ollm {' '.join(path)} --help failed: {result.output}")
    return result.stdout


def reference() -> str:
    lines = [
        "# CLI reference",
        "",
        "Generated from `--help` by `python -m ollm_recall.cli.reference > docs/cli.md`.",
        "",
    ]
    for path in command_paths(typer.main.get_command(app)):
        lines += [f"## `{' '.join(('ollm', *path))}`", "", "```text", help_text(path).rstrip(), "```", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    print(reference(), end="")
