"""Which archives are encrypted, and their keys once unlocked: one place per process, so that every
reader and writer below the CLI finds the key without it being passed through every layer.

An archive is encrypted when its key file (``keys``) says ``"encrypt": true`` (set by ``ollm encrypt``,
cleared by ``ollm decrypt``). Its key is unlocked once per process, when something first needs it: by
the unlocker the program installed (the CLI's asks on a terminal), else from the OS keyring or
``OLLM_PASSPHRASE``. Nothing here writes the key anywhere.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path

import orjson

from ..errors import KeyProblem
from .keys import ArchiveKey, key_file_path, keyring_unlock, unlock_with_passphrase

PASSPHRASE_ENV = "OLLM_PASSPHRASE"

Unlocker = Callable[[Path], ArchiveKey]

_lock = threading.RLock()
_keys: dict[str, ArchiveKey] = {}
_flags: dict[str, tuple[tuple[int, int], bool]] = {}
_unlocker: Unlocker | None = None
_early: dict[str, Future[ArchiveKey]] = {}


@functools.lru_cache(maxsize=64)
def _absolute(given: str) -> str:
    return os.path.abspath(given)


def _name(directory: Path) -> str:
    """The folder's absolute path, as the key registry's key (asked for at every file read)."""
    return _absolute(os.fspath(directory))


def encrypting(directory: Path) -> bool:
    """Whether sessions of ``directory`` are written encrypted (read from the key file; a stat per call
    once it has been read)."""
    path = key_file_path(directory)
    try:
        status = path.stat()
    except OSError:
        return False
    signature = (status.st_mtime_ns, status.st_size)
    name = _name(directory)
    known = _flags.get(name)
    if known is not None and known[0] == signature:
        return known[1]
    try:
        document = orjson.loads(path.read_bytes())
        flag = isinstance(document, dict) and document.get("encrypt") is True
    except (OSError, orjson.JSONDecodeError):
        raise KeyProblem(f"{path.name} in {directory} cannot be read: encrypted or not is unknown") from None
    _flags[name] = (signature, flag)
    return flag


def set_unlocker(unlocker: Unlocker | None) -> None:
    """How this process unlocks an archive when it first needs the key (None: keyring, else
    ``OLLM_PASSPHRASE``)."""
    global _unlocker
    _unlocker = unlocker


def use_key(directory: Path, key: ArchiveKey) -> None:
    """Remember an unlocked key for ``directory`` for the rest of the process."""
    with _lock:
        _keys[_name(directory)] = key


def forget_keys() -> None:
    """Drop every unlocked key (tests; a long-lived process that locks again)."""
    with _lock:
        _keys.clear()
        _flags.clear()
        _early.clear()


def known_key(directory: Path) -> ArchiveKey | None:
    """The key of ``directory`` if it is unlocked already (never asks)."""
    return _keys.get(_name(directory))


def archive_key(directory: Path) -> ArchiveKey:
    """The key of an encrypted archive: unlocked once, then remembered; ``KeyProblem`` (one line naming
    the key id) when it cannot be."""
    name = _name(directory)
    key = _keys.get(name)
    if key is not None:
        return key
    with _lock:
        key = _keys.get(name)
        if key is None:
            early = _early.pop(name, None)
            key = early.result() if early is not None else (_unlocker or default_unlock)(Path(directory))
            _keys[name] = key
        return key


def unlock_soon(directory: Path) -> None:
    """Start unlocking now, in a thread (the key derivation releases the GIL), for a process that
    will need the key and can unlock without asking; ``archive_key`` then waits for it."""
    name = _name(directory)
    if name in _keys or name in _early:
        return
    unlocker = _unlocker or default_unlock
    future: Future[ArchiveKey] = Future()

    def run() -> None:
        try:
            future.set_result(unlocker(Path(directory)))
        except BaseException as exc:  # given to whoever asks for the key
            future.set_exception(exc)

    _early[name] = future
    threading.Thread(target=run, name="ollm-unlock", daemon=True).start()


def default_unlock(directory: Path) -> ArchiveKey:
    """The key from the OS keyring, else by ``OLLM_PASSPHRASE``; no prompt (a library cannot ask)."""
    key = keyring_unlock(directory)
    if key is not None:
        return key
    passphrase = os.environ.get(PASSPHRASE_ENV)
    if not passphrase:
        raise KeyProblem(f"the archive in {directory} is encrypted: set {PASSPHRASE_ENV} to unlock it")
    return unlock_with_passphrase(directory, passphrase)


def key_if_encrypting(directory: Path) -> ArchiveKey | None:
    """The key to seal what is written for ``directory`` with, or None when it is not encrypted."""
    return archive_key(directory) if encrypting(directory) else None
