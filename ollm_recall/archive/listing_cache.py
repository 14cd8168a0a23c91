"""A derived cache of session summaries, so listing a large archive reads only what changed.

Each entry is keyed by file name and checked against the file's size, mtime and inode (every atomic
save makes a new inode), so a stale entry is never used. The cache lives outside the sessions folder,
is written atomically, and is ignored and rebuilt if it is missing, old or damaged.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import orjson

from .._atomic import make_private_dir
from ..errors import IndexCorrupt
from .listing import SessionSummary
from .sealed_files import Sealer

CACHE_VERSION = 1
_FIELDS = ("session_id", "start_time", "last_activity", "model", "provider", "title")

Signature = tuple[int, int, int]


def file_signature(stat: os.stat_result) -> Signature:
    """What must be equal for a cached summary to still describe the file."""
    return (stat.st_size, stat.st_mtime_ns, stat.st_ino)


class SummaryCache:
    """Summaries by file name, loaded from and saved to one JSON file."""

    def __init__(self, path: Path, directory: Path) -> None:
        self.path = path
        self.directory = directory
        self._entries: dict[str, list[Any]] = {}
        self._changed = False
        self._load()

    def _load(self) -> None:
        try:
            document = orjson.loads(Sealer(self.directory).read(self.path))
        except (OSError, orjson.JSONDecodeError, IndexCorrupt):
            return  # rebuilt by this listing
        if (
            isinstance(document, dict)
            and document.get("version") == CACHE_VERSION
            and document.get("directory") == str(self.directory.resolve())
            and isinstance(document.get("entries"), dict)
        ):
            self._entries = document["entries"]

    def get(self, name: str, signature: Signature, path: Path) -> SessionSummary | None:
        """The cached summary if the file is unchanged since it was cached, else None."""
        entry = self._entries.get(name)
        if not isinstance(entry, list) or len(entry) != 3 + len(_FIELDS):
            return None
        if tuple(entry[:3]) != signature or not all(isinstance(v, str) for v in entry[3:]):
            return None
        values = dict(zip(_FIELDS, entry[3:], strict=True))
        return SessionSummary(path=path, size=signature[0], modified=signature[1] / 1e9, **values)

    def put(self, name: str, signature: Signature, summary: SessionSummary) -> None:
        self._entries[name] = [*signature, *(getattr(summary, field) for field in _FIELDS)]
        self._changed = True

    def keep_only(self, names: set[str]) -> None:
        """Forget files that are gone."""
        stale = [name for name in self._entries if name not in names]
        for name in stale:
            del self._entries[name]
        self._changed = self._changed or bool(stale)

    def save(self) -> None:
        """Write the cache if it changed; a failure only costs speed next time."""
        if not self._changed:
            return
        document = {
            "version": CACHE_VERSION,
            "directory": str(self.directory.resolve()),
            "entries": self._entries,
        }
        with contextlib.suppress(OSError):
            make_private_dir(self.path.parent)
            Sealer(self.directory).write(self.path, orjson.dumps(document))
            self._changed = False
