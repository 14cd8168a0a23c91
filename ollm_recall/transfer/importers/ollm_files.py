"""Session files of another ollm archive, or of the original ollm CLI (``~/.ollm/sessions``, and its
older ``session-data`` folder): the same format, validated and copied under their own ids."""

from __future__ import annotations

from pathlib import Path

from ...archive.compression import COMPRESSED_SUFFIX, decompress_session
from ...archive.session import Session
from ...archive.session_file import MAX_SESSION_BYTES, session_id_of
from ...errors import CorruptSession, InvalidSessionId
from .conversation import Broken, Items
from .reading import export_files

SOURCE = "ollm"


def read(path: Path) -> Items:
    """Every session file under ``path`` (or ``path`` itself), plain or compressed (with the
    dictionaries of its folder), temporary and hidden files left out."""
    for name, raw in export_files(path, lambda file: session_id_of(file) is not None):
        try:
            if name.endswith(COMPRESSED_SUFFIX):
                file = Path(name)
                raw = decompress_session(file.name, file.parent, raw, MAX_SESSION_BYTES)
            yield Session.from_bytes(raw, name)
        except (CorruptSession, InvalidSessionId) as exc:
            yield Broken(name, str(exc).removeprefix(f"{name}: "))
