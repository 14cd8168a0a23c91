"""``ollm doctor``: what is wrong with the archive and its index, and ``--fix`` for what is derived."""

from __future__ import annotations

import sys

import typer

from .index_upkeep import run_sync
from .output import handle_errors, info, print_json, warn


@handle_errors
def doctor(
    ctx: typer.Context,
    fix: bool = typer.Option(False, "--fix", help="Repair what is derived: the index, temp files, modes."),
    as_json: bool = typer.Option(False, "--json", help="Print the findings as JSON on stdout."),
) -> None:
    """Check the archive and its index; one line a problem, exit 1 if any is left.

    Session files are never changed, moved or deleted, with --fix too (only their mode may be
    tightened to 0600): an unreadable one is reported for you to look at.

    Example: ollm doctor --fix
    """
    from ..doctor import examine, repair

    paths = ctx.obj
    result = examine(paths.home, paths.index_dir)
    if fix:
        repair(
            result,
            paths.home,
            paths.index_dir,
            sync=lambda rebuild: run_sync(paths, rebuild=rebuild, quiet=as_json),
        )
    if as_json:
        print_json({"ok": result.ok, "findings": [finding.to_json() for finding in result.findings]})
    elif result.nothing_recorded:
        info(f"nothing recorded yet (no sessions folder in {paths.home}): no problems")
    else:
        lines = result.lines()
        for message, fixable, fixed in lines:
            mark = "fixed: " if fixed else ""
            hint = "" if fixed or not fixable or fix else " (ollm doctor --fix)"
            sys.stdout.write(f"{mark}{message}{hint}\n")
        for reason in result.not_fixed:
            warn(f"could not fix: {reason}")
        left = sum(1 for _message, _fixable, fixed in lines if not fixed)  # as many as lines shown
        info("no problems found" if not result.findings else f"{left} problem{'s' if left != 1 else ''} left")
    if not result.ok:
        raise typer.Exit(1)
