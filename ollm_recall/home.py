"""Where a user's archive lives: ``--home``, else ``OLLM_HOME``, else ``~/.ollm``."""

from __future__ import annotations

import os
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


def sessions_dir(home: Path) -> Path:
    """The sessions directory of a home: ``<home>/sessions``."""
    return home / "sessions"


def index_dir_for(home: Path, index_dir: Path | None = None) -> Path:
    """The index folder: the one given, else ``<home>/index``."""
    return index_dir if index_dir is not None else home / "index"


def listing_cache_path(home: Path, index_dir: Path | None = None) -> Path:
    """Where the derived cache of session summaries lives: ``listing.json`` in the index folder."""
    return index_dir_for(home, index_dir) / "listing.json"


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
