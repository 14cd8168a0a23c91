"""A reply's ``usage`` field (docs/storage.md): what the server reported of it, or for an imported
chat, where no server said, an estimate marked as one."""

from __future__ import annotations

from typing import Any

CHARS_PER_TOKEN = 4
"""About four characters a token in English text: estimates only, always marked ``estimated``."""


def estimated_usage(prompt_chars: int, reply_chars: int) -> dict[str, Any]:
    """A reply's usage estimated from the characters before it and in it."""
    return {
        "promptTokens": prompt_chars // CHARS_PER_TOKEN,
        "completionTokens": reply_chars // CHARS_PER_TOKEN,
        "estimated": True,
    }
