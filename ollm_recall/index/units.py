"""What a session is cut into for embedding: each message's text in overlapping windows of words."""

from __future__ import annotations

from ..archive.session import Session

CHUNK_WORDS = 120
CHUNK_STEP = 100


def chunk_text(text: str) -> list[str]:
    """Overlapping windows of about 120 words: MiniLM reads only its first 256 word pieces, so a long
    reply embedded whole would be represented by its opening alone."""
    words = text.split()
    if len(words) <= CHUNK_WORDS:
        return [text]
    return [
        " ".join(words[start : start + CHUNK_WORDS])
        for start in range(0, len(words) - (CHUNK_WORDS - CHUNK_STEP), CHUNK_STEP)
    ]


def embedding_units(session: Session, first: int) -> list[tuple[int, int, str]]:
    """(message index, chunk index, text) of what is embedded, from message ``first`` on."""
    return [
        (index, chunk_number, chunk)
        for index, message in enumerate(session.messages[first:], start=first)
        if not message.exclude_from_context and message.content.strip()
        for chunk_number, chunk in enumerate(chunk_text(message.content))
    ]
