"""The chat's line-editing history (up-arrow): saved redacted, as sessions are, and sealed while the
archive is encrypted (``archive.sealed_files``), in prompt_toolkit's file format either way."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from pathlib import Path

from prompt_toolkit.history import History

from .._atomic import make_private_dir
from ..archive.redaction import Redactor
from ..archive.sealed_files import Sealer

MAX_ENTRIES = 5000


def parse_history(data: bytes) -> list[str]:
    """Entries of a prompt_toolkit history file, oldest first (``+`` lines, ``#`` comment lines)."""
    entries: list[str] = []
    lines: list[str] = []
    for line in data.decode("utf-8", errors="replace").splitlines():
        if line.startswith("+"):
            lines.append(line[1:])
        elif lines:
            entries.append("\n".join(lines))
            lines = []
    if lines:
        entries.append("\n".join(lines))
    return entries


def format_entry(text: str) -> str:
    stamp = datetime.datetime.now().isoformat(sep=" ")
    return f"\n# {stamp}\n" + "".join(f"+{line}\n" for line in text.split("\n"))


class LineHistory(History):
    """History kept in ``path``: lines typed in this chat as typed, lines saved redacted."""

    def __init__(self, path: Path, sealer: Sealer, redactor: Redactor | None) -> None:
        super().__init__()
        self.path = path
        self.sealer = sealer
        self.redactor = redactor

    def _read(self) -> bytes:
        try:
            return self.sealer.read(self.path)
        except FileNotFoundError:
            return b""

    def load_history_strings(self) -> Iterable[str]:
        return list(reversed(parse_history(self._read())))

    def store_string(self, string: str) -> None:
        text = self.redactor.redact_text(string).text if self.redactor is not None else string
        entries = [*parse_history(self._read())[-(MAX_ENTRIES - 1) :], text]
        make_private_dir(self.path.parent)
        self.sealer.write(self.path, "".join(format_entry(entry) for entry in entries).encode("utf-8"))
