"""Claude.ai's data export: ``conversations.json``, a list of conversations, each with its
``chat_messages`` in order (``sender`` ``human`` or ``assistant``; the text in ``text`` or in the text
items of ``content``). The export does not say which model answered."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .conversation import Conversation, Items, Turn, iso_time
from .reading import conversations_in

SOURCE = "claude"
_ROLES = {"human": "user", "user": "user", "assistant": "assistant"}


def read(path: Path) -> Items:
    """Every conversation of a Claude export (a zip, its folder, or ``conversations.json``)."""
    return conversations_in(path, lambda file: file == "conversations.json", _conversation, "Claude")


def _conversation(item: dict[str, Any]) -> Conversation:
    original_id = item["uuid"]
    if not isinstance(original_id, str) or not original_id:
        raise ValueError("no conversation uuid")
    messages = item["chat_messages"]
    if not isinstance(messages, list):
        raise TypeError("chat_messages is not a list")
    turns = []
    for message in messages:
        role = _ROLES.get(message.get("sender", ""))
        if role is None:
            continue
        turns.append(Turn(role, _text(message), iso_time(message.get("created_at"))))  # type: ignore[arg-type]
    return Conversation(
        source=SOURCE,
        original_id=original_id,
        title=str(item.get("name") or ""),
        turns=turns,
        model=str(item.get("model") or "claude"),
        created=iso_time(item.get("created_at")),
        updated=iso_time(item.get("updated_at")),
    )


def _text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):
        texts = [
            str(part.get("text", ""))
            for part in content
            if isinstance(part, dict) and part.get("type") == "text"
        ]
        if any(text.strip() for text in texts):
            return "\n\n".join(text for text in texts if text.strip())
    return str(message.get("text") or "")
