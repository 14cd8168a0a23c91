"""The facts of every session, kept beside the listing cache (``<index>/stats.json``, sealed while the
archive is encrypted) and brought up to date incrementally: only files changed since the last `ollm
stats` are read again, so a second run at 10,000 sessions reads none.

Each entry is checked against its file's size, time and inode, like the listing cache's; a cache made
in another time zone, of another version or damaged is rebuilt.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from .._atomic import make_private_dir
from ..archive.listing_cache import file_signature
from ..archive.sealed_files import Sealer
from ..archive.session_file import preferred_suffixes, session_id_of, shadowed
from ..archive.store import SessionStore
from ..errors import CorruptSession, IndexCorrupt, SessionNotFound
from .session_facts import FACTS_VERSION, SessionFacts, session_facts

STATS_CACHE = "stats.json"


def time_zone() -> str:
    """The local zone as its UTC offsets in winter and summer (a rename of the zone changes nothing)."""
    year = datetime.now().year
    return "/".join(str(datetime(year, month, 1).astimezone().utcoffset()) for month in (1, 7))


def read_all_facts(
    store: SessionStore, cache_path: Path, *, progress: Callable[[int, int], None] | None = None
) -> tuple[list[SessionFacts], list[str]]:
    """Every session's facts (from the cache where its file is unchanged) and the files that could not
    be read; the cache is saved when anything changed. ``progress(done, total)`` as files are read."""
    sealer = Sealer(store.directory)
    zone = time_zone()
    entries = _load(cache_path, sealer, zone)
    files = store.session_files()
    names = {path.name for path in files}
    preference = preferred_suffixes(store.directory)
    copies = {path for paths in store.conflict_copies().values() for path in paths}  # merged into theirs
    wanted = [path for path in files if not shadowed(path.name, names, preference) and path not in copies]
    found: list[SessionFacts] = []
    problems: list[str] = []
    kept: dict[str, list[Any]] = {}
    changed = False
    to_read = []
    for path in wanted:
        try:
            signature = list(file_signature(path.stat()))
        except OSError:
            continue
        cached = entries.get(path.name)
        if isinstance(cached, list) and len(cached) == 2 and cached[0] == signature:
            with contextlib.suppress(TypeError, ValueError):
                found.append(SessionFacts.from_json(cached[1]))
                kept[path.name] = cached
                continue
        to_read.append((path, signature))
    for done, (path, signature) in enumerate(to_read, 1):
        try:
            facts = session_facts(store.read(session_id_of(path.name) or ""))
        except (CorruptSession, SessionNotFound, OSError) as problem:
            problems.append(str(problem))
            continue
        found.append(facts)
        kept[path.name] = [signature, facts.to_json()]
        changed = True
        if progress is not None:
            progress(done, len(to_read))
    if changed or set(kept) != set(entries):
        _save(cache_path, sealer, zone, kept)
    return found, problems


def _load(path: Path, sealer: Sealer, zone: str) -> dict[str, Any]:
    try:
        document = orjson.loads(sealer.read(path))
    except (OSError, orjson.JSONDecodeError, IndexCorrupt):
        return {}
    if (
        isinstance(document, dict)
        and document.get("version") == FACTS_VERSION
        and document.get("zone") == zone
        and isinstance(document.get("entries"), dict)
    ):
        entries: dict[str, Any] = document["entries"]
        return entries
    return {}


def _save(path: Path, sealer: Sealer, zone: str, entries: dict[str, Any]) -> None:
    """A failure only costs speed next time."""
    with contextlib.suppress(OSError):
        make_private_dir(path.parent)
        sealer.write(path, orjson.dumps({"version": FACTS_VERSION, "zone": zone, "entries": entries}))


def stats_cache_path(index_dir: Path) -> Path:
    return Path(os.fspath(index_dir)) / STATS_CACHE
