"""``ollm key``: the archive key encryption at rest uses: made, verified, re-wrapped, recovered; and how
a command unlocks it (once, when it first needs it)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ..archive.unlocking import PASSPHRASE_ENV
from ..errors import KeyProblem, UsageError
from ..home import sessions_dir
from .output import Paths, handle_errors, info, print_json, stdout, warn

if TYPE_CHECKING:
    from ..archive.keys import ArchiveKey

app = typer.Typer(
    help="Make and look after the archive key: passphrase, recovery key, keyring.\n\nExample: ollm key add",
    no_args_is_help=True,
    rich_markup_mode=None,
)

NEW_PASSPHRASE_ENV = "OLLM_NEW_PASSPHRASE"
RECOVERY_ENV = "OLLM_RECOVERY_KEY"


def new_passphrase() -> str:
    """A new passphrase: ``OLLM_PASSPHRASE`` for scripts, else asked twice on a terminal."""
    return _secret(PASSPHRASE_ENV, "New passphrase", confirm=True)


def recovery_lines(recovery: str) -> None:
    """Print a recovery key once, with what it is for."""
    stdout.print(recovery, markup=False, highlight=False)
    warn("this recovery key is shown once: keep it safe; with it, a forgotten passphrase can be reset")


def _secret(variable: str, prompt: str, *, confirm: bool = False) -> str:
    """A passphrase or recovery key: from the variable (for scripts), else asked for on a terminal."""
    value = os.environ.get(variable)
    if value:
        return value
    if not sys.stdin.isatty():
        raise UsageError(f"{prompt.lower()} is needed: run on a terminal, or set {variable}")
    answer: str = typer.prompt(prompt, hide_input=True, confirmation_prompt=confirm, err=True)
    if not answer:
        raise UsageError("an empty passphrase protects nothing")
    return answer


KEYRING_MARK = "key-in-keyring"
"""In the home: the ids of the keys this device keeps in its OS keyring (asking a keyring that has
none costs a tenth of a second at every command)."""


def _kept_in_keyring(home: Path, key_id: str) -> bool:
    try:
        return key_id in (home / KEYRING_MARK).read_text(encoding="ascii").split()
    except (OSError, UnicodeDecodeError):
        return False


def unlock_for_command(sessions: Path, home: Path) -> ArchiveKey:
    """How a command unlocks the archive when it first needs the key: the OS keyring if this device
    keeps it there, else ``OLLM_PASSPHRASE``, else a prompt on a terminal."""
    from ..archive.keys import keyring_unlock, read_key_file, unlock_with_passphrase

    if _kept_in_keyring(home, read_key_file(sessions)["keyId"]):
        key = keyring_unlock(sessions)
        if key is not None:
            return key
    if not os.environ.get(PASSPHRASE_ENV) and not sys.stdin.isatty():
        key_id = read_key_file(sessions)["keyId"]
        raise KeyProblem(
            f"the archive is encrypted (key {key_id}): run on a terminal, or set {PASSPHRASE_ENV}"
        )
    return unlock_with_passphrase(sessions, _secret(PASSPHRASE_ENV, "Passphrase"))


def _unlock(paths: Paths) -> ArchiveKey:
    return unlock_for_command(sessions_dir(paths.home), paths.home)


def unlocks_unattended(sessions: Path, home: Path) -> bool:
    """Whether the key can be unlocked without asking (keyring, ``OLLM_PASSPHRASE``): then a command
    may start unlocking at once, beside its other start-up work."""
    from ..archive.keys import read_key_file

    return bool(os.environ.get(PASSPHRASE_ENV)) or _kept_in_keyring(home, read_key_file(sessions)["keyId"])


@app.command("add")
@handle_errors
def add(
    ctx: typer.Context,
    use_keyring: bool = typer.Option(
        False, "--keyring", help="Also keep the key in this device's OS keyring."
    ),
) -> None:
    """Make the archive key, wrapped by a passphrase and by a recovery key printed once.

    The key file (.ollm-key.json, in the sessions folder) holds the key only wrapped: it is safe to
    sync, and a second device sharing the folder unlocks with the same passphrase.

    Example: ollm key add --keyring
    """
    from ..archive.keys import create_key

    sessions = sessions_dir(ctx.obj.home)
    passphrase = new_passphrase()
    key, recovery = create_key(sessions, passphrase)
    info(f"made archive key {key.key_id}")
    if use_keyring:
        _keep_in_keyring(key, ctx.obj.home)
    recovery_lines(recovery)


def _keep_in_keyring(key: ArchiveKey, home: Path) -> None:
    from .._atomic import make_private_dir, write_atomic
    from ..archive.keys import keyring_store

    problem = keyring_store(key)
    if problem is None and not _kept_in_keyring(home, key.key_id):
        make_private_dir(home)
        known = (home / KEYRING_MARK).read_text(encoding="ascii") if (home / KEYRING_MARK).exists() else ""
        write_atomic(home / KEYRING_MARK, f"{known}{key.key_id}\n".encode("ascii"))
    info(
        "kept in this device's OS keyring"
        if problem is None
        else f"no OS keyring here ({problem}): the passphrase unlocks"
    )


@app.command("verify")
@handle_errors
def verify(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    use_keyring: bool = typer.Option(
        False, "--keyring", help="Then keep the key in this device's OS keyring (a second device joining)."
    ),
) -> None:
    """Check that the key file unlocks (OS keyring, else passphrase) and holds the right key.

    Example: OLLM_PASSPHRASE=... ollm key verify --keyring
    """
    key = _unlock(ctx.obj)
    if use_keyring:
        _keep_in_keyring(key, ctx.obj.home)
    if as_json:
        print_json({"keyId": key.key_id, "verified": True})
    else:
        info(f"key {key.key_id} verifies")


@app.command("rekey")
@handle_errors
def rekey(ctx: typer.Context) -> None:
    """Change the passphrase: the key is re-wrapped, the archive is not rewritten.

    Example: ollm key rekey
    """
    from ..archive.keys import set_passphrase

    key = _unlock(ctx.obj)
    set_passphrase(
        sessions_dir(ctx.obj.home), key, _secret(NEW_PASSPHRASE_ENV, "New passphrase", confirm=True)
    )
    info(f"key {key.key_id}: new passphrase set")


@app.command("recovery")
@handle_errors
def recovery(
    ctx: typer.Context,
    new_key: bool = typer.Option(False, "--new", help="Make a new recovery key (the old one stops working)."),
) -> None:
    """Set a new passphrase with the recovery key (a forgotten passphrase), or make a new recovery key.

    Example: ollm key recovery
    """
    from ..archive.keys import new_recovery, set_passphrase, unlock_with_recovery

    sessions = sessions_dir(ctx.obj.home)
    if new_key:
        key = _unlock(ctx.obj)
        recovery_lines(new_recovery(sessions, key))
        return
    key = unlock_with_recovery(sessions, _secret(RECOVERY_ENV, "Recovery key"))
    set_passphrase(sessions, key, _secret(NEW_PASSPHRASE_ENV, "New passphrase", confirm=True))
    info(f"key {key.key_id}: new passphrase set with the recovery key")
