"""``ollm sync REMOTE``: the sessions folder and an rclone remote brought to the same sessions."""

from __future__ import annotations

import sys

import typer

from ..archive.store import store_for_home
from ..home import device_tag
from .index_upkeep import purge_from_index
from .output import Paths, handle_errors, info, print_json


@handle_errors
def sync(
    ctx: typer.Context,
    remote: str = typer.Argument(
        ..., metavar="REMOTE", help="An rclone remote and path (mys3:bucket/ollm, gdrive:ollm) or a folder."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Only say what would be copied, merged and deleted."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print what was (or would be) done as JSON."),
) -> None:
    """Sync the sessions with a remote through rclone, for devices without a sync client.

    What is new on either side is copied to the other; a session changed on both sides is merged (no
    message of either is lost); deletions travel as tombstones, and nothing is deleted on the remote
    without one. Remotes are rclone's: set one up with `rclone config` (S3, Google Drive, WebDAV,
    SFTP...), or give a folder. The index catches up with what arrived at the next search.

    Example: ollm sync mys3:backups/ollm --dry-run
    """
    from ..transfer.remote_sync import sync_with_remote

    paths: Paths = ctx.obj
    store = store_for_home(paths.home, paths.index_dir, writing=True)
    progress = sys.stderr.isatty() and not as_json
    report = sync_with_remote(
        store, paths.home, remote, device_tag(paths.home), dry_run=dry_run, progress=progress
    )
    if report.removed_here and not dry_run:  # what was deleted elsewhere leaves this index at once
        purge_from_index(paths, store)
    if as_json:
        print_json(report.to_json())
    else:
        info(report.summary())
