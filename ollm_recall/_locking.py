"""Locks between processes (one per session, one per index): an OS lock that dies with its process.

A crash (even SIGKILL) releases the lock with the process, so nothing is ever left locked; the lock
file only carries the holder's pid for the error message.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
from pathlib import Path

from ._atomic import NO_FOLLOW, make_private_dir
from .errors import ArchiveReadOnly, IndexBusy, OllmRecallError, SessionLocked

if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        with contextlib.suppress(OSError):
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


class ProcessLock:
    """An exclusive, non-blocking lock on one file, held until ``release()`` or process exit."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def busy(self, holder: str) -> OllmRecallError:
        """The error for a lock another process holds (``holder``: its pid, or empty)."""
        who = f"process {holder}" if holder else "another process"
        return OllmRecallError(f"{self.path} is locked by {who}")

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock, or raise ``busy``'s error at once; never waits."""
        if self._fd is not None:
            return
        try:
            make_private_dir(self.path.parent)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | NO_FOLLOW, 0o600)
        except OSError as exc:
            if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
                raise ArchiveReadOnly(
                    f"the archive folder {self.path.parent} is read-only ({exc.strerror}): nothing can be "
                    "written there"
                ) from None
            raise
        if not _try_lock(fd):
            holder = _read_holder(fd)
            os.close(fd)
            raise self.busy(holder)
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode("ascii"))
        self._fd = fd

    def release(self) -> None:
        """Let other processes take the lock again."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        _unlock(fd)
        os.close(fd)

    def __enter__(self) -> ProcessLock:
        self.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


class SessionLock(ProcessLock):
    """The recording lock of one session: ``SessionLocked`` while another process records into it."""

    def __init__(self, path: Path, session_id: str) -> None:
        super().__init__(path)
        self.session_id = session_id

    def busy(self, holder: str) -> SessionLocked:
        who = f"process {holder}" if holder else "another process"
        return SessionLocked(
            f"session {self.session_id} is being recorded by {who}; "
            "end that chat first or start a new session"
        )


class IndexLock(ProcessLock):
    """The lock every writer of an index holds: ``IndexBusy`` while another process writes it."""

    def busy(self, holder: str) -> IndexBusy:
        who = f"process {holder}" if holder else "another process"
        return IndexBusy(f"the index {self.path.parent} is being written by {who}")


def process_alive(pid: int) -> bool:
    """Whether a process with this pid runs (one we may not signal counts as running)."""
    if os.name != "posix":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _read_holder(fd: int) -> str:
    with contextlib.suppress(OSError, ValueError):
        os.lseek(fd, 0, os.SEEK_SET)
        raw = os.read(fd, 32).decode("ascii").strip()
        if raw.isdigit():
            return raw
    return ""
