"""The encrypted session file format: ``<id>.json.enc``, written by the store when the archive is
encrypted (``unlocking.encrypting``).

A session's JSON is compressed with zstd, then encrypted with AES-256-GCM under the archive key
(``keys``). The file is a 28-byte header and the ciphertext::

    b"OLLMENC" | version (1 byte) | key id (8 bytes) | nonce (12 bytes) | ciphertext and tag

The header and the session id are the associated data: a file moved under another session's name, a
header edited to name another key, a flipped bit, all fail to decrypt. No dictionary is used: one
trained on the archive is made of its words, and would sit unencrypted beside the files.
"""

from __future__ import annotations

import functools
import os
from typing import Any

from ..errors import CorruptSession
from .compression import compress_session, decompress_session
from .keys import ArchiveKey

ENCRYPTED_SUFFIX = ".json.enc"
MAGIC = b"OLLMENC"
VERSION = 1
HEADER_BYTES = len(MAGIC) + 1 + 8 + 12
ZSTD_LEVEL = 1
"""Every message of a chat rewrites its session: level 1 takes 0.14 ms on a 100-message session where
compaction's level 9 takes 1.3 ms, for files about 10% larger."""


def is_encrypted(data: bytes) -> bool:
    return data.startswith(MAGIC)


@functools.lru_cache(maxsize=4)
def _aead(key: bytes) -> Any:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM(key)


def seal_session(key: ArchiveKey, session_id: str, data: bytes) -> bytes:
    """A session's JSON as an encrypted file's bytes."""
    header = MAGIC + bytes([VERSION]) + bytes.fromhex(key.key_id) + os.urandom(12)
    packed = compress_session(data, None, ZSTD_LEVEL)
    sealed = _aead(key.key).encrypt(header[-12:], packed, header + session_id.encode())
    return header + sealed


def file_key_id(data: bytes) -> str | None:
    """The id of the key an encrypted file was made with (None: not an encrypted file)."""
    if not is_encrypted(data) or len(data) < HEADER_BYTES:
        return None
    return data[len(MAGIC) + 1 : len(MAGIC) + 9].hex()


def open_session(key: ArchiveKey, session_id: str, data: bytes, *, name: str, limit: int) -> bytes:
    """An encrypted file's JSON; ``CorruptSession`` naming the key when it is of another key, is
    damaged, or is another session's file."""
    from cryptography.exceptions import InvalidTag

    if not is_encrypted(data) or len(data) < HEADER_BYTES + 16:
        raise CorruptSession(f"{name}: not an encrypted session file (or cut short)")
    if data[len(MAGIC)] != VERSION:
        raise CorruptSession(f"{name}: encrypted in format {data[len(MAGIC)]}, not {VERSION}")
    made_with = file_key_id(data)
    if made_with != key.key_id:
        raise CorruptSession(f"{name}: encrypted with key {made_with}, not this archive's key {key.key_id}")
    header = data[:HEADER_BYTES]
    try:
        packed = _aead(key.key).decrypt(header[-12:], data[HEADER_BYTES:], header + session_id.encode())
    except InvalidTag:
        raise CorruptSession(
            f"{name}: does not decrypt with key {key.key_id} (damaged, or another session's file)"
        ) from None
    return decompress_session(name, None, packed, limit)
