"""The ``ollm`` command: a thin typer layer over the library."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

import typer

from .. import __version__
from ..home import resolve_home
from . import (
    chat_command,
    doctor_command,
    encrypt_command,
    export_command,
    import_command,
    index_command,
    key_command,
    mcp_command,
    recall_command,
    redact_command,
    sessions,
    stats_command,
    sync_command,
)
from .output import Paths, fail, show_warnings

app = typer.Typer(
    name="ollm",
    help=(
        "Record every local-LLM chat, search the archive, and bring past sessions back.\n\n"
        "Example: ollm --home examples recall 'nginx 502 after the upgrade'"
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ollm-recall {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    home: Path | None = typer.Option(
        None,
        "--home",
        help="Archive folder (sessions in HOME/sessions). Default: $OLLM_HOME, else ~/.ollm.",
        show_default=False,
    ),
    index_dir: Path | None = typer.Option(
        None,
        "--index-dir",
        envvar="OLLM_INDEX_DIR",
        help="Where the search index lives. Default: HOME/index.",
        show_default=False,
    ),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Record every local-LLM chat, search the archive, and bring past sessions back."""
    from ..archive.unlocking import encrypting, forget_keys, set_unlocker, unlock_soon
    from ..errors import OllmRecallError
    from ..home import sessions_dir

    show_warnings()
    ctx.obj = Paths(home=resolve_home(home), index_dir=index_dir)
    forget_keys()  # once per command: a key unlocked by an earlier command in this process is not kept
    set_unlocker(lambda directory: key_command.unlock_for_command(directory, ctx.obj.home))
    with contextlib.suppress(OllmRecallError):  # a bad config or key file: said by the command it stops
        sessions = sessions_dir(ctx.obj.home)
        if encrypting(sessions) and key_command.unlocks_unattended(sessions, ctx.obj.home):
            unlock_soon(sessions)  # argon2 takes 0.16 s: beside the imports, not after them


app.add_typer(sessions.app, name="sessions")
app.command("export")(export_command.export)
app.command("import")(import_command.import_history)
app.add_typer(index_command.app, name="index")
app.command("recall")(recall_command.recall)
app.command("chat")(chat_command.chat)
app.command("config")(chat_command.config)
app.command("doctor")(doctor_command.doctor)
app.command("redact")(redact_command.redact)
app.command("mcp")(mcp_command.mcp)
app.command("sync")(sync_command.sync)
app.add_typer(key_command.app, name="key")
app.command("stats")(stats_command.stats)
app.command("encrypt")(encrypt_command.encrypt)
app.command("decrypt")(encrypt_command.decrypt)


def main() -> None:
    """Console entry point: run the app; an unexpected failure is one line unless OLLM_DEBUG is set."""
    os.umask(0o077)  # every file the CLI creates is the user's alone: whoosh's own files too (they were 0644)
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(fail("interrupted", 130).exit_code)
    except Exception as exc:
        if os.environ.get("OLLM_DEBUG"):
            raise
        exit_ = fail(f"internal error: {type(exc).__name__}: {exc} (set OLLM_DEBUG=1 for details)")
        sys.exit(exit_.exit_code)
