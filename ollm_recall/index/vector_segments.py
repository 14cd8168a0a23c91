"""Vector segments on disk: files written once, memory-mapped when read (sealed files of an encrypted
archive are decrypted as read instead).

A segment is ``<name>.npy`` (float32 rows), ``<name>.rows.npy`` (int32: session ordinal, message
index, chunk index), ``<name>.sessions.json`` (the ordinals' ids) and ``<name>.bits.npy`` (the sign
bit of every dimension, derived from the rows and rewritten when missing). ``vectorstore`` searches them.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import orjson

from .._atomic import make_private_dir
from ..archive.sealed_files import BLOCK, LARGE_BLOCK, MAGIC, SealedReader, Sealer, is_sealed
from ..errors import IndexCorrupt


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def sign_bits(vectors: np.ndarray) -> np.ndarray:
    """Each row's sign bits packed into 64-bit words (rows x ceil(dim / 64))."""
    packed = np.packbits(np.asarray(vectors) > 0, axis=-1)
    padding = (-packed.shape[-1]) % 8
    if padding:
        packed = np.pad(packed, [(0, 0)] * (packed.ndim - 1) + [(0, padding)])
    return np.ascontiguousarray(packed).view(np.uint64)


def file_identity(path: Path) -> tuple[int, int, int]:
    """What tells one file from another of the same name (a rebuild reuses segment names)."""
    status = path.stat()
    return status.st_ino, status.st_size, status.st_mtime_ns


class SegmentDamaged(ValueError):
    """A segment's files cannot be read, or do not agree with one another."""


class Segment:
    """One segment, loaded lazily: memory-mapped, or decrypted as read when sealed (``sealer``);
    ``SegmentDamaged`` (naming the segment, in our words rather than numpy's) when its files are cut
    short, garbled or inconsistent."""

    def __init__(self, directory: Path, name: str, sealer: Sealer) -> None:
        self.directory = directory
        self.name = name
        self._sealer = sealer
        self._path = directory / f"{name}.npy"
        self._vectors: np.ndarray | None = None
        try:
            self.identity = file_identity(self._path)
            self.rows: np.ndarray = _load(directory / f"{name}.rows.npy", sealer)
            self.session_ids: list[str] = orjson.loads(sealer.read(directory / f"{name}.sessions.json"))
            with open(self._path, "rb") as handle:
                self._sealed = is_sealed(handle.read(len(MAGIC)))
            if self._sealed:
                with self._open_sealed() as reader:
                    version = np.lib.format.read_magic(reader)
                    read_header = {(1, 0): np.lib.format.read_array_header_1_0}.get(
                        version, np.lib.format.read_array_header_2_0
                    )
                    shape, _fortran, dtype = read_header(reader)
                    self._offset: int = reader.tell()
                self.shape: tuple[int, ...] = tuple(shape)
                self.dtype: np.dtype = np.dtype(dtype)
            else:
                mapped: np.memmap = np.load(self._path, mmap_mode="r", allow_pickle=False)
                self.shape, self.dtype, self._offset = mapped.shape, mapped.dtype, mapped.offset
                self._vectors = mapped
        except FileNotFoundError as exc:
            raise SegmentDamaged(f"segment {name}: {Path(str(exc.filename)).name} is missing") from None
        except (OSError, ValueError, EOFError, IndexCorrupt) as exc:  # orjson's decode error is a ValueError
            raise SegmentDamaged(f"segment {name} cannot be read ({type(exc).__name__})") from None
        problem = _inconsistency(self.shape, self.dtype, self.rows, self.session_ids)
        if problem:
            raise SegmentDamaged(f"segment {name}: {problem}")
        self._bits: np.ndarray | None = None

    def _open_sealed(self) -> SealedReader:
        return SealedReader(open(self._path, "rb"), self._sealer.read_key(), self._path.name)

    @property
    def vectors(self) -> np.ndarray:
        """All the rows: the memory map, or, when sealed, the whole file decrypted on first use (a
        search reads ``bits`` and ``read_rows`` instead, which decrypt only what they touch)."""
        if self._vectors is None:
            vectors = np.empty(self.shape, dtype=self.dtype)
            with self._open_sealed() as reader:
                reader.seek(self._offset)
                reader.read_rest_into(memoryview(vectors.reshape(-1).view(np.uint8)))  # type: ignore[arg-type]
            self._vectors = vectors
        return self._vectors

    def read_rows(self, rows: np.ndarray) -> np.ndarray:
        """The float rows at ``rows`` (ascending), read from the file rather than through the memory
        map: a fault in the map pages in its neighbours too, and scattered rows would then bring in
        whole segments."""
        dimension, dtype = self.shape[1], self.dtype
        width = dimension * dtype.itemsize
        wanted = rows.tolist()
        data = bytearray()
        if self._sealed:
            reader = self._open_sealed()

            def read_at(offset: int, length: int) -> bytes:
                reader.seek(offset)
                return reader.read(length)

        else:
            descriptor = os.open(self._path, os.O_RDONLY)

            def read_at(offset: int, length: int) -> bytes:
                return os.pread(descriptor, length, offset)

        try:
            first = 0
            for position in range(1, len(wanted) + 1):  # one read per run of consecutive rows
                if position == len(wanted) or wanted[position] != wanted[position - 1] + 1:
                    data += read_at(self._offset + wanted[first] * width, (position - first) * width)
                    first = position
        finally:
            if self._sealed:
                reader.close()
            else:
                os.close(descriptor)
        return np.frombuffer(data, dtype=dtype).reshape(len(wanted), dimension)

    def bits(self) -> np.ndarray:
        """The rows' sign bits, read from their file, or derived (and saved, if the folder allows)."""
        if self._bits is None:
            path = self.directory / f"{self.name}.bits.npy"
            try:
                bits = _load(path, self._sealer)
                if bits.shape[0] != self.shape[0]:
                    raise ValueError("stale")
            except (OSError, ValueError, IndexCorrupt):
                bits = sign_bits(self.vectors)
                try:
                    self._sealer.write(path, _npy_bytes(bits))
                except OSError:
                    pass  # a read-only index still answers; the bits are derived again next time
            self._bits = bits
        return self._bits


def _load(path: Path, sealer: Sealer) -> np.ndarray:
    array: np.ndarray = np.load(io.BytesIO(sealer.read(path)), allow_pickle=False)
    return array


def _inconsistency(
    shape: tuple[int, ...], dtype: np.dtype, rows: np.ndarray, session_ids: object
) -> str | None:
    """What is wrong between a segment's three files, or None."""
    if len(shape) != 2 or dtype != np.float32:
        return f"vectors of shape {shape} and type {dtype}, not rows of float32"
    if rows.ndim != 2 or rows.shape[1:] != (3,) or rows.dtype != np.int32:
        return f"keys of shape {rows.shape} and type {rows.dtype}, not (n, 3) int32"
    if shape[0] != rows.shape[0]:
        return f"{shape[0]} vectors but {rows.shape[0]} keys"
    if not isinstance(session_ids, list) or not all(isinstance(sid, str) for sid in session_ids):
        return "its session list is not a list of ids"
    if len(rows) and (rows[:, 0].min() < 0 or rows[:, 0].max() >= len(session_ids)):
        return "keys name sessions its session list does not have"
    return None


def sealed_block_size(name: str) -> int:
    """The block a segment's file is sealed in: the vectors are read whole by an exact search, in
    large blocks (1 MiB: a tenth of the cost of 64 KiB ones at 10,000 sessions); the rest in the default."""
    is_vectors = name.endswith(".npy") and not name.endswith((".rows.npy", ".bits.npy"))
    return LARGE_BLOCK if is_vectors else BLOCK


def check_segment(directory: Path, name: str, dimension: int, sealer: Sealer) -> str | None:
    """What is wrong with segment ``name`` (for ``ollm doctor``), or None when it reads whole."""
    try:
        segment = Segment(directory, name, sealer)
        if segment.shape[1] != dimension:
            return f"segment {name}: vectors of {segment.shape[1]} dimensions, not {dimension}"
        if segment._sealed:
            segment.vectors  # every block decrypts  # noqa: B018
    except SegmentDamaged as problem:
        return str(problem)
    except IndexCorrupt as problem:
        return f"segment {name}: {problem}"
    return None


def write_segment(
    directory: Path, name: str, vectors: np.ndarray, keys: list[tuple[str, int, int]], sealer: Sealer
) -> None:
    """Write a segment's files atomically (the manifest that names it is written after), sealed
    while the archive is encrypted."""
    make_private_dir(directory)
    ordinals: dict[str, int] = {}
    rows = np.array(
        [(ordinals.setdefault(sid, len(ordinals)), message, chunk) for sid, message, chunk in keys],
        dtype=np.int32,
    ).reshape(-1, 3)
    sealer.write(directory / f"{name}.sessions.json", orjson.dumps(list(ordinals)))
    sealer.write(directory / f"{name}.rows.npy", _npy_bytes(rows))
    sealer.write(directory / f"{name}.bits.npy", _npy_bytes(sign_bits(vectors).reshape(len(rows), -1)))
    vector_bytes = _npy_bytes(np.ascontiguousarray(vectors, dtype=np.float32))
    sealer.write(directory / f"{name}.npy", vector_bytes, sealed_block_size(f"{name}.npy"))
