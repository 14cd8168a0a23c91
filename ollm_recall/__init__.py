"""ollm-recall: record every local-LLM chat crash-safely, search it, and bring it back.

Importing this package stays light: torch, whoosh and httpx load only when a feature needs them.
"""

from __future__ import annotations

from .archive.listing import SessionSummary
from .archive.manager import SessionManager
from .archive.recording import ChatRecordingService
from .archive.session import Message, Part, Session, ToolCall, validate_session_id
from .archive.store import Listing, SessionStore
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
