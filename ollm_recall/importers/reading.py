"""Opening an export as it comes: a zip archive, a folder, or a single file."""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..errors import ImportFormatError
from ..jsonio import JSONProblem, loads_strict
from .conversation import Broken, Conversation, Items


def export_files(path: Path, wanted: Callable[[str], bool]) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of each file of the export the source reads: the file itself, the wanted files
    of a folder (searched in depth, in name order), or the wanted members of a zip archive."""
    if not path.exists():
        raise ImportFormatError(f"{path}: no such file or folder")
    if path.is_dir():
        found = sorted(p for p in path.rglob("*") if p.is_file() and wanted(p.name))
        if not found:
            raise ImportFormatError(f"{path}: no export files in this folder")
        for file in found:
            yield str(file), _read(file)
        return
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                members = sorted(n for n in archive.namelist() if not n.endswith("/")
                                 and wanted(n.rsplit("/", 1)[-1]))
                if not members:
                    raise ImportFormatError(f"{path}: no export files in this zip archive")
                for member in members:
                    yield f"{path}:{member}", archive.read(member)
        except (zipfile.BadZipFile, OSError) as exc:
            raise ImportFormatError(f"{path}: cannot read the zip archive ({exc})") from None
        return
    yield str(path), _read(path)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ImportFormatError(f"{path}: cannot read: {exc.strerror}") from None


def parse_json(name: str, raw: bytes) -> Any:
    """The JSON document of one export file; a malformed file is an error naming it and the place."""
    try:
        return loads_strict(raw)
    except JSONProblem as exc:
        raise ImportFormatError(f"{name}: {exc}") from None


def expect_list(name: str, document: Any, what: str) -> list[Any]:
    """The top-level list an export file must hold."""
    if not isinstance(document, list):
        raise ImportFormatError(f"{name}: expected a list of {what} at the top level, "
                                f"not {type(document).__name__}")
    return document


def conversations_in(
    path: Path, wanted: Callable[[str], bool], convert: Callable[[Any], Conversation], label: str,
    *, single: bool = False,
) -> Items:
    """The conversations of export files that each hold a list of them (or, with ``single``, may hold
    just one); one that ``convert`` cannot read (a missing key, a value of the wrong kind) is yielded
    as ``Broken`` and the rest go on."""
    for name, raw in export_files(path, wanted):
        document = parse_json(name, raw)
        if single and isinstance(document, dict):
            document = [document]
        for position, item in enumerate(expect_list(name, document, "conversations")):
            try:
                yield convert(item)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                yield Broken(f"{name}: conversation {position + 1}",
                             f"not a {label} conversation ({type(exc).__name__}: {exc})")
