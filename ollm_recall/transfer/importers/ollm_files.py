"""Session files of another ollm archive, or of the original ollm CLI (``~/.ollm/sessions``, and its
older ``session-data`` folder): the same format, validated and copied under their own ids."""

from __future__ import annotations

from pathlib import Path

from ...archive.session import Session
from ...errors import CorruptSession, InvalidSessionId
from .conversation import Broken, Items
from .reading import export_files

SOURCE = "ollm"


def read(path: Path) -> Items:
    """Every session file under ``path`` (or ``path`` itself), temporary and hidden files left out."""
    for name, raw in export_files(path, lambda file: file.endswith(".json") and not file.startswith(".")):
        try:
            yield Session.from_bytes(raw, name)
        except (CorruptSession, InvalidSessionId) as exc:
            yield Broken(name, str(exc).removeprefix(f"{name}: "))
