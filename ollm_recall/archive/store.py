"""The sessions directory: atomic durable writes, strict reads, fast listing, deletion, locks.

Session files are the source of truth; nothing here ever modifies, moves or deletes a file it cannot
parse. Only this module builds session paths, and only from validated ids.
"""

from __future__ import annotations

import builtins
import contextlib
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .._atomic import TEMP_SUFFIX, make_private_dir, write_atomic
from .._jsonio import dumps_compact
from .._locking import SessionLock, process_alive
from ..errors import ArchiveError, CorruptSession, SessionNotFound, SessionWriteError, UsageError
from ..home import device_tag, listing_cache_path, locks_dir, sessions_dir
from .compression import COMPRESSED_SUFFIX
from .conflicts import conflict_bases, merge_sessions
from .encryption import ENCRYPTED_SUFFIX, seal_session
from .listing import SessionSummary, check_name_matches, read_summary
from .listing_cache import SummaryCache, file_signature
from .redaction import DEFAULT_REDACTOR, Finding, Redactor, redactor_for_home
from .session import Session, validate_session_id
from .session_file import (
    preferred_suffixes,
    read_session_bytes,
    session_id_of,
    session_path,
    shadowed,
)
from .tombstones import deleted_sessions, record_deletion
from .unlocking import key_if_encrypting

LOCKS_DIR = ".locks"
STALE_TEMP_SECONDS = 600
_TEMP_NAME = re.compile(r"\.(?P<name>.+\.json)\.(?P<pid>\d+)(?:\.[0-9a-f]+)?" + re.escape(TEMP_SUFFIX))


@dataclass
class Listing:
    """Sessions newest activity first, and the files that could not be read (with their reasons).

    ``conflicts``: sync tools' conflict copies waiting to be merged, by the session they copy; that
    session's summary already counts what they hold."""

    sessions: list[SessionSummary] = field(default_factory=list)
    problems: list[CorruptSession] = field(default_factory=list)
    conflicts: dict[str, list[Path]] = field(default_factory=dict)


def may_be_conflict_copy(name: str) -> bool:
    """A cheap test of a file name before ``conflict_bases``: every sync tool's copy has a space, an
    upper-case letter or the word conflict in its name, which this tool's own ids never have."""
    return " " in name or "conflict" in name or name != name.lower()


class SessionStore:
    """One sessions directory (``<home>/sessions``): files 0600, directory 0700.

    ``locks_dir`` is where recording locks go: a home passes its own (``home.locks_dir``) so a
    sessions folder shared by a sync tool holds session files only; without one, ``.locks`` inside.
    ``device`` gives this device's tag: a deletion is then recorded as a tombstone first, so that it
    stays done on devices sharing the folder.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        summary_cache: str | os.PathLike[str] | None = None,
        redactor: Redactor | None = DEFAULT_REDACTOR,
        locks_dir: str | os.PathLike[str] | None = None,
        device: Callable[[], str] | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.summary_cache = Path(summary_cache) if summary_cache is not None else None
        self.redactor = redactor
        self.locks_dir = Path(locks_dir) if locks_dir is not None else self.directory / LOCKS_DIR
        self.device = device

    def ensure_directory(self) -> None:
        """Create the directory (0700) if it is missing; refuse a path that is not a directory.
        Safe when other processes create it at the same moment."""
        try:
            make_private_dir(self.directory)
        except NotADirectoryError:
            raise ArchiveError(f"{self.directory} is not a directory") from None
        except OSError as exc:
            raise ArchiveError(f"cannot create {self.directory}: {exc.strerror}") from None

    def path_for(self, session_id: str) -> Path:
        """The file a session is written to (plain JSON); the id is validated first, so the path
        stays inside the directory."""
        return self.directory / f"{validate_session_id(session_id)}.json"

    def compressed_path_for(self, session_id: str) -> Path:
        """Where a session idle for long is kept compressed (``compression``)."""
        return self.directory / f"{validate_session_id(session_id)}{COMPRESSED_SUFFIX}"

    def encrypted_path_for(self, session_id: str) -> Path:
        """Where a session of an encrypted archive is kept (``encryption``)."""
        return self.directory / f"{validate_session_id(session_id)}{ENCRYPTED_SUFFIX}"

    def forms_of(self, session_id: str) -> builtins.list[Path]:
        """Every file a session may be kept in: plain, compressed, encrypted."""
        return [
            self.path_for(session_id),
            self.compressed_path_for(session_id),
            self.encrypted_path_for(session_id),
        ]

    def file_for(self, session_id: str) -> Path:
        """The file that holds a session now (``session_file.preferred_suffixes``)."""
        return session_path(self.directory, validate_session_id(session_id))

    def exists(self, session_id: str) -> bool:
        return self.file_for(session_id).exists()

    def resolve(self, id_or_prefix: str) -> str:
        """The id of the one session whose id is ``id_or_prefix`` or begins with it (as git takes
        a commit's prefix); ``SessionNotFound`` for none, ``UsageError`` naming them for several."""
        if self.exists(id_or_prefix):  # also validates it: never a path
            return id_or_prefix
        matches = sorted(
            {
                session_id
                for entry in self._session_entries()
                if (session_id := session_id_of(entry.name)) and session_id.startswith(id_or_prefix)
            }
        )
        if not matches:
            raise SessionNotFound(f"no session with id {id_or_prefix!r} in {self.directory}")
        if len(matches) > 1:
            shown = ", ".join(matches[:3]) + (f" and {len(matches) - 3} more" if len(matches) > 3 else "")
            raise UsageError(f"{id_or_prefix!r} begins {len(matches)} session ids ({shown}): give more of it")
        return matches[0]

    def read(self, session_id: str) -> Session:
        """Load and validate one session; ``SessionNotFound`` or ``CorruptSession`` otherwise."""
        return self.read_with_bytes(session_id)[0]

    def read_with_bytes(self, session_id: str) -> tuple[Session, bytes]:
        """The validated session and the file's exact JSON bytes (decompressed), from one read."""
        path = self.file_for(session_id)
        try:
            raw = read_session_bytes(path)
        except FileNotFoundError:
            raise SessionNotFound(f"no session with id {session_id!r} in {self.directory}") from None
        except IsADirectoryError:
            raise CorruptSession(f"{path.name}: is a directory, not a session file") from None
        except OSError as exc:
            raise CorruptSession(f"{path.name}: cannot read: {exc.strerror}") from None
        session = Session.from_bytes(raw, path.name)
        check_name_matches(session.session_id, path)
        return session, raw

    def write(self, session: Session) -> list[Finding]:
        """Save atomically and durably, secrets redacted (the one place sessions are written, so
        nothing reaches disk unredacted); raise ``SessionWriteError`` with the old file untouched.
        Returns the secrets that were replaced (``session`` itself is left as it was)."""
        findings: list[Finding] = []
        if self.redactor is not None:
            session, findings = self.redactor.redact_session(session)
        data = dumps_compact(session.to_dict())
        key = key_if_encrypting(self.directory)
        if key is None:
            path = self.path_for(session.session_id)
        else:
            path = self.encrypted_path_for(session.session_id)
            data = seal_session(key, session.session_id, data)
        try:
            write_atomic(path, data)
            for other in self.forms_of(session.session_id):
                if other != path and other.exists():  # resumed: the form written now (read first)
                    other.unlink()
        except OSError as exc:
            raise SessionWriteError(
                f"cannot save session {session.session_id}: {exc.strerror or exc}"
            ) from None
        return findings

    def delete(self, session_id: str) -> None:
        """Remove one session file; ``SessionNotFound`` if there is none."""
        path = self.file_for(session_id)
        if self.device is not None and path.exists():
            try:
                record_deletion(self.directory, self.device(), session_id)
            except OSError as exc:
                raise SessionWriteError(f"cannot delete session {session_id}: {exc.strerror}") from None
        try:
            path.unlink()
            for other in self.forms_of(session_id):
                other.unlink(missing_ok=True)
        except FileNotFoundError:
            raise SessionNotFound(f"no session with id {session_id!r} in {self.directory}") from None
        except OSError as exc:
            raise SessionWriteError(f"cannot delete session {session_id}: {exc.strerror}") from None
        with contextlib.suppress(OSError):
            (self.locks_dir / f"{session_id}.lock").unlink()

    def session_files(self) -> list[Path]:
        """Every ``*.json`` file of the directory, temp and hidden files left out."""
        return [Path(entry.path) for entry in self._session_entries()]

    def count(self) -> int:
        """How many session files there are (no paths built: 10,000 in ~20 ms rather than ~250)."""
        return len(self._session_entries())

    def has_sessions(self) -> bool:
        """Whether there is at least one session file: stops at the first (listing 10,000 takes 0.1 s)."""
        return bool(self._session_entries(first_only=True))

    def _session_entries(self, *, first_only: bool = False) -> list[os.DirEntry[str]]:
        try:
            with os.scandir(self.directory) as entries:
                found = []
                for entry in entries:
                    if session_id_of(entry.name) is not None:
                        found.append(entry)
                        if first_only:
                            break
                return found
        except FileNotFoundError:
            return []
        except NotADirectoryError:
            raise ArchiveError(f"{self.directory} is not a directory") from None
        except OSError as exc:
            raise ArchiveError(f"cannot read {self.directory}: {exc.strerror}") from None

    def list(self) -> Listing:
        """Summaries newest activity first; broken files are reported, never touched.

        With a ``summary_cache``, only files changed since the last listing are read.
        """
        listing = Listing()
        cache = SummaryCache(self.summary_cache, self.directory) if self.summary_cache else None
        entries = self._session_entries()
        deleted = deleted_sessions(self.directory)
        names = {entry.name for entry in entries}
        preference = preferred_suffixes(self.directory)
        for entry in entries:
            path = Path(entry.path)
            session_id = session_id_of(entry.name)
            if session_id in deleted:
                continue  # deleted on a device, back from another: removed again by the next sync
            if shadowed(entry.name, names, preference):
                continue  # resumed, or migrated and not yet removed: the preferred form is the session
            copy_of = self._copy_of(path) if may_be_conflict_copy(entry.name) else None
            if copy_of in deleted:
                continue
            if copy_of is not None:
                listing.conflicts.setdefault(copy_of, []).append(path)
                continue
            try:
                signature = file_signature(entry.stat()) if cache else None
                summary = cache.get(entry.name, signature, path) if cache and signature else None
                if summary is None:
                    summary = read_summary(path)
                    if cache and signature:
                        cache.put(entry.name, signature, summary)
                listing.sessions.append(summary)
            except FileNotFoundError:
                continue
            except OSError as exc:
                listing.problems.append(CorruptSession(f"{entry.name}: cannot read: {exc.strerror}"))
            except CorruptSession as problem:
                listing.problems.append(problem)
        if cache:
            cache.keep_only({entry.name for entry in entries})
            cache.save()
        for session_id, copies in listing.conflicts.items():  # both halves, until they are merged
            try:
                merged = self.read_merged(session_id, copies)
            except (CorruptSession, OSError):
                continue  # the base's own problem is reported above
            listing.sessions = [s for s in listing.sessions if s.session_id != session_id]
            listing.sessions.append(SessionSummary.of_session(merged, self.path_for(session_id)))
        listing.sessions.sort(key=_newest_first_key, reverse=True)
        listing.problems.sort(key=str)
        return listing

    def conflict_copies(self) -> dict[str, builtins.list[Path]]:
        """Sync tools' conflict copies in the folder (``X.sync-conflict-....json``, ``X (conflicted
        copy).json``...), by the id of the session each copies: its name says it may be one of
        ``conflict_bases``, the ``sessionId`` inside says which."""
        found: dict[str, builtins.list[Path]] = {}
        for entry in self._session_entries():
            if may_be_conflict_copy(entry.name):
                base = self._copy_of(Path(entry.path))
                if base is not None:
                    found.setdefault(base, []).append(Path(entry.path))
        return found

    def read_copy(self, path: Path) -> Session:
        """A conflict copy as a session (its own id, not its file name's)."""
        return Session.from_bytes(read_session_bytes(path), path.name)

    def read_merged(self, session_id: str, copies: builtins.list[Path]) -> Session:
        """A session joined with its conflict copies (``merge_sessions``); nothing is written."""
        halves = [self.read(session_id)] if self.exists(session_id) else []
        return merge_sessions(halves + [self.read_copy(path) for path in copies])

    def _copy_of(self, path: Path) -> str | None:
        bases = conflict_bases(session_id_of(path.name) or "")
        if not bases:
            return None
        try:
            session_id = self.read_copy(path).session_id
        except (OSError, CorruptSession):
            return None
        return session_id if session_id in bases else None

    def lock(self, session_id: str) -> SessionLock:
        """An (unacquired) inter-process lock for recording into one session."""
        validate_session_id(session_id)
        return SessionLock(self.locks_dir / f"{session_id}.lock", session_id)

    def clean_temp_files(self) -> builtins.list[Path]:
        """Remove temp files left by crashed writers; a live writer's temp file is left alone."""
        removed: builtins.list[Path] = []
        for path in self.stale_temp_files():
            with contextlib.suppress(OSError):
                path.unlink()
                removed.append(path)
        return removed

    def stale_temp_files(self) -> builtins.list[Path]:
        """Temp files of writers that are gone (or stuck for over ``STALE_TEMP_SECONDS``)."""
        stale: builtins.list[Path] = []
        try:
            entries = list(os.scandir(self.directory))
        except OSError:
            return stale
        now = time.time()
        for entry in entries:
            match = _TEMP_NAME.fullmatch(entry.name)
            if match is None or not entry.is_file(follow_symlinks=False):
                continue
            pid = int(match["pid"])
            try:
                age = now - entry.stat(follow_symlinks=False).st_mtime
            except OSError:
                continue
            if pid == os.getpid() or process_alive(pid) and age < STALE_TEMP_SECONDS:
                continue
            stale.append(Path(entry.path))
        return sorted(stale)


def _newest_first_key(summary: SessionSummary) -> tuple[float, str]:
    return (summary.last_activity_at.timestamp(), summary.session_id)


def store_for_home(home: Path, index_dir: Path | None = None, *, writing: bool = False) -> SessionStore:
    """The session store of a home, with its listing cache; ``writing``: with the redaction its
    ``config.toml`` asks for (read only then, so a bad config does not stop a search)."""
    redactor = redactor_for_home(home) if writing else DEFAULT_REDACTOR
    return SessionStore(
        sessions_dir(home),
        summary_cache=listing_cache_path(home, index_dir),
        redactor=redactor,
        locks_dir=locks_dir(home),
        device=lambda: device_tag(home),
    )
