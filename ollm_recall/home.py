"""Where a user's archive lives: ``--home``, else ``OLLM_HOME``, else ``~/.ollm``."""

from __future__ import annotations

import os
import re
from pathlib import Path

HOME_ENV = "OLLM_HOME"


def resolve_home(home: str | os.PathLike[str] | None = None) -> Path:
    """The home folder from the explicit value, the environment, or the default, in that order."""
    if home:
        return Path(home).expanduser()
    from_env = os.environ.get(HOME_ENV)
    if from_env:
        return Path(from_env).expanduser()
    return Path.home() / ".ollm"


SESSIONS_ENV = "OLLM_SESSIONS_DIR"


def sessions_dir(home: Path) -> Path:
    """The sessions folder of a home: ``$OLLM_SESSIONS_DIR``, else ``sessions_dir`` in its config.toml
    (a folder a sync tool shares between devices, say), else ``<home>/sessions``. A relative path is
    taken from the home. Everything derived (index, locks, caches) stays in the home, on this device."""
    chosen = os.environ.get(SESSIONS_ENV)
    if not chosen:
        from .config import configured_sessions_dir

        chosen = configured_sessions_dir(home)
    if not chosen:
        return home / "sessions"
    path = Path(chosen).expanduser()
    return path if path.is_absolute() else home / path


def locks_dir(home: Path) -> Path:
    """Where this device's processes lock the sessions they record into. A sessions folder chosen
    with ``sessions_dir`` (shared by a sync tool, say) holds session files only: its locks are in the
    home (``<home>/locks``). The default ``<home>/sessions`` keeps them in its ``.locks``, where
    every ``SessionStore`` of that folder looks without being told."""
    sessions = sessions_dir(home)
    return sessions / ".locks" if sessions == home / "sessions" else home / "locks"


def index_dir_for(home: Path, index_dir: Path | None = None) -> Path:
    """The index folder: the one given, else ``<home>/index``."""
    return index_dir if index_dir is not None else home / "index"


def listing_cache_path(home: Path, index_dir: Path | None = None) -> Path:
    """Where the derived cache of session summaries lives: ``listing.json`` in the index folder."""
    return index_dir_for(home, index_dir) / "listing.json"


DEVICE_FILE = "device"
DEVICE_TAG = re.compile(r"[a-z2-7]{4}")
_TAG_LETTERS = "abcdefghijklmnopqrstuvwxyz234567"


def device_tag(home: Path) -> str:
    """This device's tag for new session ids (four letters or digits, made at random once and kept
    in ``<home>/device``, which stays on this device like the rest of the home but the sessions)."""
    path = home / DEVICE_FILE
    try:
        known = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        known = ""
    if DEVICE_TAG.fullmatch(known):
        return known
    import secrets

    from ._atomic import make_private_dir, write_atomic

    tag = "".join(secrets.choice(_TAG_LETTERS) for _ in range(4))
    try:
        make_private_dir(home)
        write_atomic(path, f"{tag}\n".encode("ascii"))
    except OSError:
        pass  # a read-only home: the tag serves this run, and what cannot be written says so itself
    return tag


MODEL_CACHE_ENV = "OLLM_MODEL_CACHE"


def model_cache_dir() -> Path:
    """Where the ONNX graphs made from the installed model's weights are kept, for every archive of
    this user (they are the same for all): ``$OLLM_MODEL_CACHE``, else ``$XDG_CACHE_HOME/ollm-recall``,
    else ``~/.cache/ollm-recall``. Derived files, made again when missing or damaged."""
    explicit = os.environ.get(MODEL_CACHE_ENV)
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME")
    return (Path(base).expanduser() if base else Path.home() / ".cache") / "ollm-recall"
