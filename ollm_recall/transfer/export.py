"""Sessions out as markdown a person wants to read and share, a static HTML site, JSON lines, or the
JSON of the file, each format one ``Exporter`` in ``EXPORTERS`` (as importers are in ``SOURCES``).

Export only reads: it never changes a session file. What it writes is redacted as a save would be
(the store's redactor), so a secret an older save left in a file does not reach the export.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .._atomic import make_private_dir, write_atomic
from .._jsonio import dumps_compact
from ..archive.session import Session
from ..errors import ExportError, SessionNotFound
from .html_export import index_page, session_page
from .markdown import IndexEntry, markdown_index, to_markdown

if TYPE_CHECKING:
    from ..archive.redaction import Finding, Redactor
    from ..archive.store import SessionStore


@dataclass(frozen=True)
class Exporter:
    """One export format: a session's bytes in it, and what else the folder gets: an index page beside
    the per-session files (``index``), or every session in one file instead (``one_file``)."""

    suffix: str
    render: Callable[[Session, bytes], bytes]
    index: tuple[str, Callable[[list[IndexEntry], list[tuple[str, str]]], str]] | None = None
    one_file: str | None = None


@dataclass(frozen=True)
class ExtraPage:
    """A page the folder gets beside the sessions (the stats page of an HTML site), linked from its index."""

    name: str
    link_text: str
    content: bytes


EXPORTERS: dict[str, Exporter] = {
    "md": Exporter(
        ".md", lambda session, _raw: to_markdown(session).encode("utf-8"), index=("index.md", markdown_index)
    ),
    "json": Exporter(".json", lambda _session, raw: raw),
    "html": Exporter(
        ".html", lambda session, _raw: session_page(session).encode("utf-8"), index=("index.html", index_page)
    ),
    "jsonl": Exporter(
        ".jsonl", lambda session, _raw: dumps_compact(session.to_dict()) + b"\n", one_file="sessions.jsonl"
    ),
}
FORMATS = tuple(EXPORTERS)


def check_format(name: str) -> str:
    """Return a known export format name or raise ``ExportError`` naming the known ones."""
    if name not in EXPORTERS:
        raise ExportError(f"unknown export format {name!r}: use one of {', '.join(FORMATS)}")
    return name


def file_suffix(fmt: str) -> str:
    return EXPORTERS[check_format(fmt)].suffix


def exportable(
    session: Session, raw: bytes, redactor: Redactor | None
) -> tuple[Session, bytes, list[Finding]]:
    """The session (and its file's bytes) as an export may hold it: with the secrets an older save
    left in the file redacted, and those secrets' findings. The file itself is left as it is
    (``ollm redact`` rewrites it)."""
    if redactor is None:
        return session, raw, []
    clean, findings = redactor.redact_session(session)
    if not findings:
        return session, raw, []
    return clean, dumps_compact(clean.to_dict()), findings


def render(session: Session, raw: bytes, fmt: str) -> bytes:
    """One session in an export format: markdown, an HTML page, one JSON line, or the file's own bytes."""
    return EXPORTERS[check_format(fmt)].render(session, raw)


def export_to_directory(
    store: SessionStore,
    session_ids: list[str],
    fmt: str,
    out_dir: Path,
    *,
    progress: Callable[[int], None] | None = None,
    redacted: Callable[[str, list[Finding]], None] | None = None,
    extra_pages: list[ExtraPage] | None = None,
) -> list[Path]:
    """Write the sessions into ``out_dir``; returns the files written.

    Secrets still in a session file are redacted in what is written (``exportable``, with the store's
    redactor); ``redacted(session_id, findings)`` is told of each session that had some.

    ``md`` and ``html`` write a file per session and an index (``index.md``, ``index.html``: a page
    with a filter box, linking ``extra_pages`` too), ``json`` a copy of each file, ``jsonl`` one
    ``sessions.jsonl``. Every id is checked before the first file is written, so an unknown id exports
    nothing; sessions are then read one at a time, so an export of the whole archive needs little
    memory. Refuses the sessions
    directory and any folder inside it: an export must never write over, or beside, a session file.
    """
    exporter = EXPORTERS[check_format(fmt)]
    out_dir = Path(out_dir)
    sessions = store.directory.resolve()
    if out_dir.resolve() == sessions or sessions in out_dir.resolve().parents:
        raise ExportError(f"refusing to export into the sessions directory {store.directory}")
    for session_id in session_ids:
        if not store.exists(session_id):
            raise SessionNotFound(f"no session with id {session_id!r} in {store.directory}")
    try:
        make_private_dir(out_dir)  # as private as the archive: 0700 folders, 0600 files
    except OSError as exc:
        raise ExportError(f"cannot create {out_dir}: {exc.strerror}") from None
    refuse_shared_folder(out_dir)
    written: list[Path] = []
    entries: list[IndexEntry] = []
    lines: list[bytes] = []
    for session_id in session_ids:
        session, raw, findings = exportable(*store.read_with_bytes(session_id), store.redactor)
        if findings and redacted is not None:
            redacted(session_id, findings)
        if exporter.one_file is not None:
            lines.append(exporter.render(session, raw))
        else:
            target = out_dir / f"{session.session_id}{exporter.suffix}"
            written.append(_write(target, exporter.render(session, raw)))
        entries.append(IndexEntry.of(session))
        if progress is not None:
            progress(1)
    if exporter.one_file is not None:
        written.append(_write(out_dir / exporter.one_file, b"".join(lines)))
    links = []
    for page in extra_pages or []:
        written.append(_write(out_dir / page.name, page.content))
        links.append((page.name, page.link_text))
    if exporter.index is not None:
        name, make_index = exporter.index
        written.append(_write(out_dir / name, make_index(entries, links).encode("utf-8")))
    return written


def refuse_shared_folder(directory: Path) -> None:
    """Raise ``ExportError`` when another user could write in ``directory`` (world-writable, writable
    by a group with other members, or owned by someone else): such a user could swap what is written
    there, or read a page before it is moved into place."""
    info = directory.stat()
    owner_ok = info.st_uid in (os.getuid(), 0)
    shared = bool(info.st_mode & stat.S_IWOTH) or (
        bool(info.st_mode & stat.S_IWGRP) and _group_has_others(info.st_gid)
    )
    if shared or not owner_ok:
        who = "another user owns it" if not owner_ok else "other users can write in it"
        raise ExportError(f"refusing to export into {directory}: {who}; choose a folder of your own")


def _group_has_others(gid: int) -> bool:
    """Whether a user other than the current one belongs to group ``gid`` (a private user group
    is not sharing)."""
    import grp
    import pwd

    me = os.getuid()
    try:
        group = grp.getgrgid(gid)
        members = set(group.gr_mem)
        members.update(user.pw_name for user in pwd.getpwall() if user.pw_gid == gid)
        mine = {user.pw_name for user in pwd.getpwall() if user.pw_uid == me}
    except KeyError:
        return True  # a group the system cannot name: assume the worst
    return bool(members - mine)


def _write(target: Path, data: bytes) -> Path:
    try:
        write_atomic(target, data, mode=0o600)
    except OSError as exc:
        raise ExportError(f"cannot write {target}: {exc.strerror}") from None
    return target
