"""ollm-recall: record every local-LLM chat crash-safely, search it, and bring it back.

Importing this package stays light: torch, whoosh and httpx load only when a feature needs them.
"""

from __future__ import annotations

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
from .manager import SessionManager
from .model import Message, Part, Session, ToolCall, validate_session_id
from .recording import ChatRecordingService
from .store import Listing, SessionStore
from .summary import SessionSummary

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
