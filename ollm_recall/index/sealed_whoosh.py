"""whoosh's file storage, with its files sealed (``archive.sealed_files``) while the archive is
encrypted: whoosh reads and writes through the storage object, so nothing else of it changes.

Sealed files are read through ``SealedReader`` at any offset (a search decrypts only the blocks it
touches), never memory-mapped; plain files are opened as whoosh opens them, so an index written before
``ollm encrypt`` reads until it is sealed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from whoosh.filedb.filestore import FileStorage
from whoosh.filedb.structfile import StructFile
from whoosh.util import random_name

from .._atomic import NO_FOLLOW
from ..archive.sealed_files import (
    HEADER_BYTES,
    MAGIC,
    SealedReader,
    SealedWriter,
    Sealer,
    block_size,
    is_sealed,
    plain_length,
)


class SealedStorage(FileStorage):
    """A whoosh ``FileStorage`` whose new files are sealed while ``sealer`` says the archive is
    encrypted; either kind of file is read."""

    def __init__(self, path: Path, sealer: Sealer) -> None:
        super().__init__(str(path))
        self.sealer = sealer

    def create_file(self, name: str, excl: bool = False, mode: str = "wb", **kwargs: Any) -> StructFile:
        key = self.sealer.write_key()
        if key is None:
            return super().create_file(name, excl=excl, mode=mode, **kwargs)
        flags = os.O_CREAT | os.O_RDWR | os.O_TRUNC | NO_FOLLOW | (os.O_EXCL if excl else 0)
        handle = os.fdopen(os.open(self._fpath(name), flags, 0o600), "w+b")
        return StructFile(SealedWriter(handle, key), name=name, **kwargs)

    def open_file(self, name: str, **kwargs: Any) -> StructFile:
        handle = open(self._fpath(name), "rb")  # noqa: SIM115 (whoosh closes it)
        sealed = is_sealed(handle.read(len(MAGIC)))
        handle.seek(0)
        if not sealed:
            return StructFile(handle, name=name, **kwargs)
        try:
            return StructFile(SealedReader(handle, self.sealer.read_key(), name), name=name, **kwargs)
        except BaseException:
            handle.close()
            raise

    def file_length(self, name: str) -> int:
        path = self._fpath(name)
        with open(path, "rb") as handle:
            header = handle.read(HEADER_BYTES)
            size = handle.seek(0, os.SEEK_END)
        return plain_length(size, block_size(header)) if is_sealed(header) else size

    def temp_storage(self, name: str | None = None) -> SealedStorage:
        """Where whoosh pools postings while it writes: they hold the words, so sealed too."""
        storage = SealedStorage(Path(self.folder) / (name or f"{random_name()}.tmp"), self.sealer)
        storage.create()
        return storage
