"""Session files of another ollm archive, or of the original ollm CLI (``~/.ollm/sessions``, and its
older ``session-data`` folder): the same format, validated and copied under their own ids."""

from __future__ import annotations

from pathlib import Path

from ...archive.compression import COMPRESSED_SUFFIX, decompress_session
from ...archive.encryption import ENCRYPTED_SUFFIX
from ...archive.session import Session
from ...archive.session_file import MAX_SESSION_BYTES, decrypt_session_file, session_id_of
from ...errors import CorruptSession, InvalidSessionId, KeyProblem
from .conversation import Broken, Items
from .reading import export_files

SOURCE = "ollm"


def read(path: Path) -> Items:
    """Every session file under ``path`` (or ``path`` itself), plain, compressed (with the
    dictionaries of its folder) or encrypted (with its folder's key), temporary and hidden files left
    out."""
    for name, raw in export_files(path, lambda file: session_id_of(file) is not None):
        try:
            if name.endswith(COMPRESSED_SUFFIX):
                file = Path(name)
                raw = decompress_session(file.name, file.parent, raw, MAX_SESSION_BYTES)
            elif name.endswith(ENCRYPTED_SUFFIX):
                raw = decrypt_session_file(Path(name), raw)
            yield Session.from_bytes(raw, name)
        except (CorruptSession, InvalidSessionId, KeyProblem) as exc:
            yield Broken(name, str(exc).removeprefix(f"{name}: "))
