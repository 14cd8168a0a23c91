"""Sealed files: what is derived from the sessions (index, vectors, manifest, caches, chat history)
encrypted on disk when the archive is, in one format that can be read at any offset.

A sealed file is a header and blocks of 2**shift bytes (64 KiB by default; 1 MiB for files read whole,
such as vectors: fewer, cheaper calls), each AES-256-GCM under a key of its own file (HKDF of the
archive key and the file's random salt), its number and whether it is the last as the nonce, and the
header as associated data: a block moved, dropped or cut off fails to open. Reading decrypts only the
blocks read (a search touches little of a large index file)::

    b"OLLMSEAL" | version (1 byte) | shift (1 byte) | key id (8 bytes) | salt (16 bytes) | block | ...

Plain and sealed files are told apart by their first bytes, so both can be read during a migration.
"""

from __future__ import annotations

import io
import os
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Self

from .._atomic import write_atomic
from ..errors import IndexCorrupt
from .keys import ArchiveKey
from .unlocking import archive_key, key_if_encrypting

MAGIC = b"OLLMSEAL"
VERSION = 1
HEADER_BYTES = len(MAGIC) + 2 + 8 + 16
BLOCK = 64 * 1024
LARGE_BLOCK = 1024 * 1024
_KEY_ID = slice(len(MAGIC) + 2, len(MAGIC) + 10)
TAG = 16
CACHED_BLOCKS = 64


def is_sealed(head: bytes) -> bool:
    return head.startswith(MAGIC)


def _cipher(key: ArchiveKey, salt: bytes) -> Any:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return AESGCM(HKDF(hashes.SHA256(), 32, salt, b"ollm-recall sealed file").derive(key.key))


def _nonce(number: int, last: bool) -> bytes:
    return number.to_bytes(8, "big") + (b"\0\0\0\1" if last else b"\0\0\0\0")


def block_size(header: bytes) -> int:
    return 1 << header[len(MAGIC) + 1]


def plain_length(sealed_length: int, block: int) -> int:
    """How many bytes a sealed file of ``sealed_length`` bytes, in blocks of ``block``, holds."""
    body = sealed_length - HEADER_BYTES
    if body < TAG:
        return 0
    blocks = -(-body // (block + TAG))
    return (blocks - 1) * block + body - (blocks - 1) * (block + TAG) - TAG


class _SealedFile:
    """What the two sealed file objects share: closing, ``with``, and no ``fileno`` (whoosh then
    reads through them rather than mapping the file)."""

    closed = False

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def seekable(self) -> bool:
        return True

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


class SealedWriter(_SealedFile):
    """Writes a sealed file through ``handle`` (opened for writing, at its start). Writes go in order,
    except that a seek back into the first block is allowed (whoosh writes a header there last): that
    block is kept until ``close``."""

    def __init__(self, handle: BinaryIO, key: ArchiveKey, block: int = BLOCK) -> None:
        salt = os.urandom(16)
        self._block = block
        shift = block.bit_length() - 1
        self._header = MAGIC + bytes([VERSION, shift]) + bytes.fromhex(key.key_id) + salt
        self._cipher = _cipher(key, salt)
        self._handle = handle
        self._first = bytearray()  # block 0, once the writing has moved past it
        self._current = bytearray()  # block ``_number``
        self._number = 0
        self._position = 0
        handle.write(self._header)

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        length = self._number * self._block + len(self._current)
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._position, os.SEEK_END: length}[whence]
        self._position = base + offset
        return self._position

    def write(self, data: Any) -> int:
        view = memoryview(bytes(data))
        while view:
            block, offset = divmod(self._position, self._block)
            if block == self._number + 1 and len(self._current) == self._block:
                self._seal_current()
            if block == self._number:
                buffer = self._current
            elif block == 0:
                buffer = self._first
            else:
                raise io.UnsupportedOperation("a sealed file is written in order, but for its first block")
            if offset > len(buffer):
                buffer.extend(bytes(offset - len(buffer)))
            piece = view[: self._block - offset]
            buffer[offset : offset + len(piece)] = piece
            view = view[len(piece) :]
            self._position += len(piece)
        return len(data)

    def _seal_current(self) -> None:
        if self._number == 0:
            self._first = self._current
            self._handle.write(bytes(self._block + TAG))  # its place, filled at close when it is final
        else:
            self._handle.write(self._encrypt(self._number, self._current, last=False))
        self._number += 1
        self._current = bytearray()

    def _encrypt(self, number: int, block: bytearray, *, last: bool) -> bytes:
        return bytes(self._cipher.encrypt(_nonce(number, last), bytes(block), self._header))

    def finish(self) -> None:
        """Write the last block and the first, and flush; the handle stays open (to fsync it)."""
        self._handle.write(self._encrypt(self._number, self._current, last=True))
        if self._number > 0:
            self._handle.seek(HEADER_BYTES)
            self._handle.write(self._encrypt(0, self._first, last=False))
        self._handle.flush()

    def close(self) -> None:
        if self.closed:
            return
        self.finish()
        self._handle.close()
        self.closed = True


class SealedReader(_SealedFile):
    """Reads a sealed file at any offset, decrypting the blocks it touches (a few kept decrypted)."""

    def __init__(self, handle: BinaryIO, key: ArchiveKey, name: str) -> None:
        self._handle = handle
        self._name = name
        self._header = handle.read(HEADER_BYTES)
        if len(self._header) < HEADER_BYTES or not is_sealed(self._header):
            raise IndexCorrupt(f"{name}: not a sealed file (or cut short)")
        if self._header[len(MAGIC)] != VERSION:
            raise IndexCorrupt(f"{name}: sealed in format {self._header[len(MAGIC)]}, not {VERSION}")
        made_with = self._header[_KEY_ID].hex()
        if made_with != key.key_id:
            raise IndexCorrupt(f"{name}: sealed with key {made_with}, not this archive's key {key.key_id}")
        self._cipher = _cipher(key, self._header[-16:])
        size = handle.seek(0, os.SEEK_END)
        self._block_size = block_size(self._header)
        self._length = plain_length(size, self._block_size)
        self._blocks = max(1, -(-(size - HEADER_BYTES) // (self._block_size + TAG)))
        self._cache: OrderedDict[int, bytes] = OrderedDict()
        self._position = 0

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._position, os.SEEK_END: self._length}[whence]
        self._position = max(0, base + offset)
        return self._position

    def _block(self, number: int) -> bytes:
        cached = self._cache.get(number)
        if cached is not None:
            self._cache.move_to_end(number)
            return cached
        self._handle.seek(HEADER_BYTES + number * (self._block_size + TAG))
        block = self._decrypt(number, self._handle.read(self._block_size + TAG))
        self._cache[number] = block
        if len(self._cache) > CACHED_BLOCKS:
            self._cache.popitem(last=False)
        return block

    def _decrypt(self, number: int, sealed: bytes | memoryview, into: memoryview | None = None) -> bytes:
        """Block ``number`` decrypted (into ``into`` when given: no copy; then nothing is returned)."""
        from cryptography.exceptions import InvalidTag

        nonce = _nonce(number, number == self._blocks - 1)
        try:
            if into is not None:
                self._cipher.decrypt_into(nonce, sealed, self._header, into)
                return b""
            block: bytes = self._cipher.decrypt(nonce, sealed, self._header)
        except (InvalidTag, ValueError):
            raise IndexCorrupt(f"{self._name}: damaged (block {number} does not decrypt)") from None
        return block

    def read_rest_into(self, buffer: memoryview) -> None:
        """Fill ``buffer`` with what follows the position, decrypting straight into it and keeping no
        block (a whole large file into an array: no copy but the one, no memory but the array's)."""
        filled = 0
        number, offset = divmod(self._position, self._block_size)
        self._handle.seek(HEADER_BYTES + number * (self._block_size + TAG))
        scratch = memoryview(bytearray(self._block_size + TAG))
        while filled < len(buffer):
            got = self._handle.readinto(scratch)  # type: ignore[attr-defined]
            if got <= TAG:
                raise IndexCorrupt(f"{self._name}: shorter than it says")
            size = got - TAG
            if offset == 0 and size <= len(buffer) - filled:
                self._decrypt(number, scratch[:got], buffer[filled : filled + size])
                filled += size
            else:
                piece = self._decrypt(number, scratch[:got])[offset : offset + len(buffer) - filled]
                buffer[filled : filled + len(piece)] = piece
                filled += len(piece)
            number, offset = number + 1, 0
        self._position += filled

    def read(self, size: int | None = -1) -> bytes:
        end = self._length if size is None or size < 0 else min(self._length, self._position + size)
        pieces = []
        while self._position < end:
            number, offset = divmod(self._position, self._block_size)
            piece = self._block(number)[offset : offset + end - self._position]
            if not piece:
                break
            pieces.append(piece)
            self._position += len(piece)
        return b"".join(pieces)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readline(self, size: int | None = -1) -> bytes:
        line = bytearray()
        while self._position < self._length and (size is None or size < 0 or len(line) < size):
            number, offset = divmod(self._position, self._block_size)
            block = self._block(number)
            stop = block.find(b"\n", offset)
            take = block[offset : (stop + 1 if stop >= 0 else len(block))]
            if size is not None and size >= 0:
                take = take[: size - len(line)]
            line += take
            self._position += len(take)
            if take.endswith(b"\n"):
                break
        return bytes(line)

    def close(self) -> None:
        if not self.closed:
            self._handle.close()
        self.closed = True


def seal_bytes(key: ArchiveKey, data: bytes, block: int = BLOCK) -> bytes:
    """``data`` as a sealed file's bytes."""
    buffer = _Collect()
    writer = SealedWriter(buffer, key, block)
    writer.write(data)
    writer.close()
    return buffer.getvalue()


def open_bytes(key: ArchiveKey, data: bytes, name: str) -> bytes:
    """A sealed file's bytes opened (``IndexCorrupt`` naming the file when they do not)."""
    reader = SealedReader(_Collect(data), key, name)
    return reader.read()


class _Collect(io.BytesIO):
    """A BytesIO that survives ``close`` (to read what a writer made)."""

    def close(self) -> None:
        pass


@dataclass(frozen=True)
class Sealer:
    """Reads and writes the derived files of the archive in ``sessions_dir``: sealed while it is
    encrypted, plain otherwise; either form is read."""

    sessions_dir: Path

    def write_key(self) -> ArchiveKey | None:
        return key_if_encrypting(self.sessions_dir)

    def read_key(self) -> ArchiveKey:
        return archive_key(self.sessions_dir)

    def seal(self, data: bytes, block: int = BLOCK) -> bytes:
        key = self.write_key()
        return data if key is None else seal_bytes(key, data, block)

    def unseal(self, data: bytes, name: str) -> bytes:
        return open_bytes(self.read_key(), data, name) if is_sealed(data) else data

    def write(self, path: Path, data: bytes, block: int = BLOCK) -> None:
        write_atomic(path, self.seal(data, block))

    def read(self, path: Path) -> bytes:
        return self.unseal(path.read_bytes(), path.name)
