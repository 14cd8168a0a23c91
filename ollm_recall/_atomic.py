"""The one helper every file write goes through: atomic and durable.

A crash at any moment leaves the previous complete file or the new complete file, never half of each.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

TEMP_SUFFIX = ".tmp"


def temp_path_for(path: Path) -> Path:
    """The writer-unique temporary name beside ``path``: ``.<name>.<pid>.tmp`` (hidden from readers)."""
    return path.with_name(f".{path.name}.{os.getpid()}{TEMP_SUFFIX}")


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

    On any error the temporary file is removed and the previous ``path`` is untouched.
    """
    temp = temp_path_for(path)
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        try:
            os.fchmod(fd, mode)
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
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
