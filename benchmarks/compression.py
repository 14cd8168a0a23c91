"""Compressed history: bytes on disk, the cost of reading a compressed session, and listing with half
of a large archive compressed.

1. The open dev set's sessions (``../shared/dev-eval/realmem/archives``, 2,055 files) copied into one
   sessions folder and all compacted: bytes on disk before and after (file sizes, and the blocks the
   file system allocates; the dictionary counted). Target: at least 2x fewer.
2. Reading one session (``SessionStore.read``) plain and compressed, p50 over every session. Target:
   compressed <= 2 ms p50.
3. ``SessionStore.list()`` on a synthetic archive of N sessions (``benchmarks/synthetic.py``), plain, then
   with every other session compressed: without the listing cache (a first listing) and with it (every
   later one), medians of several runs. Target: within 10% of plain, with the cache.

    python benchmarks/compression.py
    python benchmarks/compression.py --sessions 10000 --repeats 5
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from ollm_recall._jsonio import dumps_compact  # noqa: E402
from ollm_recall.archive.compaction import compact  # noqa: E402
from ollm_recall.archive.store import SessionStore  # noqa: E402


def disk_bytes(folder: Path) -> tuple[int, int]:
    """Sum of file sizes, and of allocated blocks, of every file under ``folder``."""
    files = [path.stat() for path in folder.rglob("*") if path.is_file()]
    return sum(f.st_size for f in files), sum(f.st_blocks * 512 for f in files)


def median_ms(action, items) -> float:
    times = []
    for item in items:
        started = time.perf_counter()
        action(item)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def dev_set(work: Path, source: Path) -> list[tuple[str, str, str]]:
    sessions = work / "dev" / "sessions"
    sessions.mkdir(parents=True)
    for path in sorted(source.glob("*/*.json")):  # ten users' archives: ids repeat between them
        document = json.loads(path.read_bytes())
        document["sessionId"] = f"{path.parent.name.lower()}-{document['sessionId']}"
        (sessions / f"{document['sessionId']}.json").write_bytes(dumps_compact(document))
    store = SessionStore(sessions)
    ids = [path.name.removesuffix(".json") for path in sorted(sessions.glob("*.json"))]
    plain_size, plain_blocks = disk_bytes(sessions)
    plain_read = median_ms(store.read, ids)
    report = compact(store, idle_days=0)
    packed_size, packed_blocks = disk_bytes(sessions)  # the dictionary included
    packed_read = median_ms(store.read, ids)
    return [
        ("dev set sessions compressed", f"{len(report.compressed)} of {len(ids)}", ""),
        ("bytes (file sizes) plain -> compressed", f"{plain_size:,} -> {packed_size:,}", ""),
        ("  ratio", f"{plain_size / packed_size:.2f}x", ">= 2x"),
        ("bytes (allocated blocks) plain -> compressed", f"{plain_blocks:,} -> {packed_blocks:,}", ""),
        ("  ratio", f"{plain_blocks / packed_blocks:.2f}x", ">= 2x"),
        ("read one session p50, plain / compressed (ms)", f"{plain_read:.2f} / {packed_read:.2f}", "<= 2"),
    ]


def listing(work: Path, sessions: int, repeats: int) -> list[tuple[str, str, str]]:
    """The same archive twice, plain and with every other session compressed, listed in turns (so
    that the shared machine's noise falls on both alike)."""
    from synthetic import make_archive

    plain = work / f"synthetic-{sessions}" / "plain"
    make_archive(plain, sessions)
    half = plain.parent / "half"
    shutil.copytree(plain, half)
    store = SessionStore(half)
    compact(store, sessions=[s for position, s in enumerate(store.list().sessions) if position % 2 == 0])
    runs: dict[tuple[str, bool], list[float]] = {}
    for _ in range(repeats):
        for folder in (plain, half):
            for cache in (False, True):
                summary_cache = folder.parent / f"{folder.name}-listing.json"
                if not cache:
                    summary_cache.unlink(missing_ok=True)
                if cache:  # warm it first: every listing after the first finds it
                    SessionStore(folder, summary_cache=summary_cache).list()
                started = time.perf_counter()
                SessionStore(folder, summary_cache=summary_cache).list()
                runs.setdefault((folder.name, cache), []).append(time.perf_counter() - started)
    median = {key: statistics.median(values) for key, values in runs.items()}
    cold = median[("plain", False)], median[("half", False)]
    warm = median[("plain", True)], median[("half", True)]
    return [
        (
            f"list {sessions:,} sessions, no cache: plain / half compressed (s)",
            f"{cold[0]:.3f} / {cold[1]:.3f}",
            "",
        ),
        (
            f"list {sessions:,} sessions, with cache: plain / half compressed (s)",
            f"{warm[0]:.3f} / {warm[1]:.3f} ({(warm[1] / warm[0] - 1) * 100:+.0f}%)",
            "within 10%",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data", type=Path, default=REPO.parent / "shared" / "dev-eval" / "realmem" / "archives"
    )
    parser.add_argument("--sessions", type=int, default=10_000, help="synthetic archive size for the listing")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temporary one)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="ollm-compression-"))
    rows = dev_set(work, args.data) if args.data.is_dir() else [("dev set", f"not found: {args.data}", "")]
    rows += listing(work, args.sessions, args.repeats)
    width = max(len(name) for name, _, _ in rows)
    print(f"{'measure':{width}}  {'value':>32}  target")
    for name, value, target in rows:
        print(f"{name:{width}}  {value:>32}  {target}")
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
