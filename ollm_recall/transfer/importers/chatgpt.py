"""ChatGPT's data export: ``conversations.json`` (newer exports split it over ``conversations-NNN.json``
files), each conversation a tree of message nodes in ``mapping``.

The conversation as the user last saw it is the branch from ``current_node`` up to the root; other
branches are edits and regenerations left behind. System and tool nodes, nodes marked hidden, and
content that is not text (images, reasoning summaries) are left out.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from .conversation import Conversation, Items, Turn, branch_to, epoch_time
from .reading import conversations_in

SOURCE = "chatgpt"
_FILE = re.compile(r"^conversations(-\d+)?\.json$")
_ROLES = {"user": "user", "assistant": "assistant"}


def read(path: Path) -> Items:
    """Every conversation of a ChatGPT export (a zip, its folder, or a conversations file)."""
    return conversations_in(path, lambda file: bool(_FILE.match(file)), _conversation, "ChatGPT")


def _conversation(item: dict[str, Any]) -> Conversation:
    if "mapping" not in item and "chat_messages" in item:
        raise ValueError("it looks like a Claude export: `ollm import claude PATH` reads it")
    original_id = item.get("conversation_id") or item.get("id")
    if not isinstance(original_id, str) or not original_id:
        raise ValueError("no conversation id")
    mapping = item["mapping"]
    if not isinstance(mapping, dict):
        raise TypeError("mapping is not an object")
    turns: list[Turn] = []
    models: list[str] = []
    branch = _current_branch(mapping, item.get("current_node"))
    on_branch = {id(node) for node in branch}
    left_out = {
        "messages on other branches (edited or regenerated)": sum(
            1 for node in mapping.values() if id(node) not in on_branch and _is_said(node)
        ),
        "attachments (files and images; their text is not in the export)": 0,
    }
    for node in branch:
        message = node.get("message")
        if not isinstance(message, dict):
            continue
        role = _ROLES.get((message.get("author") or {}).get("role", ""))
        metadata = message.get("metadata") or {}
        if role is None or metadata.get("is_visually_hidden_from_conversation"):
            continue
        left_out["attachments (files and images; their text is not in the export)"] += _attachments(message)
        text = _text(message.get("content") or {})
        if not text.strip():
            continue
        turns.append(Turn(role, text, epoch_time(message.get("create_time"))))  # type: ignore[arg-type]
        if role == "assistant" and isinstance(metadata.get("model_slug"), str):
            models.append(metadata["model_slug"])
    model = models[-1] if models else item.get("default_model_slug") or "chatgpt"
    return Conversation(
        source=SOURCE,
        original_id=original_id,
        title=str(item.get("title") or ""),
        turns=turns,
        model=str(model),
        created=epoch_time(item.get("create_time")),
        updated=epoch_time(item.get("update_time")),
        left_out={kind: count for kind, count in left_out.items() if count},
    )


def _is_said(node: Any) -> bool:
    """Whether a node is a user's or assistant's message with text (not the root or a hidden one)."""
    message = node.get("message") if isinstance(node, dict) else None
    if not isinstance(message, dict) or (message.get("metadata") or {}).get(
        "is_visually_hidden_from_conversation"
    ):
        return False
    return (message.get("author") or {}).get("role") in _ROLES and bool(
        _text(message.get("content") or {}).strip()
    )


def _attachments(message: dict[str, Any]) -> int:
    """Files attached to a message, and images or other non-text parts of its content."""
    attached = (message.get("metadata") or {}).get("attachments") or []
    parts = (message.get("content") or {}).get("parts") or []
    pictures = [part for part in parts if isinstance(part, dict) and not part.get("text")]
    return (len(attached) if isinstance(attached, list) else 0) + len(pictures)


def _current_branch(mapping: dict[str, Any], current: Any) -> list[dict[str, Any]]:
    """The nodes from the root down to ``current_node`` (or, without one, down the first children)."""
    if isinstance(current, str) and current in mapping:
        return branch_to(mapping, current, "parent")
    roots = [key for key, node in mapping.items() if not node.get("parent")]
    branch, visited = [], set()
    key = roots[0] if roots else None
    while key is not None and key not in visited:
        visited.add(key)
        branch.append(mapping[key])
        children = [c for c in mapping[key].get("children") or [] if c in mapping]
        key = children[-1] if children else None
    return branch


def _text(content: dict[str, Any]) -> str:
    """The readable text of a message's content: text parts, code, and the text in mixed parts."""
    kind = content.get("content_type")
    if kind in ("text", "multimodal_text"):
        parts = content.get("parts") or []
        return "\n\n".join(
            part if isinstance(part, str) else str(part.get("text", ""))
            for part in parts
            if isinstance(part, str) or isinstance(part, dict)
        ).strip()
    if kind == "code":
        language = content.get("language") or ""
        code = str(content.get("text") or "")
        return f"```{language if language != 'unknown' else ''}\n{code}\n```" if code.strip() else ""
    return ""
