"""``ollm encrypt`` and ``ollm decrypt``: the whole archive moved to encrypted files at rest, or back."""

from __future__ import annotations

import typer

from ..archive.store import store_for_home
from ..home import sessions_dir
from .key_command import new_passphrase, recovery_lines, unlock_for_command
from .output import Paths, fail, handle_errors, info, print_json, progress_bar, warn


def _migrate(paths: Paths, *, encrypt: bool, as_json: bool) -> None:
    from ..archive.keys import create_key, key_file_path
    from ..archive.migration import migrate, pending_sessions
    from ..index.sealing import migrate_derived

    sessions = sessions_dir(paths.home)
    recovery = None
    if encrypt and not key_file_path(sessions).exists():
        key, recovery = create_key(sessions, new_passphrase())
        info(f"made archive key {key.key_id}")
        if not as_json:
            recovery_lines(recovery)
    else:
        key = unlock_for_command(sessions, paths.home)
    store = store_for_home(paths.home, paths.index_dir, writing=True)
    pending, _already = pending_sessions(store, encrypt)
    label = "encrypting" if encrypt else "decrypting"
    with progress_bar(len(pending), label, at_least=20) as advance:
        report = migrate(store, key, encrypt=encrypt, progress=lambda _done: advance())
    derived = migrate_derived(paths.home, paths.index_dir, key, encrypt=encrypt, hashes=report.hashes)
    if as_json:
        shown = {"recoveryKey": recovery} if recovery else {}
        print_json(report.to_json() | {"keyId": key.key_id, "derivedFiles": derived} | shown)
        if recovery:
            warn("the recovery key (recoveryKey) is shown once: keep it safe")
    else:
        info(f"{report.summary()}; {derived} index and cache files {'sealed' if encrypt else 'opened'}")
    for problem in report.problems:
        warn(problem)
    if not encrypt:
        warn("the archive is plain JSON on disk again: anyone who can read the folder can read it")
    if not report.finished:
        raise fail(f"not finished: run `ollm {'encrypt' if encrypt else 'decrypt'}` again to finish")


@handle_errors
def encrypt(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print what was done as JSON."),
) -> None:
    """Encrypt the archive at rest: every session file, the search index and the caches.

    Makes the archive key first if there is none (a passphrase, asked twice or from OLLM_PASSPHRASE,
    and a recovery key printed once). New sessions are written encrypted at once. Safe to stop at any
    moment: nothing is lost, and a new run finishes. Commands then unlock once each: from the OS
    keyring (ollm key add --keyring), OLLM_PASSPHRASE, or a prompt.

    Example: ollm encrypt
    """
    _migrate(ctx.obj, encrypt=True, as_json=as_json)


@handle_errors
def decrypt(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print what was done as JSON."),
) -> None:
    """Decrypt the archive: sessions back to plain JSON files, the index and caches unsealed.

    The key file stays (ollm encrypt uses it again). Safe to stop at any moment; a new run finishes.

    Example: OLLM_PASSPHRASE=... ollm decrypt
    """
    _migrate(ctx.obj, encrypt=False, as_json=as_json)
