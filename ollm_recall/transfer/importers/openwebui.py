"""Open WebUI's "export all chats" JSON: a list of chats, each with its messages as a tree in
``chat.history`` (``messages`` by id, ``parentId`` links, ``currentId`` the message last shown). A single
chat's export (the inner ``chat`` object alone) is read too."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from .conversation import Conversation, Items, Turn, branch_to, epoch_time
from .reading import conversations_in

SOURCE = "openwebui"
_ROLES = {"user": "user", "assistant": "assistant"}


def read(path: Path) -> Items:
    """Every chat of an Open WebUI export (a JSON file, or a folder or zip of them)."""
    return conversations_in(
        path, lambda file: file.endswith(".json"), _conversation, "Open WebUI", single=True
    )


def _conversation(item: Any) -> Conversation:
    if isinstance(item, dict) and isinstance(item.get("chat"), dict):
        outer, chat = item, item["chat"]
    elif isinstance(item, dict) and ("history" in item or "messages" in item):
        outer, chat = {}, item
    else:
        raise TypeError("no chat in this entry")
    messages = _current_branch(chat)
    first_id = messages[0].get("id") if messages else None
    original_id = outer.get("id") or chat.get("id") or first_id or _content_id(outer, chat, messages)
    turns, models = [], []
    for message in messages:
        role = _ROLES.get(message.get("role", ""))
        if role is None:
            continue
        turns.append(Turn(role, str(message.get("content") or ""), epoch_time(message.get("timestamp"))))  # type: ignore[arg-type]
        if role == "assistant" and isinstance(message.get("model"), str):
            models.append(message["model"])
    listed = chat.get("models") or []
    model = models[-1] if models else (listed[0] if listed else "openwebui")
    return Conversation(
        source=SOURCE,
        original_id=original_id,
        title=str(outer.get("title") or chat.get("title") or ""),
        turns=turns,
        model=str(model),
        created=epoch_time(outer.get("created_at") or chat.get("timestamp")),
        updated=epoch_time(outer.get("updated_at")),
    )


def _content_id(outer: dict[str, Any], chat: dict[str, Any], messages: list[dict[str, Any]]) -> str:
    """An id for a chat exported without one, from what does not change when it grows (its title,
    creation time and first message): two such chats no longer share an id, and a re-import of the
    same chat finds it again."""
    first = messages[0] if messages else {}
    key = [
        outer.get("title") or chat.get("title"),
        outer.get("created_at") or chat.get("timestamp"),
        first.get("id"),
        first.get("timestamp"),
        first.get("content"),
    ]
    return "content-" + hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:24]


def _current_branch(chat: dict[str, Any]) -> list[dict[str, Any]]:
    """The shown messages: from ``history.currentId`` back to the first, else the ``messages`` list."""
    history = chat.get("history") or {}
    by_id = history.get("messages") or {}
    current = history.get("currentId")
    if isinstance(by_id, dict) and isinstance(current, str) and current in by_id:
        return branch_to(by_id, current, "parentId")
    listed = chat.get("messages") or []
    if not isinstance(listed, list):
        raise TypeError("messages is not a list")
    return [m for m in listed if isinstance(m, dict)]
