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
