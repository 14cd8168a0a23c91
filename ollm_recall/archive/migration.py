"""``ollm encrypt`` and ``ollm decrypt`` for the sessions folder: every session moved to the other form,
one at a time, resumable, and safe at any kill.

First the folder is settled: where a kill left two forms of a session, the one reads prefer now is
kept (``session_file.preferred_suffixes``). Then the key file's flag turns (new writes take the new
form at once) and each session, under its recording lock, is written in the new form, read back, and
only then has its old form removed. Killed anywhere, every session is held whole by one form or by two
that read the same; a re-run finishes.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .._atomic import fsync_directory
from ..errors import CorruptSession
from .compression import COMPRESSED_SUFFIX, DICTS_DIR
from .encryption import ENCRYPTED_SUFFIX, seal_session
from .form_change import session_held, write_new_form
from .keys import ArchiveKey, set_encrypt
from .session_file import preferred_suffixes, read_session_bytes, session_id_of, shadowed
from .shared_folder import merge_conflicts
from .store import SessionStore
from .unlocking import use_key


@dataclass
class MigrationReport:
    """What a migration did: sessions moved, those being recorded (left for a re-run), problems."""

    encrypt: bool
    moved: list[str] = field(default_factory=list)
    hashes: dict[str, str] = field(default_factory=dict)
    """The sha256 of each moved session's JSON: the index knows the file changed, not its content."""
    already: int = 0
    busy: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return not self.busy and not self.problems

    def summary(self) -> str:
        verb = "encrypted" if self.encrypt else "decrypted"
        text = f"{verb} {len(self.moved)} sessions ({self.already} were already)"
        if self.busy:
            text += f"; {len(self.busy)} being recorded, left for the next run"
        return text

    def to_json(self) -> dict[str, object]:
        return {
            "encrypted" if self.encrypt else "decrypted": self.moved,
            "already": self.already,
            "busy": self.busy,
            "problems": self.problems,
        }


def _sources(encrypt: bool) -> tuple[str, ...]:
    """The forms a migration moves from (a compressed file stays as it is in a decrypted archive)."""
    return (".json", COMPRESSED_SUFFIX) if encrypt else (ENCRYPTED_SUFFIX,)


def pending_sessions(store: SessionStore, encrypt: bool) -> tuple[list[str], int]:
    """Ids of the sessions with a file still in a form to move from, and how many have none."""
    names = {path.name for path in store.session_files()}
    ids = {session_id_of(name) or "" for name in names}
    pending = sorted(
        session_id
        for session_id in ids
        if any(f"{session_id}{suffix}" in names for suffix in _sources(encrypt))
    )
    return pending, len(ids) - len(pending)


def settle(store: SessionStore) -> None:
    """Remove the forms reads do not prefer where a kill left two (before the preference turns)."""
    files = store.session_files()
    names = {path.name for path in files}
    preference = preferred_suffixes(store.directory)
    for path in files:
        if shadowed(path.name, names, preference):
            with contextlib.suppress(OSError):
                path.unlink()


def migrate(
    store: SessionStore,
    key: ArchiveKey,
    *,
    encrypt: bool,
    progress: Callable[[int], None] | None = None,
    total: Callable[[int], None] | None = None,
) -> MigrationReport:
    """Move every session of ``store`` to the encrypted form (``encrypt``) or back to plain JSON."""
    use_key(store.directory, key)
    report = MigrationReport(encrypt)
    merged = merge_conflicts(store)  # a copy left as it is would stay in its old form
    report.problems += merged.problems
    settle(store)
    set_encrypt(store.directory, encrypt)
    pending, report.already = pending_sessions(store, encrypt)
    if total is not None:
        total(len(pending))
    for session_id in pending:
        _move(store, key, session_id, encrypt, report)
        if progress is not None:
            progress(1)
    fsync_directory(store.directory)
    if encrypt and not any(path.name.endswith(COMPRESSED_SUFFIX) for path in store.session_files()):
        shutil.rmtree(store.directory / DICTS_DIR, ignore_errors=True)  # made of the archive's words
    return report


def _move(
    store: SessionStore, key: ArchiveKey, session_id: str, encrypt: bool, report: MigrationReport
) -> None:
    with session_held(store, session_id, report.busy, report.problems) as held:
        if not held:
            return
        try:
            sources = [path for path in _source_paths(store, session_id, encrypt) if path.exists()]
            if not sources:
                return
            raw = read_session_bytes(sources[0])
            target = store.encrypted_path_for(session_id) if encrypt else store.path_for(session_id)
            data = seal_session(key, session_id, raw) if encrypt else raw
            if not write_new_form(sources[0], target, raw, data):
                report.problems.append(f"{sources[0].name}: changed while it was moved: left as it was")
                return
            for path in sources:
                path.unlink()
            report.moved.append(session_id)
            report.hashes[session_id] = hashlib.sha256(raw).hexdigest()
        except (CorruptSession, OSError) as exc:
            report.problems.append(f"{session_id}: not moved ({exc})")


def _source_paths(store: SessionStore, session_id: str, encrypt: bool) -> list[Path]:
    return [store.directory / f"{session_id}{suffix}" for suffix in _sources(encrypt)]
