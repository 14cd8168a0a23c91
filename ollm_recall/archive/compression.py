"""Compressed history: sessions idle for a while are stored as ``<id>.json.zst``, zstd with a
dictionary trained on the archive (session files share most of their structure and words, which a
dictionary captures: far smaller files than zstd alone).

Dictionaries live in the sessions folder (``.zstd-dicts/<dictionary id>.dict``, so a device sharing the
folder reads what another compressed) and are never removed: each compressed file names its dictionary
in its frame header. Reading is transparent (``session_file.read_session_bytes``); writing a session
always writes plain JSON and then removes its compressed file, so a resumed session is plain again.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from .._atomic import make_private_dir, write_atomic
from ..errors import CorruptSession

COMPRESSED_SUFFIX = ".json.zst"
DICTS_DIR = ".zstd-dicts"
LEVEL = 9
DICTIONARY_BYTES = 112 * 1024
TRAINING_SAMPLES = 1000
MIN_TRAINING_SAMPLES = 20
"""Fewer sessions than this are compressed without a dictionary (zstd cannot train on so few)."""


@functools.cache
def zstd() -> Any:
    """Python 3.14's ``compression.zstd``, or the ``backports.zstd`` package before it (looked up once:
    a failed import searches the whole path again each time, 0.09 ms a file read)."""
    try:
        from compression import zstd as module
    except ImportError:
        from backports import zstd as module
    return module


def dictionary_path(directory: Path, dictionary_id: int) -> Path:
    return directory / DICTS_DIR / f"{dictionary_id}.dict"


@functools.lru_cache(maxsize=8)
def _dictionary(path: Path, modified_ns: int) -> Any:
    return zstd().ZstdDict(path.read_bytes())


def load_dictionary(directory: Path, dictionary_id: int) -> Any:
    """The dictionary a compressed file of ``directory`` names; ``CorruptSession``-ready ``OSError``
    when it is missing."""
    path = dictionary_path(directory, dictionary_id)
    return _dictionary(path, path.stat().st_mtime_ns)


def decompress_session(name: str, directory: Path | None, data: bytes, limit: int) -> bytes:
    """A compressed session file's JSON (its dictionary from ``directory``; None: it may use none);
    ``CorruptSession`` for damaged data, a missing dictionary, or more than ``limit`` bytes."""
    module = zstd()
    try:
        dictionary_id = module.get_frame_info(data).dictionary_id
    except module.ZstdError as exc:
        raise CorruptSession(f"{name}: not zstd data ({exc})") from None
    dictionary = None
    if dictionary_id:
        try:
            if directory is None:
                raise OSError("no dictionary folder")
            dictionary = load_dictionary(directory, dictionary_id)
        except OSError:
            raise CorruptSession(
                f"{name}: compressed with dictionary {dictionary_id}, missing from {DICTS_DIR}"
            ) from None
    decompressor = module.ZstdDecompressor(zstd_dict=dictionary)
    try:
        out = decompressor.decompress(data, max_length=limit + 1)
    except module.ZstdError as exc:
        raise CorruptSession(f"{name}: damaged zstd data ({exc})") from None
    if len(out) > limit:
        raise CorruptSession(f"{name}: more than {limit // 1024 // 1024} MB once decompressed: not read")
    if not decompressor.eof:
        raise CorruptSession(f"{name}: truncated zstd data")
    return bytes(out)


def compress_session(data: bytes, dictionary: Any | None, level: int = LEVEL) -> bytes:
    return bytes(zstd().compress(data, level=level, zstd_dict=dictionary))


def archive_dictionary(directory: Path, samples: list[bytes]) -> Any | None:
    """The dictionary new compressed files use: the one already in the folder with the lowest id (so
    that devices sharing the folder settle on the same), else one trained on ``samples`` and written
    before any file uses it; None when there are too few samples to train on."""
    existing = sorted(
        (int(path.stem) for path in (directory / DICTS_DIR).glob("*.dict") if path.stem.isdigit()),
    )
    if existing:
        return load_dictionary(directory, existing[0])
    if len(samples) < MIN_TRAINING_SAMPLES:
        return None
    module = zstd()
    try:
        trained = module.train_dict(samples, DICTIONARY_BYTES)
    except module.ZstdError:
        return None
    path = dictionary_path(directory, trained.dict_id)
    make_private_dir(path.parent)
    write_atomic(path, trained.dict_content)
    return load_dictionary(directory, trained.dict_id)
