"""The one helper every file write goes through: atomic and durable.

A crash at any moment leaves the previous complete file or the new complete file, never half of each.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable
from pathlib import Path

TEMP_SUFFIX = ".tmp"
# created, never opened if already there, never through a symlink: a name planted in a shared folder
# can neither redirect the write nor the chmod that follows
NO_FOLLOW = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
_CREATE_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | NO_FOLLOW
_CREATE_ATTEMPTS = 16


def temp_path_for(path: Path) -> Path:
    """A fresh temporary name beside ``path``: ``.<name>.<pid>.<random>.tmp``, hidden from readers,
    unguessable by others (the pid lets a cleaner tell a live writer's file from a dead one's)."""
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(6)}{TEMP_SUFFIX}")


def create_temp_file(path: Path, mode: int = 0o600) -> tuple[Path, int]:
    """Create a new temporary file beside ``path`` exclusively and without following symlinks;
    returns its name and a descriptor open for writing."""
    for _ in range(_CREATE_ATTEMPTS):
        temp = temp_path_for(path)
        try:
            return temp, os.open(temp, _CREATE_NEW, mode)
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {path}")


def fsync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable; best effort where the platform refuses."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes, *, mode: int = 0o600) -> None:
    """Write ``data`` to ``path``: temp file, fsync, ``os.replace``, fsync of the directory.

    The rename replaces a symlink at ``path`` itself, never the file it points to. On any error the
    temporary file is removed and the previous ``path`` is untouched.
    """

    def fill(fd: int) -> None:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]

    write_atomic_with(path, fill, mode=mode)


def write_atomic_with(path: Path, fill: Callable[[int], None], *, mode: int = 0o600) -> None:
    """``write_atomic`` of what ``fill`` writes to the descriptor it is given (to stream a large file)."""
    temp, fd = create_temp_file(path, mode)
    try:
        try:
            os.fchmod(fd, mode)
            fill(fd)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    fsync_directory(path.parent)


def make_private_dir(directory: Path) -> None:
    """Create ``directory`` and any missing parents, each 0700 from the start (they hold chats).

    Idempotent under concurrency: another process creating the same folder at the same moment is
    not an error; a file where the folder should be is ``NotADirectoryError``.
    """
    missing = []
    current = directory
    while not current.is_dir():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, 0o700)
        except FileExistsError:
            pass  # made by another process meanwhile, or a file: checked below
        else:
            os.chmod(folder, 0o700)  # the umask may have taken bits away
    if not directory.is_dir():
        raise NotADirectoryError(f"{directory} is not a directory")
