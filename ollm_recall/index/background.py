"""Background indexing: what a search's time budget left is finished by one detached process.

The ``git gc --auto`` pattern: a search (or a chat) that finds more work than its budget starts
``ollm index --worker`` detached and at low priority, and answers at once from what is committed. The
index lock keeps it single: a second worker finds the lock taken and leaves. The worker writes its
progress to ``background.json`` beside the manifest (for ``ollm index status``) and its errors to
``background.log``; it commits as any sync does, so a kill at any moment keeps what is done.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import orjson

from .._atomic import NO_FOLLOW, make_private_dir, write_atomic
from .._locking import IndexLock, process_alive
from .._time import format_duration
from ..archive.keys import ArchiveKey, key_id_of
from ..archive.session_file import session_id_of
from ..archive.unlocking import archive_key, encrypting, known_key, use_key
from ..errors import ArchiveReadOnly, IndexBusy, IndexProblem, OllmRecallError
from .indexer import Index, SyncReport

STATUS_NAME = "background.json"
LOG_NAME = "background.log"
NICENESS = 10
STATUS_EVERY_SECONDS = 1.0
SECONDS_PER_SESSION = 0.2
"""A first guess at the time a session takes, before a worker has measured its own rate: the
10,000-session synthetic archive (~32 texts a session) was indexed in the background in 1,979 s."""


@dataclass
class BackgroundStatus:
    """What the background indexer is doing, as ``background.json`` records it."""

    pid: int
    state: str
    """``running``, ``finished``, ``stopped`` or ``failed``."""
    started: float
    updated: float
    words_done: int = 0
    words_total: int = 0
    meaning_done: int = 0
    meaning_total: int = 0
    message: str = ""
    meaning_started: float | None = None
    """When the embedding began (the rate is counted from there, not from the words phase)."""

    @property
    def rate(self) -> float | None:
        """Sessions embedded a second so far in this run (None before the first ones)."""
        elapsed = self.updated - (self.meaning_started or self.started)
        return self.meaning_done / elapsed if self.meaning_done and elapsed > 0 else None

    @property
    def eta_seconds(self) -> float | None:
        rate = self.rate
        return None if rate is None else max(0, self.meaning_total - self.meaning_done) / rate


def status_path(index: Index) -> Path:
    return index.directory / STATUS_NAME


def log_path(index: Index) -> Path:
    return index.directory / LOG_NAME


def read_status(index: Index) -> BackgroundStatus | None:
    """The last status a worker wrote, or None (never run, or an unreadable file)."""
    try:
        document = orjson.loads(status_path(index).read_bytes())
        return BackgroundStatus(**document)
    except (OSError, orjson.JSONDecodeError, TypeError):
        return None


def index_locked(index: Index) -> bool:
    """Whether some process (foreground or background) is writing the index now."""
    if not index.lock_path.exists():
        return False
    lock = IndexLock(index.lock_path)
    try:
        lock.acquire()
    except IndexBusy:
        return True
    except ArchiveReadOnly:  # nobody here can be writing it
        return False
    lock.release()
    return False


def running_worker(index: Index) -> BackgroundStatus | None:
    """The status of the background worker that holds the index now, or None."""
    status = read_status(index)
    if status is None or status.state != "running" or not process_alive(status.pid):
        return None
    return status if index_locked(index) else None


def start_worker(index: Index) -> bool:
    """Start the detached worker unless one (or any indexer) is at work; True if one was started.

    Two callers racing here may both start one: the lock decides, and the loser leaves at once.
    """
    if index_locked(index):
        return False
    make_private_dir(index.directory)
    command = [
        sys.executable,
        "-m",
        "ollm_recall",
        "--home",
        str(index.home),
        "--index-dir",
        str(index.directory),
        "index",
        "--worker",
    ]
    try:
        log = os.open(log_path(index), os.O_WRONLY | os.O_CREAT | os.O_APPEND | NO_FOLLOW, 0o600)
    except OSError:  # a read-only archive: no worker can write there either
        return False
    directory = index.store.directory
    key = known_key(directory) or (archive_key(directory) if encrypting(directory) else None)
    try:
        worker = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
            close_fds=True,
        )
    finally:
        os.close(log)
    assert worker.stdin is not None
    with contextlib.suppress(OSError):  # the key through a pipe: never in its arguments or environment
        worker.stdin.write((key.key.hex() if key is not None else "").encode("ascii") + b"\n")
    with contextlib.suppress(OSError):
        worker.stdin.close()
    return True


def receive_key(index: Index) -> None:
    """In the worker: take the key its starter sent on stdin (nothing when the archive is plain)."""
    line = sys.stdin.buffer.readline(200).strip() if sys.stdin is not None else b""
    if not line:
        return
    try:
        raw = bytes.fromhex(line.decode("ascii"))
    except ValueError:
        return
    use_key(index.store.directory, ArchiveKey(raw, key_id_of(raw)))


def stop_worker(index: Index, *, wait_seconds: float = 600.0) -> BackgroundStatus | None:
    """Ask the running worker to stop (it commits what it has embedded) and wait until it has; the
    status it had, or None when none was running."""
    status = running_worker(index)
    if status is None:
        return None
    with contextlib.suppress(ProcessLookupError):
        os.kill(status.pid, signal.SIGTERM)
    deadline = time.monotonic() + wait_seconds
    while index_locked(index) and process_alive(status.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return status


class _StatusWriter:
    """A ``SyncProgress`` that keeps ``background.json`` current, at most once a second."""

    def __init__(self, index: Index) -> None:
        now = time.time()
        self.index = index
        self.current = BackgroundStatus(pid=os.getpid(), state="running", started=now, updated=now)
        self._written = 0.0

    def planned(self, words: int, meaning: int) -> None:
        if not self._written:  # the first word of a sync that holds the index lock
            _log(self.index, "started")
        self.current.words_total += words
        self.current.meaning_total += meaning
        if meaning and self.current.meaning_started is None:
            self.current.meaning_started = time.time()
        self.write(force=True)

    def advanced(self, words: int, meaning: int) -> None:
        self.current.words_done += words
        self.current.meaning_done += meaning
        self.write()

    def status(self, text: str | None) -> None:
        """A pause the progress counts do not show (the model prepared once): said in the status."""
        self.current.message = text or ""
        self.write(force=True)

    def write(self, *, force: bool = False, state: str | None = None, message: str = "") -> None:
        now = time.time()
        if not force and state is None and now - self._written < STATUS_EVERY_SECONDS:
            return
        self.current.updated = now
        if state is not None:
            self.current.state, self.current.message = state, message
        write_atomic(status_path(self.index), orjson.dumps(asdict(self.current)))
        self._written = now


def _raise_interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def run_worker(index: Index) -> int:
    """The worker's body: index everything at low priority, then record how it ended. Exit code 0
    unless indexing failed (the reason is in the status and the log)."""
    with contextlib.suppress(OSError, AttributeError):
        os.nice(NICENESS)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    writer = _StatusWriter(index)
    try:
        report = SyncReport()
        for _round in range(3):  # sessions recorded meanwhile are taken up too
            report = index.sync(progress=writer)
            if report.interrupted or (
                not report.pending_words and not report.pending_meaning and not _behind(index)
            ):
                break
    except IndexProblem as problem:
        if "another" in str(problem):
            _log(index, "another process is indexing; nothing to do")
            return 0
        writer.write(state="failed", message=str(problem))
        _log(index, f"failed: {problem}")
        return 1
    except OllmRecallError as problem:
        writer.write(state="failed", message=str(problem))
        _log(index, f"failed: {problem}")
        return 1
    state = "stopped" if report.interrupted else "finished"
    done = (
        f"{writer.current.meaning_done} sessions embedded ({report.embedded} texts) in {report.seconds:.1f} s"
    )
    if not report.interrupted:
        done += _compact_idle(index)
    writer.write(state=state, message=done)
    _log(index, f"{state}: {done}")
    return 0


def _compact_idle(index: Index) -> str:
    """After indexing: store the sessions idle for ``compress_after_days`` compressed. Returns what to
    add to the log line (nothing when there was nothing to do or it could not be done)."""
    from ..archive.compaction import compact
    from ..archive.store import store_for_home
    from ..config import load_settings

    try:
        days = load_settings(index.home).compress_after_days
        if days <= 0:
            return ""
        report = compact(store_for_home(index.home, index.directory), idle_days=days)
    except (OllmRecallError, OSError) as problem:
        return f"; compression skipped ({problem})"
    return f"; {report.summary()}" if report.compressed else ""


def _behind(index: Index) -> bool:
    """Whether the sessions folder has files the index does not know (a chat recorded meanwhile)."""
    try:
        known = index.load_manifest().sessions
    except OllmRecallError:
        return False
    return any(session_id_of(path.name) not in known for path in index.store.session_files())


def _log(index: Index, line: str) -> None:
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    with contextlib.suppress(OSError):
        with open(log_path(index), "a", encoding="utf-8") as log:
            log.write(f"{stamp} pid {os.getpid()} {line}\n")


@dataclass(frozen=True)
class IndexedShare:
    """How much of the archive a search could see: sessions on disk, in the full-text index, and
    searchable by meaning; and who is indexing the rest."""

    sessions: int
    words: int
    meaning: int
    indexer: str | None = None
    """``background``, ``foreground`` (another ``ollm index``), ``read-only`` (nobody can: the archive
    is read-only) or None (nobody: run ``ollm index``)."""
    eta_seconds: float | None = None

    @property
    def complete(self) -> bool:
        return self.words >= self.sessions and self.meaning >= self.sessions

    def to_json(self) -> dict[str, object]:
        return {
            "sessions": self.sessions,
            "words": self.words,
            "meaning": self.meaning,
            "indexer": self.indexer,
            "etaSeconds": None if self.eta_seconds is None else round(self.eta_seconds),
        }

    def line(self, read: int = 0) -> str | None:
        """One line for stderr when the search did not see everything, else None; ``read``: how many
        sessions the words index lacks the search read directly (``search.scan``)."""
        if self.complete:
            return None
        if self.words < self.sessions:
            words = min(self.sessions, self.words + read)
            how = f" ({read:,} read directly, not indexed yet)" if read else " (the newest)"
            seen = (
                f"searched {words:,} of {self.sessions:,} sessions by words{how} and "
                f"{self.meaning:,} by meaning"
            )
        else:
            seen = f"meaning search covers {self.meaning:,} of {self.sessions:,} sessions"
        if self.indexer == "background":
            eta = (
                ""
                if self.eta_seconds is None
                else f" (~{format_duration(self.eta_seconds, approximate=True)})"
            )
            return f"{seen}; indexing the rest in the background{eta}"
        if self.indexer == "foreground":
            return f"{seen}; another `ollm index` is indexing the rest"
        if self.indexer == "read-only":
            return f"{seen}; the archive is read-only, so the rest cannot be indexed here"
        return f"{seen}; run `ollm index` to index the rest"


def sync_within(index: Index, *, background: bool, budget: float) -> tuple[SyncReport, bool]:
    """Bring the index up to date as far as ``budget`` seconds allow (words first) and hand the rest
    to the background worker (when ``background``): the sync's report, and whether a worker started."""
    report = index.sync(budget=budget)
    if (
        background
        and not (report.busy or report.read_only)
        and (report.pending_words or report.pending_meaning or report.purge_pending)
    ):
        return report, start_worker(index)
    return report, False


def catch_up(index: Index, *, background: bool, budget: float) -> tuple[SyncReport, IndexedShare]:
    """``sync_within``, then what a search can see now: what a search does before it answers."""
    report, started = sync_within(index, background=background, budget=budget)
    return report, indexed_share(index, report, just_started=started)


def indexed_share(
    index: Index, report: SyncReport | None = None, *, just_started: bool = False
) -> IndexedShare:
    """What the committed index covers; ``report`` (of a sync that just ran) makes the count of
    sessions exact, where files that cannot be read would otherwise count as not indexed yet."""
    try:
        manifest = index.load_manifest()
    except OllmRecallError:
        return IndexedShare(index.store.count(), 0, 0)
    words, meaning = len(manifest.sessions), manifest.embedded_sessions()
    if report is not None and not (report.busy or report.read_only):
        sessions = words + report.pending_words
    else:
        sessions = max(words, index.store.count())
    if words >= sessions and meaning >= sessions:
        return IndexedShare(sessions, words, meaning)
    worker = running_worker(index)
    if worker is not None:
        return IndexedShare(sessions, words, meaning, "background", worker.eta_seconds)
    if report is not None and report.read_only:
        return IndexedShare(sessions, words, meaning, "read-only")
    if just_started:
        left = (sessions - meaning) * SECONDS_PER_SESSION
        return IndexedShare(sessions, words, meaning, "background", left)
    return IndexedShare(sessions, words, meaning, "foreground" if index_locked(index) else None)
