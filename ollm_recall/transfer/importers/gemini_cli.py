"""gemini-cli's recorded sessions: ``~/.gemini/tmp/<project hash>/chats/session-*.json``, one object with
``sessionId``, ``startTime``, ``lastUpdated`` and ``messages`` (``type`` ``user`` or ``gemini``; ``info``
and ``error`` notices are left out), or the same as JSON lines: the session's fields on one line, then a
line per message (a message written again, under the same ``id``, replaces the earlier one)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ...errors import ImportFormatError
from .conversation import Broken, Conversation, Items, Turn, iso_time
from .reading import export_files, problem_of

SOURCE = "gemini-cli"
_FILE = re.compile(r"^session-.*\.jsonl?$")
_ROLES = {"user": "user", "gemini": "assistant", "model": "assistant"}


def read(path: Path) -> Items:
    """Every session file where gemini-cli keeps them: ``path/tmp/*/chats`` (``path`` is ``~/.gemini``),
    ``path/*/chats`` (its ``tmp``), ``path`` itself when it is a ``chats`` folder, or one file. Only
    there: a folder is never walked in depth (``/tmp`` holds thousands of files that are not chats)."""
    if path.is_dir():
        files = [
            file
            for folder in _chat_folders(path)
            for file in sorted(folder.iterdir())
            if file.is_file() and _FILE.match(file.name)
        ]
        if not files:
            raise ImportFormatError(
                f"{path}: no gemini-cli chats here (it keeps them in ~/.gemini/tmp/<project>/chats)"
            )
        for file in files:
            yield from _sessions(file)
        return
    yield from _sessions(path)


def _chat_folders(path: Path) -> list[Path]:
    if path.name == "chats":
        return [path]
    for pattern in ("tmp/*/chats", "*/chats"):
        found = sorted(folder for folder in path.glob(pattern) if folder.is_dir())
        if found:
            return found
    return []


def _sessions(path: Path) -> Items:
    for name, raw in export_files(path, lambda file: bool(_FILE.match(file))):
        try:
            record = _jsonl(raw) if name.endswith(".jsonl") else json.loads(raw.decode("utf-8"))
            yield _conversation(record)
        except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as exc:
            yield Broken(name, f"not a gemini-cli session ({problem_of(exc)})")


def _jsonl(raw: bytes) -> dict[str, Any]:
    """One session object from its JSON lines (a last line cut off by a crash is left out)."""
    record: dict[str, Any] = {"messages": []}
    positions: dict[str, int] = {}
    lines = raw.decode("utf-8").splitlines()
    for number, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            if number == len(lines) - 1:
                break
            raise ValueError(f"line {number + 1} is not JSON") from None
        if "type" in entry and ("content" in entry or "id" in entry):
            key = entry.get("id")
            if isinstance(key, str) and key in positions:
                record["messages"][positions[key]] = entry
            else:
                if isinstance(key, str):
                    positions[key] = len(record["messages"])
                record["messages"].append(entry)
        else:
            record.update({k: v for k, v in entry.items() if k != "messages"})
            record["messages"].extend(entry.get("messages") or [])
    return record


def _conversation(record: dict[str, Any]) -> Conversation:
    session_id = record["sessionId"]
    if not isinstance(session_id, str) or not session_id:
        raise ValueError("no sessionId")
    turns, models = [], []
    for message in record["messages"]:
        role = _ROLES.get(message.get("type", ""))
        if role is None:
            continue
        turns.append(Turn(role, _text(message.get("content")), iso_time(message.get("timestamp"))))  # type: ignore[arg-type]
        if role == "assistant" and isinstance(message.get("model"), str):
            models.append(message["model"])
    first_user = next((t.text for t in turns if t.role == "user"), "")
    return Conversation(
        source=SOURCE,
        original_id=session_id,
        title=str(record.get("summary") or first_user[:80]),
        turns=turns,
        model=models[-1] if models else "gemini",
        created=iso_time(record.get("startTime")),
        updated=iso_time(record.get("lastUpdated")),
        metadata={"projectHash": record["projectHash"]} if isinstance(record.get("projectHash"), str) else {},
    )


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # parts, as the Gemini API writes them
        return "\n\n".join(
            str(part.get("text", "")) for part in content if isinstance(part, dict) and part.get("text")
        )
    return ""
