"""Exports encrypted with age (``ollm export --encrypt-to``): backups others can open with the ``age``
tool (or ``rage``), to their x25519 key (``age1...``) or an ssh public key, through ``pyrage``."""

from __future__ import annotations

from typing import Any

from ..errors import UsageError


def age_recipients(texts: list[str]) -> list[Any]:
    """Each ``--encrypt-to`` value as an age recipient; ``UsageError`` naming one that is neither an
    age key nor an ssh public key."""
    from pyrage import RecipientError, ssh, x25519

    recipients = []
    for text in texts:
        text = text.strip()
        kind = x25519.Recipient if text.startswith("age1") else ssh.Recipient
        try:
            recipients.append(kind.from_str(text))
        except RecipientError as exc:
            shown = text if len(text) <= 40 else text[:37] + "..."
            raise UsageError(
                f"--encrypt-to {shown!r} is not an age recipient (age1...) or ssh key: {exc}"
            ) from None
    return recipients


def encrypt_to(data: bytes, recipients: list[Any]) -> bytes:
    """``data`` as an age file (binary) only the recipients' keys open."""
    import pyrage

    return bytes(pyrage.encrypt(data, recipients))
