"""Vector segments on disk: files written once, memory-mapped when read.

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

from .._atomic import make_private_dir, write_atomic


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
    """One segment, loaded lazily and memory-mapped; ``SegmentDamaged`` (naming the segment, in our
    words rather than numpy's) when its files are cut short, garbled or inconsistent."""

    def __init__(self, directory: Path, name: str) -> None:
        self.directory = directory
        self.name = name
        try:
            self.identity = file_identity(directory / f"{name}.npy")
            self.vectors: np.ndarray = np.load(directory / f"{name}.npy", mmap_mode="r", allow_pickle=False)
            self.rows: np.ndarray = np.load(directory / f"{name}.rows.npy", allow_pickle=False)
            self.session_ids: list[str] = orjson.loads((directory / f"{name}.sessions.json").read_bytes())
        except FileNotFoundError as exc:
            raise SegmentDamaged(f"segment {name}: {Path(str(exc.filename)).name} is missing") from None
        except (OSError, ValueError, EOFError) as exc:  # orjson's decode error is a ValueError
            raise SegmentDamaged(f"segment {name} cannot be read ({type(exc).__name__})") from None
        problem = _inconsistency(self.vectors, self.rows, self.session_ids)
        if problem:
            raise SegmentDamaged(f"segment {name}: {problem}")
        self._bits: np.ndarray | None = None
        self._path = str(directory / f"{name}.npy")
        self._offset: int = self.vectors.offset  # a np.memmap's

    def read_rows(self, rows: np.ndarray) -> np.ndarray:
        """The float rows at ``rows`` (ascending), read from the file rather than through the memory
        map: a fault in the map pages in its neighbours too, and scattered rows would then bring in
        whole segments."""
        dimension, dtype = self.vectors.shape[1], self.vectors.dtype
        width = dimension * dtype.itemsize
        wanted = rows.tolist()
        data = bytearray()
        descriptor = os.open(self._path, os.O_RDONLY)
        try:
            first = 0
            for position in range(1, len(wanted) + 1):  # one read per run of consecutive rows
                if position == len(wanted) or wanted[position] != wanted[position - 1] + 1:
                    offset = self._offset + wanted[first] * width
                    data += os.pread(descriptor, (position - first) * width, offset)
                    first = position
        finally:
            os.close(descriptor)
        return np.frombuffer(data, dtype=dtype).reshape(len(wanted), dimension)

    def bits(self) -> np.ndarray:
        """The rows' sign bits, read from their file, or derived (and saved, if the folder allows)."""
        if self._bits is None:
            path = self.directory / f"{self.name}.bits.npy"
            try:
                bits = np.load(path)
                if bits.shape[0] != self.vectors.shape[0]:
                    raise ValueError("stale")
            except (OSError, ValueError):
                bits = sign_bits(self.vectors)
                try:
                    write_atomic(path, _npy_bytes(bits))
                except OSError:
                    pass  # a read-only index still answers; the bits are derived again next time
            self._bits = bits
        return self._bits


def _inconsistency(vectors: np.ndarray, rows: np.ndarray, session_ids: object) -> str | None:
    """What is wrong between a segment's three files, or None."""
    if vectors.ndim != 2 or vectors.dtype != np.float32:
        return f"vectors of shape {vectors.shape} and type {vectors.dtype}, not rows of float32"
    if rows.ndim != 2 or rows.shape[1:] != (3,) or rows.dtype != np.int32:
        return f"keys of shape {rows.shape} and type {rows.dtype}, not (n, 3) int32"
    if vectors.shape[0] != rows.shape[0]:
        return f"{vectors.shape[0]} vectors but {rows.shape[0]} keys"
    if not isinstance(session_ids, list) or not all(isinstance(sid, str) for sid in session_ids):
        return "its session list is not a list of ids"
    if len(rows) and (rows[:, 0].min() < 0 or rows[:, 0].max() >= len(session_ids)):
        return "keys name sessions its session list does not have"
    return None


def check_segment(directory: Path, name: str, dimension: int) -> str | None:
    """What is wrong with segment ``name`` (for ``ollm doctor``), or None when it reads whole."""
    try:
        segment = Segment(directory, name)
    except SegmentDamaged as problem:
        return str(problem)
    if segment.vectors.shape[1] != dimension:
        return f"segment {name}: vectors of {segment.vectors.shape[1]} dimensions, not {dimension}"
    return None


def write_segment(directory: Path, name: str, vectors: np.ndarray, keys: list[tuple[str, int, int]]) -> None:
    """Write a segment's three files atomically (the manifest that names it is written after)."""
    make_private_dir(directory)
    ordinals: dict[str, int] = {}
    rows = np.array(
        [(ordinals.setdefault(sid, len(ordinals)), message, chunk) for sid, message, chunk in keys],
        dtype=np.int32,
    ).reshape(-1, 3)
    write_atomic(directory / f"{name}.sessions.json", orjson.dumps(list(ordinals)))
    write_atomic(directory / f"{name}.rows.npy", _npy_bytes(rows))
    write_atomic(directory / f"{name}.bits.npy", _npy_bytes(sign_bits(vectors).reshape(len(rows), -1)))
    write_atomic(directory / f"{name}.npy", _npy_bytes(np.ascontiguousarray(vectors, dtype=np.float32)))
