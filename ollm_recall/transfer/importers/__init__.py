"""Importing other tools' chat history into the archive, idempotently.

Each source reads its export into conversations (or, for ollm files, sessions). A conversation becomes
a session whose id is derived from the source's own conversation id; importing the same export again
finds it and adds nothing, and a newer export adds only what is new. An existing session is replaced
only when the source conversation grew (the archive's messages are its first ones), and atomically;
anything else already in the archive is never touched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ...archive.session import Session
from ...archive.store import SessionStore
from ...archive.tombstones import deleted_sessions
from ...errors import CorruptSession, UsageError
from . import chatgpt, claude, gemini_cli, llm_logs, ollm_files, openwebui
from .conversation import Broken, Conversation, Items, imported_session_id, messages_hash, to_session

SOURCES: dict[str, Callable[[Path], Items]] = {
    chatgpt.SOURCE: chatgpt.read,
    claude.SOURCE: claude.read,
    openwebui.SOURCE: openwebui.read,
    llm_logs.SOURCE: llm_logs.read,
    gemini_cli.SOURCE: gemini_cli.read,
    ollm_files.SOURCE: ollm_files.read,
}


@dataclass
class ImportReport:
    """What an import did (or, with ``dry_run``, would do)."""

    source: str
    dry_run: bool
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    broken: list[tuple[str, str]] = field(default_factory=list)
    redacted: int = 0
    """Secrets replaced in what was (or would be) written."""
    left_out: dict[str, int] = field(default_factory=dict)
    """What the export held that the sessions written do not keep, counted by kind."""

    def summary(self) -> str:
        verb = "would import" if self.dry_run else "imported"
        plural = "s" if self.redacted != 1 else ""
        secrets = f", {self.redacted} secret{plural} redacted" if self.redacted else ""
        return (
            f"{verb} from {self.source}: {len(self.added)} added, {len(self.updated)} updated, "
            f"{len(self.unchanged)} unchanged, {len(self.skipped)} skipped, "
            f"{len(self.broken)} broken{secrets}"
        )

    def to_json(self) -> dict[str, object]:
        return {
            "source": self.source,
            "dry_run": self.dry_run,
            "added": self.added,
            "updated": self.updated,
            "unchanged": len(self.unchanged),
            "skipped": [{"session": sid, "reason": reason} for sid, reason in self.skipped],
            "broken": [{"where": where, "reason": reason} for where, reason in self.broken],
            "redacted": self.redacted,
            "leftOut": self.left_out,
        }


def import_export(
    store: SessionStore,
    source: str,
    path: Path,
    *,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import ``path`` (a zip, folder or file of ``source``'s export) into ``store``.

    ``progress(1)`` after each conversation. Raises ``ImportFormatError`` when the export cannot be read
    at all; a conversation that cannot be read is reported in ``broken`` and the rest import.
    """
    if source not in SOURCES:
        raise UsageError(f"unknown source {source!r}: use one of {', '.join(SOURCES)}")
    report = ImportReport(source, dry_run)
    # A dry run remembers what it would have written, for exports that repeat a conversation; a real
    # run finds it on disk (keeping ten thousand sessions in memory would cost hundreds of MB).
    planned: dict[str, Session] = {}
    deleted = deleted_sessions(store.directory)
    for item in SOURCES[source](Path(path)):
        if progress is not None:
            progress(1)
        if isinstance(item, Broken):
            report.broken.append((item.where, item.reason))
            continue
        if isinstance(item, Conversation):
            for kind, count in item.left_out.items():
                report.left_out[kind] = report.left_out.get(kind, 0) + count
            session = to_session(item)
            if session is None:
                report.skipped.append((imported_session_id(source, item.original_id), "no message with text"))
                continue
        else:
            session = item
            session.metadata.setdefault("importedFrom", ollm_files.SOURCE)
        sid = session.session_id
        if sid in deleted:  # deleted here or on a device sharing the folder: it stays deleted
            report.skipped.append((sid, "deleted earlier"))
            continue
        existing = planned[sid] if sid in planned else _existing(store, sid, report)
        if existing is False:
            continue
        action = _decide(_as_stored(store, existing), _as_stored(store, session) or session)
        if action == "unchanged":
            if sid not in report.added and sid not in report.updated:
                report.unchanged.append(sid)
            continue
        if action != "write":
            report.skipped.append((sid, action))
            continue
        if not dry_run:
            if existing is not None:
                session = _carry_over(existing, session)
            report.redacted += len(store.write(session))
        elif store.redactor is not None:
            report.redacted += len(store.redactor.redact_session(session)[1])
        if dry_run:
            planned[sid] = session
        if existing is None:
            report.added.append(sid)
        elif sid not in report.added and sid not in report.updated:
            report.updated.append(sid)
    return report


def _existing(store: SessionStore, session_id: str, report: ImportReport) -> Session | None | Literal[False]:
    """The archive's session of this id, None if there is none, False (reported) if it is unreadable."""
    if not store.exists(session_id):
        return None
    try:
        return store.read(session_id)
    except CorruptSession as exc:
        report.skipped.append((session_id, f"the archive's copy is unreadable, left as it is ({exc})"))
        return False


def _as_stored(store: SessionStore, session: Session | None) -> Session | None:
    """The session as the store would save it (secrets redacted), so that an export compares equal
    to its earlier import however the secrets in either were stored."""
    if session is None or store.redactor is None:
        return session
    return store.redactor.redact_session(session)[0]


def _decide(existing: Session | None, incoming: Session) -> str:
    """``write``, ``unchanged``, or why the incoming session is not written."""
    if existing is None:
        return "write"
    if messages_hash(existing.messages) == messages_hash(incoming.messages):
        return "unchanged"
    source = incoming.metadata.get("importedFrom")
    if source != ollm_files.SOURCE and existing.metadata.get("importedFrom") != source:
        return "an archive session not imported from this source already has this id"
    old, new = existing.messages, incoming.messages
    grew = len(new) > len(old) and all(
        (a.role, a.content) == (b.role, b.content) for a, b in zip(old, new[: len(old)], strict=True)
    )
    if grew:
        return "write"
    return "the archive's copy differs and the export does not continue it: kept as it is"


def _carry_over(existing: Session, incoming: Session) -> Session:
    """The grown session, keeping what the archive added to the old one's metadata (a pin, say)."""
    merged = dict(existing.metadata)
    merged.update(incoming.metadata)
    incoming.metadata = merged
    return incoming


__all__ = ["SOURCES", "ImportReport", "import_export"]
