"""Checking an archive and its index, and repairing what is derived.

``examine`` finds what is wrong, one finding a problem: session files that cannot be read (with the
reason), temp files left by crashed writers, sessions the index lacks and index entries whose session
is gone, an index of another format or embedding model, files and folders others may read, sync tools'
conflict copies. ``repair`` fixes only what can be rebuilt or is not content: the index, temp files,
permissions; it never changes a session file it cannot read (a mode change leaves its bytes as they
were). The one write of content is a conflict copy's merge: the joined session is written first, and
the copy is removed only once all it holds is found in what was written.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .archive.encryption import ENCRYPTED_SUFFIX
from .archive.keys import key_file_path, read_key_file
from .archive.sealed_files import MAGIC as SEALED_MAGIC
from .archive.sealed_files import is_sealed
from .archive.session_file import session_id_of
from .archive.shared_folder import merge_conflicts, remove_deleted
from .archive.store import store_for_home
from .archive.tombstones import deleted_sessions
from .archive.unlocking import archive_key, encrypting
from .errors import ArchiveReadOnly, IndexMissing, IndexProblem, KeyProblem, OllmRecallError
from .home import index_dir_for, sessions_dir
from .index.background import running_worker
from .index.indexer import Index
from .index.sealing import derived_files
from .index.textsearch import ANALYSIS_VERSION, TextIndex
from .index.vector_segments import check_segment


@dataclass
class Diagnosis:
    """One problem: what kind, where, in a line, and whether ``repair`` can fix it."""

    kind: str
    path: Path
    message: str
    fixable: bool
    fixed: bool = False

    def to_json(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "path": str(self.path),
            "message": self.message,
            "fixable": self.fixable,
            "fixed": self.fixed,
        }


GROUPED = {
    "permissions": "{count} files and folders are readable by others (want 0600 files, 0700 folders)",
    "not-indexed": "{count} sessions are not in the index",
}
"""Kinds said in one line with a count when there are several (47 permission lines help nobody)."""
NAMED = 5
"""How many paths such a line names before "and N more"."""


@dataclass
class Examination:
    """All findings about one archive."""

    findings: list[Diagnosis] = field(default_factory=list)
    nothing_recorded: bool = False
    """The home has no sessions folder yet: a fresh home, not a problem."""
    refusals: dict[str, list[Path]] = field(default_factory=dict)
    """Why ``repair`` could not fix some findings (a read-only archive), and where."""

    def could_not(self, path: Path, exc: OSError | OllmRecallError) -> None:
        reason = str(exc) if isinstance(exc, OllmRecallError) else str(exc.strerror or exc)
        self.refusals.setdefault(reason, []).append(path)

    @property
    def not_fixed(self) -> list[str]:
        """One line a reason ``repair`` met: the reason, the first path and how many more."""
        lines = []
        for reason, paths in self.refusals.items():
            more = f" and {len(paths) - 1} more" if len(paths) > 1 else ""
            lines.append(f"{reason} ({paths[0]}{more})")
        return lines

    @property
    def ok(self) -> bool:
        return all(finding.fixed for finding in self.findings)

    def add(self, kind: str, path: Path, message: str, *, fixable: bool = True) -> None:
        self.findings.append(Diagnosis(kind, path, message, fixable))

    def lines(self) -> list[tuple[str, bool, bool]]:
        """(message, fixable, fixed) to show, one a finding, except that several findings of a
        ``GROUPED`` kind make one line with their count."""
        shown: list[tuple[str, bool, bool]] = []
        kinds = [f.kind for f in self.findings]
        said: set[str] = set()
        for finding in self.findings:
            if finding.kind in GROUPED and kinds.count(finding.kind) > 1:
                if finding.kind in said:
                    continue
                said.add(finding.kind)
                group = [f for f in self.findings if f.kind == finding.kind]
                named = ", ".join(str(f.path) for f in group[:NAMED])
                more = f" and {len(group) - NAMED} more" if len(group) > NAMED else ""
                message = f"{GROUPED[finding.kind].format(count=len(group))}: {named}{more}"
                shown.append((message, finding.fixable, all(f.fixed for f in group)))
            else:
                shown.append((finding.message, finding.fixable, finding.fixed))
        return shown


def examine(home: Path, index_dir: Path | None = None) -> Examination:
    """Every problem of the archive at ``home`` and of its index."""
    result = Examination()
    store = store_for_home(home, index_dir)
    directory = sessions_dir(home)
    if not directory.is_dir():  # nothing recorded yet: nothing can be wrong
        result.nothing_recorded = True
        return result
    if not _check_encryption(result, home, index_dir, directory):
        return result
    listing = store.list()
    for problem in listing.problems:
        name, _, reason = str(problem).partition(": ")
        result.add(
            "invalid-session", directory / name, f"unreadable session file {name}: {reason}", fixable=False
        )
    for session_id, copies in sorted(listing.conflicts.items()):
        for copy in copies:
            result.add(
                "conflict-copy",
                copy,
                f"{copy.name}: a sync tool's conflict copy of {session_id}; --fix merges it into the session",
            )
    for session_id in sorted(deleted_sessions(directory)):
        back = store.file_for(session_id)
        if back.exists():
            result.add(
                "deleted-session",
                back,
                f"{back.name}: deleted on a device, back from another; --fix removes it",
            )
    for temp in store.stale_temp_files():
        result.add("temp-file", temp, f"temp file left by a writer that stopped: {temp.name}")
    _check_index(result, home, index_dir, {s.session_id: s.path for s in listing.sessions})
    _check_permissions(result, home, directory, index_dir_for(home, index_dir))
    return result


def _check_encryption(result: Examination, home: Path, index_dir: Path | None, directory: Path) -> bool:
    """The key file reads and unlocks, and an encrypted archive holds no plain session or derived
    file; False when the archive cannot be read at all (nothing else can be checked)."""
    if not key_file_path(directory).exists():
        return True
    try:
        read_key_file(directory)
        if not encrypting(directory):
            return True
        archive_key(directory)
    except KeyProblem as problem:
        result.add("key-file", key_file_path(directory), str(problem), fixable=False)
        return False
    plain = [
        path for path in store_for_home(home).session_files() if not path.name.endswith(ENCRYPTED_SUFFIX)
    ]
    if plain:
        result.add(
            "not-encrypted",
            plain[0],
            f"{len(plain)} session files are not encrypted ({plain[0].name}...): `ollm encrypt` does it",
            fixable=False,
        )
    unsealed = [path for path in derived_files(home, index_dir) if not _sealed(path)]
    if unsealed:
        result.add(
            "not-sealed",
            unsealed[0],
            f"{len(unsealed)} index and cache files are not encrypted ({unsealed[0].name}...): "
            "`ollm encrypt` seals them",
            fixable=False,
        )
    return True


def _sealed(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            return is_sealed(handle.read(len(SEALED_MAGIC))) or path.stat().st_size == 0
    except OSError:
        return True  # gone meanwhile


def _check_index(result: Examination, home: Path, index_dir: Path | None, on_disk: dict[str, Path]) -> None:
    index = Index(home, index_dir=index_dir)
    try:
        manifest = index.load_manifest()
    except IndexMissing:
        result.add("index-missing", index.directory, "no search index yet")
        return
    except IndexProblem as exc:
        result.add("index-outdated", index.directory, str(exc))
        return

    if manifest.analysis < ANALYSIS_VERSION:
        result.add(
            "index-outdated",
            index.directory,
            "the index was built before words such as C++ and node.js were kept whole and "
            "irregular forms (led, bought) met their base words: a rebuild makes them searchable",
        )
    for sid in sorted(set(on_disk) - set(manifest.sessions)):
        result.add("not-indexed", on_disk[sid], f"session {sid} is not in the index")
    for sid in sorted(set(manifest.sessions) - set(on_disk)):
        if index.store.exists(sid):
            why = "whose file cannot be read (see above)"
        else:
            why = "whose file is gone"
        result.add("stale-index-entry", index.directory, f"the index has session {sid}, {why}")

    pending = [sid for sid, entry in manifest.sessions.items() if entry.vectors_pending and sid in on_disk]
    if pending and running_worker(index) is None:
        result.add(
            "not-embedded",
            index.directory,
            f"{len(pending)} session{'s are' if len(pending) != 1 else ' is'} not searchable by meaning yet",
        )
    for name in manifest.segments:
        problem = check_segment(index.vector_dir, name, manifest.dimension, index.sealer)
        if problem:
            result.add("segment-damaged", index.vector_dir / name, f"the vector index is damaged: {problem}")
    text_problem = _full_text_problem(index)
    if text_problem:
        result.add("index-damaged", index.directory, f"the index is damaged: {text_problem}")


def _full_text_problem(index) -> str | None:
    """Why the full-text index cannot be searched, or None: opened and asked for its size, as a
    search would."""
    if not (index.text_dir / "sessions").is_dir() or not (index.text_dir / "messages").is_dir():
        return "the full-text index is missing"
    text = TextIndex(index.text_dir, index.sealer)
    try:
        text.document_counts()
    except IndexProblem as problem:
        return str(problem).split(": run", 1)[0]
    except Exception as exc:  # whoosh raises many kinds on damaged files
        return f"the full-text index cannot be read ({type(exc).__name__})"
    finally:
        text.close()
    return None


def _check_permissions(result: Examination, home: Path, directory: Path, index_dir: Path) -> None:
    folders = [home, directory] + ([index_dir] if index_dir.is_dir() else [])
    for folder in folders:
        mode = stat.S_IMODE(folder.stat().st_mode)
        if mode & 0o077:
            result.add("permissions", folder, f"{folder} is readable by others (mode {mode:04o}, want 0700)")
    for entry in sorted(os.scandir(directory), key=lambda entry: entry.name):
        if session_id_of(entry.name) and entry.is_file(follow_symlinks=False):
            mode = stat.S_IMODE(entry.stat(follow_symlinks=False).st_mode)
            if mode & 0o077:
                result.add(
                    "permissions",
                    Path(entry.path),
                    f"{entry.name} is readable by others (mode {mode:04o}, want 0600)",
                )


def repair(
    result: Examination,
    home: Path,
    index_dir: Path | None = None,
    *,
    sync: Callable[[bool], object] | None = None,
) -> Examination:
    """Fix the fixable findings: remove stale temp files, tighten modes, bring the index up to date
    (``sync(rebuild)``, default ``Index.sync``; rebuilt when its format or model is another)."""
    index_kinds = {
        "index-missing",
        "index-outdated",
        "index-damaged",
        "not-indexed",
        "stale-index-entry",
        "not-embedded",
        "segment-damaged",
    }
    for finding in result.findings:
        if finding.kind == "temp-file":
            try:
                finding.path.unlink()
                finding.fixed = True
            except FileNotFoundError:
                finding.fixed = True
            except OSError as exc:
                result.could_not(finding.path, exc)
        elif finding.kind == "permissions":
            try:  # only the group's and others' bits go; the owner's stay as they were
                finding.path.chmod(stat.S_IMODE(finding.path.stat().st_mode) & ~0o077)
                finding.fixed = True
            except OSError as exc:
                result.could_not(finding.path, exc)
    came_back = [f for f in result.findings if f.kind == "deleted-session"]
    if came_back:
        remove_deleted(store_for_home(home, index_dir))
        for finding in came_back:
            finding.fixed = not finding.path.exists()
    copies = [f for f in result.findings if f.kind == "conflict-copy"]
    if copies:
        _merge_copies(result, home, index_dir, copies)
    index_findings = [f for f in result.findings if f.kind in index_kinds]
    damaged_segments = {f.path.name for f in result.findings if f.kind == "segment-damaged"}
    try:
        if damaged_segments:  # only the sessions that had vectors there are embedded again
            Index(home, index_dir=index_dir).forget_segments(damaged_segments)
        if index_findings:
            rebuild = any(f.kind in ("index-outdated", "index-damaged") for f in index_findings)
            run = sync or (lambda again: Index(home, index_dir=index_dir).sync(rebuild=again))
            run(rebuild)
            for finding in index_findings:
                finding.fixed = True
    except ArchiveReadOnly as exc:
        result.could_not(home, exc)
    return result


def _merge_copies(result: Examination, home: Path, index_dir: Path | None, copies: list[Diagnosis]) -> None:
    store = store_for_home(home, index_dir, writing=True)
    merged = merge_conflicts(store)
    for finding in copies:
        finding.fixed = not finding.path.exists()
    for session_id in merged.busy:
        result.could_not(
            store.path_for(session_id), OllmRecallError(f"session {session_id} is being recorded")
        )
    for problem in merged.problems:
        result.could_not(store.directory, OllmRecallError(problem))
