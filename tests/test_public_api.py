"""The public surface is pinned, and importing it stays light."""

from __future__ import annotations

import subprocess
import sys

import ollm_recall


def test_public_names():
    assert ollm_recall.__all__ == sorted(ollm_recall.__all__)
    assert ollm_recall.__all__ == [
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
    for name in ollm_recall.__all__:
        assert hasattr(ollm_recall, name)


def test_errors_form_one_tree():
    for name in ollm_recall.__all__:
        value = getattr(ollm_recall, name)
        if isinstance(value, type) and issubclass(value, Exception):
            assert issubclass(value, ollm_recall.OllmRecallError)


def test_import_and_help_load_no_heavy_modules():
    heavy = ["torch", "sentence_transformers", "whoosh", "httpx", "numpy"]
    code = f"import sys, ollm_recall, ollm_recall.cli.app\nprint([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
