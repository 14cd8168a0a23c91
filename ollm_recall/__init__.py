"""ollm-recall: record every local-LLM chat crash-safely, search it, and bring it back.

Importing this package stays light: the main types load on first use, and torch, whoosh and httpx
only when a feature needs them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import (
    ArchiveError,
    CorruptSession,
    ExportError,
    InvalidSessionId,
    OllmRecallError,
    SessionError,
    SessionLocked,
    SessionNotFound,
    SessionWriteError,
    UsageError,
)

if TYPE_CHECKING:
    from .archive.listing import SessionSummary
    from .archive.manager import SessionManager
    from .archive.recording import ChatRecordingService
    from .archive.session import Message, Part, Session, ToolCall, validate_session_id
    from .archive.store import Listing, SessionStore

_LAZY = {
    "SessionSummary": "archive.listing",
    "SessionManager": "archive.manager",
    "ChatRecordingService": "archive.recording",
    "Message": "archive.session",
    "Part": "archive.session",
    "Session": "archive.session",
    "ToolCall": "archive.session",
    "validate_session_id": "archive.session",
    "Listing": "archive.store",
    "SessionStore": "archive.store",
}
"""The main types, imported on first use (PEP 562): ``import ollm_recall`` stays cheap for the CLI."""


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ollm_recall' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


__version__ = "0.1.0"

__all__ = [
    "ArchiveError",
    "ChatRecordingService",
    "CorruptSession",
    "ExportError",
    "InvalidSessionId",
    "Listing",
    "Message",
    "OllmRecallError",
    "Part",
    "Session",
    "SessionError",
    "SessionLocked",
    "SessionManager",
    "SessionNotFound",
    "SessionStore",
    "SessionSummary",
    "SessionWriteError",
    "ToolCall",
    "UsageError",
    "__version__",
    "validate_session_id",
]
