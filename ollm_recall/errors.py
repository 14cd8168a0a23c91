"""The one exception tree of ollm-recall.

Every error the library raises on purpose is an ``OllmRecallError``; its message is one line that says
what happened and, where there is something to do, what to do::

    OllmRecallError                 anything ollm-recall reports on purpose
    ├── SessionError                a session could not be created, read, written or found
    │   ├── InvalidSessionId        an id breaks the id rules (empty, too long, '/', '\\', '..')
    │   ├── SessionNotFound         no session has this id
    │   ├── CorruptSession          a session file is unreadable or breaks the format
    │   ├── SessionLocked           another live process is recording into this session
    │   └── SessionWriteError       a session could not be saved; the previous file is untouched
    ├── ArchiveError                the sessions directory itself is missing or unreadable
    ├── IndexProblem                the search index cannot be used as it is
    │   ├── IndexMissing            there is no index yet
    │   └── IndexCorrupt            the index is damaged, or of another format or model
    ├── IndexBusy                   another process is writing the index (readers go on without it)
    ├── EmbeddingModelMissing       the bundled embedding model package is not installed
    ├── ExportError                 an export could not be written (unknown format, unwritable folder)
    ├── ImportFormatError           another tool's export cannot be read (the file and place named)
    ├── ChatError                   a model server could not give a reply
    │   ├── ServerUnreachable       nothing answers at the base URL (or it timed out)
    │   ├── ModelNotFound           the server does not have the model; the message lists what it has
    │   ├── ServerError             the server answered with an HTTP error; its own message is quoted
    │   │   └── ToolsUnsupported    ...to a request offering tools, which the server or model does not take
    │   └── StreamBroken            the reply stream was cut off or malformed part-way
    ├── ConfigError                 config.toml is unreadable or has a bad value
    └── UsageError                  a bad argument value (a date, a limit) reached the library

What still works, less well, is said with an ``OllmRecallWarning`` through ``warnings`` (the CLI prints
it as ``warning: ...``); library code never prints.
"""

from __future__ import annotations


class OllmRecallError(Exception):
    """Base class: anything ollm-recall reports on purpose, with a one-line message."""


class SessionError(OllmRecallError):
    """A session could not be created, read, written or found."""


class InvalidSessionId(SessionError):
    """An id breaks the id rules; raised before any file is touched."""


class SessionNotFound(SessionError):
    """No session has this id."""


class CorruptSession(SessionError):
    """A session file is unreadable or breaks the format; the file is left as it is."""


class SessionLocked(SessionError):
    """Another live process is recording into this session."""


class SessionWriteError(SessionError):
    """A session could not be saved; the previous version of its file is untouched."""


class ArchiveError(OllmRecallError):
    """The sessions directory itself is missing, unreadable or not a directory."""


class ArchiveReadOnly(OllmRecallError):
    """The file system refuses a write in the archive (mounted read-only, or not ours to write):
    reading goes on from what is there, anything that must write says so in one line."""


class IndexProblem(OllmRecallError):
    """The search index cannot be used as it is; the message says to run ``ollm index --rebuild``."""


class IndexMissing(IndexProblem):
    """There is no index yet."""


class IndexCorrupt(IndexProblem):
    """The index is damaged, or was built in another format or with another model."""


class IndexBusy(OllmRecallError):
    """Another process holds the index lock: a writer leaves the work to it, a reader never needs it."""


class EmbeddingModelMissing(OllmRecallError):
    """The bundled embedding model package is not installed; nothing is ever downloaded."""


class ExportError(OllmRecallError):
    """An export could not be written: an unknown format or an unwritable folder."""


class ImportFormatError(OllmRecallError):
    """Another tool's export cannot be read at all; the message names the file and the place."""


class ChatError(OllmRecallError):
    """A model server could not give a reply."""


class ServerUnreachable(ChatError):
    """Nothing answers at the base URL, or the server did not answer in time."""


class ModelNotFound(ChatError):
    """The server does not have the model asked for; the message lists the models it has."""


class ServerError(ChatError):
    """The server answered with an HTTP error; the message quotes the server's own words."""


class ToolsUnsupported(ServerError):
    """The server or model refused a request that offered tools (the chat then goes on without)."""


class StreamBroken(ChatError):
    """The reply stream ended early or carried a line that is not what the protocol says."""

    def __init__(self, message: str, partial: str = "") -> None:
        super().__init__(message)
        self.partial = partial


class ConfigError(OllmRecallError):
    """``config.toml`` cannot be read, or one of its values is of the wrong kind."""


class UsageError(OllmRecallError, ValueError):
    """A bad argument value (a date, a limit) reached the library."""


class OllmRecallWarning(UserWarning):
    """Something works less well than it should and goes on (a damaged ranking model: first-stage order)."""


class KeyProblem(OllmRecallError):
    """The archive key cannot be made, read or unlocked (a wrong passphrase, a missing key file); the
    message names the key id."""
