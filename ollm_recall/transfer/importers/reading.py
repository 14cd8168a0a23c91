"""Opening an export as it comes: a zip archive, a folder, or a single file."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ...errors import ImportFormatError
from .conversation import Broken, Conversation, Items

MAX_EXPORT_FILE_BYTES = 1024 * 1024 * 1024
"""The largest export file read (a heavy user's ChatGPT ``conversations.json`` is a few hundred MB)."""
MAX_PACKING_RATIO = 100
"""JSON exports pack 5 to 20 times; a zip member packed far tighter is a zip bomb."""
BOMB_CHECK_BYTES = 16 * 1024 * 1024
"""Small members are read whatever their ratio: a bomb needs size to do harm."""


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
                members = sorted(
                    n for n in archive.namelist() if not n.endswith("/") and wanted(n.rsplit("/", 1)[-1])
                )
                if not members:
                    raise ImportFormatError(f"{path}: no export files in this zip archive")
                for member in members:
                    yield (
                        f"{path}:{member}",
                        _read_member(archive, archive.getinfo(member), f"{path}:{member}"),
                    )
        except (zipfile.BadZipFile, OSError) as exc:
            raise ImportFormatError(f"{path}: cannot read the zip archive ({exc})") from None
        return
    yield str(path), _read(path)


def _read(path: Path) -> bytes:
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_EXPORT_FILE_BYTES + 1)
    except OSError as exc:
        raise ImportFormatError(f"{path}: cannot read: {exc.strerror}") from None
    if len(data) > MAX_EXPORT_FILE_BYTES:
        raise _too_large(str(path))
    return data


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, label: str) -> bytes:
    """A zip member's bytes, refused before it is unpacked when it claims to be too large or packed
    far tighter than any export (a zip bomb), and while it is unpacked if it outgrows its claim."""
    if info.file_size > MAX_EXPORT_FILE_BYTES:
        raise _too_large(label)
    if info.file_size > BOMB_CHECK_BYTES and info.file_size > MAX_PACKING_RATIO * max(info.compress_size, 1):
        raise ImportFormatError(
            f"{label}: unpacks to {info.file_size // max(info.compress_size, 1)} times its packed size, "
            f"more than the {MAX_PACKING_RATIO} times an export reaches: not read"
        )
    with archive.open(info) as member:
        data = member.read(min(info.file_size, MAX_EXPORT_FILE_BYTES) + 1)
    if len(data) > info.file_size:  # zipfile checks this too, by the CRC at the end
        raise ImportFormatError(f"{label}: holds more than its zip entry says: not read")
    return data


def _too_large(label: str) -> ImportFormatError:
    return ImportFormatError(
        f"{label}: more than the {MAX_EXPORT_FILE_BYTES // 1024 // 1024} MB an export file may have: not read"
    )


def expect_list(name: str, document: Any, what: str) -> list[Any]:
    """The top-level list an export file must hold."""
    if not isinstance(document, list):
        raise ImportFormatError(
            f"{name}: expected a list of {what} at the top level, not {type(document).__name__}"
        )
    return document


def conversations_in(
    path: Path,
    wanted: Callable[[str], bool],
    convert: Callable[[Any], Conversation],
    label: str,
    *,
    single: bool = False,
) -> Items:
    """The conversations of export files that each hold a list of them (or, with ``single``, may hold
    just one); one that ``convert`` cannot read (a missing key, a value of the wrong kind) is yielded
    as ``Broken`` and the rest go on."""
    for name, raw in export_files(path, wanted):
        for position, item in enumerate(_items(name, raw, single)):
            try:
                yield convert(item)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                yield Broken(
                    f"{name}: conversation {position + 1}",
                    f"not {with_article(label)} conversation ({problem_of(exc)})",
                )


def with_article(label: str) -> str:
    """``a ChatGPT``, ``an Open WebUI``: the article a label is said with."""
    return ("an " if label[:1].lower() in "aeiou" else "a ") + label


def problem_of(exc: BaseException) -> str:
    """What a conversion error says about the data, in words rather than Python's exception names."""
    if isinstance(exc, KeyError):
        return f"it has no {exc.args[0]!r} field" if exc.args else "a field is missing"
    if isinstance(exc, (TypeError, AttributeError)):
        return "a field holds a value of the wrong kind"
    return str(exc) or "a value it cannot use"


def _items(name: str, raw: bytes, single: bool) -> Iterator[Any]:
    """The elements of the top-level JSON list in ``raw``, parsed one at a time: an export of ten
    thousand conversations never has to be in memory as objects all at once."""
    text = _text(name, raw)
    del raw
    decoder = json.JSONDecoder(parse_constant=_reject_constant)
    position = _skip_space(text, 0)
    if not text.startswith("[", position):
        document = _decode_all(name, text, decoder)
        if single and isinstance(document, dict):
            yield document
            return
        expect_list(name, document, "conversations")
    position = _skip_space(text, position + 1)
    if text.startswith("]", position):
        return
    while True:
        try:
            item, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            raise ImportFormatError(f"{name}: {_problem(text, exc)}") from None
        yield item
        position = _skip_space(text, position)
        if text.startswith("]", position):
            if text[position + 1 :].strip():
                raise ImportFormatError(f"{name}: malformed JSON: extra data after the list")
            return
        if not text.startswith(",", position):
            line, column = _place(text, position)
            raise ImportFormatError(
                f"{name}: malformed JSON: expected ',' or ']' (line {line}, column {column})"
            )
        position = _skip_space(text, position + 1)


def _text(name: str, raw: bytes) -> str:
    try:
        return raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise ImportFormatError(f"{name}: not valid UTF-8 (at byte offset {exc.start})") from None


def _decode_all(name: str, text: str, decoder: json.JSONDecoder) -> Any:
    try:
        return decoder.decode(text)
    except json.JSONDecodeError as exc:
        raise ImportFormatError(f"{name}: {_problem(text, exc)}") from None


def _problem(text: str, exc: json.JSONDecodeError) -> str:
    cut_short = exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string")
    kind = "truncated JSON" if cut_short else "malformed JSON"
    return f"{kind}: {exc.msg} (line {exc.lineno}, column {exc.colno})"


def _place(text: str, position: int) -> tuple[int, int]:
    line = text.count("\n", 0, position) + 1
    return line, position - (text.rfind("\n", 0, position) + 1) + 1


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position


def _reject_constant(name: str) -> Any:
    raise json.JSONDecodeError(f"{name} is not valid JSON", "", 0)
