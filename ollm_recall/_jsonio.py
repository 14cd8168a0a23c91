"""JSON in and out of session files: strict on the way in, fast and lossless on the way out."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import orjson

MAX_NESTING = 100
JSON_KINDS: dict[type, str] = {
    str: "a string",
    list: "an array",
    dict: "an object",
    int: "an integer",
    bool: "a boolean",
}


class JSONProblem(ValueError):
    """The bytes are not a JSON document a session file may hold; the message says why, in one line."""


def _reject_constant(name: str) -> Any:
    raise JSONProblem(f"{name} is not valid JSON")


def loads_strict(raw: bytes) -> Any:
    """Parse UTF-8 JSON exactly: no NaN, no lost precision in large integers, bounded nesting.

    The standard library parser is used because it keeps integers of any size, which a round trip of
    another tool's keys must preserve.
    """
    if not raw.strip():
        raise JSONProblem("empty file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JSONProblem(f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start})") from None
    text = text.removeprefix("\ufeff")
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        cut_short = exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string")
        problem = "truncated JSON" if cut_short else "malformed JSON"
        raise JSONProblem(f"{problem}: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except RecursionError:
        raise JSONProblem(f"JSON nested too deeply (more than {MAX_NESTING} levels)") from None
    if _nesting_depth(value) > MAX_NESTING:
        raise JSONProblem(f"JSON nested too deeply (more than {MAX_NESTING} levels)")
    return value


def _nesting_depth(value: Any) -> int:
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children: Iterable[Any]
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        deepest = max(deepest, depth)
        if depth > MAX_NESTING:
            return depth
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


def dumps_compact(value: Any) -> bytes:
    """Serialise to compact UTF-8 JSON; orjson for speed, the standard library where orjson refuses."""
    try:
        return orjson.dumps(value)
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def dumps_pretty(value: Any) -> bytes:
    """Indented UTF-8 JSON for people and pipes (``--json``)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_INDENT_2)
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(value, ensure_ascii=False, indent=2).encode("utf-8")


def kind_name(kind: type | tuple[type, ...], names: dict[type, str] = JSON_KINDS) -> str:
    """What an error calls a value's expected kind (``"a string or an array"``), in ``names``' words."""
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)
