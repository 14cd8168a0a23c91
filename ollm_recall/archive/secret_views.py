"""Other readings of a text in which a secret can hide from the rules: URL-decoded (``token%3Dghp_...``)
and base64-decoded (``Z2hwX...``). ``redaction`` scans each and maps what it finds back to the text.
"""

from __future__ import annotations

import base64
import binascii
import re
from bisect import bisect_right
from dataclasses import dataclass

_URL_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_BASE64_RUN = re.compile(r"(?<![A-Za-z0-9+/_\-])[A-Za-z0-9+/_\-]{24,}={0,2}")
"""A run long enough to hold the shortest built-in format once encoded (16 bytes take 24 characters)."""
BASE64_RUN_LIMIT = 1 << 20
"""Runs longer than this (an inline image, say) are not decoded: a secret in one is not worth the cost."""


@dataclass(frozen=True)
class UrlDecoded:
    """A text with its ``%XX`` escapes decoded, and the way back from a position in it to the text."""

    text: str
    _decoded_starts: tuple[int, ...]
    _original_starts: tuple[int, ...]
    _escaped: tuple[bool, ...]

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """The span of the original text that ``text[start:end]`` was decoded from."""
        return self._original(start, at_end=False), self._original(end - 1, at_end=True)

    def _original(self, position: int, *, at_end: bool) -> int:
        segment = bisect_right(self._decoded_starts, position) - 1
        origin = self._original_starts[segment]
        if self._escaped[segment]:
            return origin + 3 if at_end else origin
        return origin + position - self._decoded_starts[segment] + (1 if at_end else 0)


def url_decoded(text: str) -> UrlDecoded | None:
    """``text`` with URL escapes decoded, or None when it has none."""
    if "%" not in text or _URL_ESCAPE.search(text) is None:
        return None
    pieces: list[str] = []
    decoded_starts: list[int] = []
    original_starts: list[int] = []
    escaped: list[bool] = []
    length = position = 0

    def segment(piece: str, origin: int, is_escape: bool) -> None:
        nonlocal length
        pieces.append(piece)
        decoded_starts.append(length)
        original_starts.append(origin)
        escaped.append(is_escape)
        length += len(piece)

    for match in _URL_ESCAPE.finditer(text):
        if match.start() > position:
            segment(text[position : match.start()], position, False)
        segment(chr(int(match[1], 16)), match.start(), True)
        position = match.end()
    if position < len(text):
        segment(text[position:], position, False)
    return UrlDecoded("".join(pieces), tuple(decoded_starts), tuple(original_starts), tuple(escaped))


def base64_runs(text: str) -> list[tuple[int, int, str]]:
    """Each run of ``text`` that decodes as base64 (standard or URL-safe) to mostly printable text:
    its span and the decoded text."""
    runs = []
    for match in _BASE64_RUN.finditer(text):
        run = match.group(0)
        if len(run) > BASE64_RUN_LIMIT:
            continue
        decoded = _decode(run)
        if decoded is not None:
            runs.append((match.start(), match.end(), decoded))
    return runs


def _decode(run: str) -> str | None:
    body = run.rstrip("=")
    if len(body) % 4 == 1:
        return None
    padded = body + "=" * (-len(body) % 4)
    try:
        if "-" in body or "_" in body:
            raw = base64.urlsafe_b64decode(padded)
        else:
            raw = base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        return None
    text = raw.decode("utf-8", errors="replace")
    printable = sum(1 for char in text if char.isprintable() or char in "\n\t")
    return text if printable >= 0.9 * len(text) else None
