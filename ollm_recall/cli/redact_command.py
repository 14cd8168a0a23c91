"""``ollm redact``: secrets in sessions saved before redaction existed (or with it off), replaced now."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import typer

from ..archive.redaction import Finding, Redactor, redactor_for_home, summarize
from ..archive.session_file import session_id_of
from ..archive.store import SessionStore, store_for_home
from ..errors import CorruptSession, SessionLocked, SessionNotFound, UsageError
from .index_upkeep import purge_from_index
from .output import Paths, handle_errors, info, print_json, progress_bar, warn


@dataclass
class RedactPlan:
    """What a redaction found: findings per session, and the sessions it could not read."""

    findings: dict[str, list[Finding]] = field(default_factory=dict)
    unreadable: list[str] = field(default_factory=list)
    scanned: int = 0

    @property
    def secrets(self) -> int:
        return sum(len(found) for found in self.findings.values())


@handle_errors
def redact(
    ctx: typer.Context,
    dry_run: bool = typer.Option(False, "--dry-run", help="Only list what would be replaced."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    as_json: bool = typer.Option(False, "--json", help="Print what was (or would be) replaced as JSON."),
) -> None:
    """Replace secrets (API keys, tokens, passwords, private keys) in sessions already saved, and
    drop their old text and vectors from the index.

    New sessions are redacted as they are saved (redact = true in config.toml); this is for archives
    recorded before that, or with it off. It lists each secret by session, message and kind (never
    the secret itself), then rewrites those sessions atomically, one at a time: stopped at any moment,
    every file is whole, and running it again finishes the work. Sessions another process is
    recording into are left for the next run.

    Example: ollm redact --dry-run
    """
    paths: Paths = ctx.obj
    redactor = redactor_for_home(paths.home) or Redactor()  # with redact = false, still the rules
    store = store_for_home(paths.home, paths.index_dir)
    plan = plan_redaction(store, redactor)
    if not as_json:
        for session_id, found in plan.findings.items():
            for finding in found:
                sys.stdout.write(f"{session_id}  {finding.where}  {finding.kind}\n")
        for problem in plan.unreadable:
            warn(f"skipped {problem}")
    sessions = len(plan.findings)
    if dry_run or not plan.findings:
        if as_json:
            print_json(_report(plan, [], [], dry_run=True))
        else:
            if plan.findings:
                info(
                    f"would replace {plan.secrets} secret{'s' if plan.secrets != 1 else ''} in {sessions} "
                    f"session{'s' if sessions != 1 else ''}"
                )
            else:
                info(f"no secrets found in {plan.scanned} session{'s' if plan.scanned != 1 else ''}")
        return
    if not yes:
        if not sys.stdin.isatty():
            raise UsageError(
                "refusing to rewrite sessions without --yes when not run interactively "
                "(--dry-run lists what would be replaced)"
            )
        kinds = [finding.kind for found in plan.findings.values() for finding in found]
        if not typer.confirm(f"Replace {summarize(kinds)} in {sessions} sessions?", default=False, err=True):
            info("nothing changed")
            raise typer.Exit(1)
    rewritten, busy = _rewrite(
        SessionStore(store.directory, redactor=redactor, locks_dir=store.locks_dir), list(plan.findings)
    )
    purge_from_index(paths, store, budget=None)
    if as_json:
        print_json(_report(plan, rewritten, busy, dry_run=False))
    else:
        done = sum(len(plan.findings[sid]) for sid in rewritten)
        info(
            f"replaced {done} secret{'s' if done != 1 else ''} in {len(rewritten)} "
            f"session{'s' if len(rewritten) != 1 else ''}"
        )
    if busy:
        warn(
            f"{len(busy)} session(s) left as they are: another process is recording into them "
            "(run ollm redact again when it has ended)"
        )


def plan_redaction(store: SessionStore, redactor: Redactor) -> RedactPlan:
    """Read every session and find its secrets; a progress bar on a terminal (10,000 files: ~10 s)."""
    plan = RedactPlan()
    files = store.session_files()
    with progress_bar(len(files), "reading sessions") as advance:
        for path in sorted(files):
            session_id = session_id_of(path.name) or ""
            try:
                session = store.read(session_id)
            except (CorruptSession, SessionNotFound) as problem:
                plan.unreadable.append(str(problem))
            except UsageError as problem:  # a file name that is not a session id
                plan.unreadable.append(f"{path.name}: {problem}")
            else:
                plan.scanned += 1
                found = redactor.redact_session(session)[1]
                if found:
                    plan.findings[session_id] = found
            advance()
    return plan


def _rewrite(store: SessionStore, session_ids: list[str]) -> tuple[list[str], list[str]]:
    """Rewrite each session under its recording lock, read again there (it may have grown)."""
    rewritten, busy = [], []
    for session_id in session_ids:
        lock = store.lock(session_id)
        try:
            lock.acquire()
        except SessionLocked:
            busy.append(session_id)
            continue
        try:
            store.write(store.read(session_id))
            rewritten.append(session_id)
        finally:
            lock.release()
    return rewritten, busy


def _report(plan: RedactPlan, rewritten: list[str], busy: list[str], *, dry_run: bool) -> dict[str, object]:
    return {
        "dryRun": dry_run,
        "secrets": plan.secrets,
        "sessions": [
            {
                "session": sid,
                "rewritten": sid in rewritten,
                "secrets": [{"where": f.where, "kind": f.kind} for f in found],
            }
            for sid, found in plan.findings.items()
        ],
        "scanned": plan.scanned,
        "busy": busy,
        "unreadable": plan.unreadable,
    }
