"""The derived files of a home sealed by ``ollm encrypt`` or opened by ``ollm decrypt``: the whole index
folder (whoosh's files, vector segments, manifest, listing cache) and the chat's line history.

Each file is rewritten whole in the other form, through a temporary file and a rename, streaming (a
large whoosh segment is never held in memory); readers take either form, so a kill leaves an index
that still answers, and a re-run finishes. Under the index lock, with the background indexer stopped.
The background worker's status and log hold counts and ids, never text: they stay as they are.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path

from .._atomic import TEMP_SUFFIX, write_atomic_with
from .._locking import IndexLock
from ..archive.keys import ArchiveKey
from ..archive.sealed_files import MAGIC, SealedReader, SealedWriter, is_sealed
from ..errors import IndexBusy, IndexProblem
from .background import LOG_NAME, STATUS_NAME, stop_worker
from .indexer import Index
from .vector_segments import sealed_block_size

LEFT_PLAIN = {STATUS_NAME, LOG_NAME, ".lock"}
CHAT_HISTORY = "chat_history"


def derived_files(home: Path, index_dir: Path | None) -> Iterator[Path]:
    """Every file of the home that holds text derived from sessions."""
    root = index_dir if index_dir is not None else home / "index"
    if root.is_dir():
        for folder, _dirs, names in os.walk(root):
            for name in sorted(names):
                if name in LEFT_PLAIN or name.endswith((TEMP_SUFFIX, ".lock", "WRITELOCK")):
                    continue
                yield Path(folder) / name
    history = home / CHAT_HISTORY
    if history.is_file():
        yield history


def note_new_files(index: Index, hashes: Mapping[str, str]) -> int:
    """Sessions whose file was rewritten with the same JSON (by the migration): their manifest entries
    take the new file's size and time, so that no sync reads them all again. The caller holds the
    index lock; returns how many entries were brought up to date."""
    try:
        manifest = index.load_manifest(fresh=True)
    except IndexProblem:
        return 0
    noted = 0
    for session_id, sha in hashes.items():
        entry = manifest.sessions.get(session_id)
        if entry is None or entry.sha256 != sha:
            continue
        try:
            status = index.store.file_for(session_id).stat()
        except OSError:
            continue
        entry.size, entry.mtime_ns = status.st_size, status.st_mtime_ns
        noted += 1
    if noted:
        manifest.save(index.manifest_path)
    return noted


def migrate_derived(
    home: Path, index_dir: Path | None, key: ArchiveKey, *, encrypt: bool, hashes: Mapping[str, str]
) -> int:
    """Seal (``encrypt``) or open every derived file not yet in that form, after noting the sessions
    the migration rewrote (``hashes``: their JSON's sha256); how many files were rewritten."""
    index = Index(home, index_dir=index_dir)
    stop_worker(index)
    lock = IndexLock(index.lock_path)
    if index.directory.is_dir():
        try:
            lock.acquire()
        except IndexBusy:
            raise IndexProblem(
                f"another `ollm index` is updating {index.directory}: run this again once it is done"
            ) from None
    try:
        note_new_files(index, hashes)
        changed = 0
        for path in derived_files(home, index_dir):
            with contextlib.suppress(FileNotFoundError):
                changed += _rewrite(path, key, encrypt=encrypt)
        return changed
    finally:
        if index.directory.is_dir():
            lock.release()


def _rewrite(path: Path, key: ArchiveKey, *, encrypt: bool) -> int:
    with open(path, "rb") as handle:
        sealed = is_sealed(handle.read(len(MAGIC)))
    if sealed == encrypt:
        return 0

    def fill(descriptor: int) -> None:
        with open(descriptor, "wb", closefd=False) as out, open(path, "rb") as source:
            if encrypt:
                writer = SealedWriter(out, key, sealed_block_size(path.name))
                shutil.copyfileobj(source, writer)
                writer.finish()
            else:
                with SealedReader(source, key, path.name) as reader:
                    shutil.copyfileobj(reader, out)

    write_atomic_with(path, fill)
    return 1
