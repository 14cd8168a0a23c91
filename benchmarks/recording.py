"""Recording and listing speed: is a recorded message as cheap as the durable write it needs?

For sessions of 10, 100 and 1,000 messages it times ``record_message`` (auto-save: serialise the whole
session, temp file, fsync, rename, directory fsync) beside a bare write+fsync+rename of the same bytes,
interleaved so both see the same disk and the same noise; then it times listing archives of 1,000 and
10,000 sessions: in-process reading every file's head, in-process with the summary cache, and as a new
``ollm sessions list --json`` process with a cold and a warm cache. Prints a table.

    python benchmarks/recording.py                # the README's figures
    python benchmarks/recording.py --quick        # a smaller, faster run
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from synthetic import make_archive, message_text

from ollm_recall import ChatRecordingService, Message, SessionStore
from ollm_recall.archive.store import store_for_home
from ollm_recall.home import listing_cache_path


def bare_durable_write(path: Path, data: bytes) -> None:
    """The floor: write, fsync, rename, fsync the directory; nothing else."""
    temp = path.with_name(path.name + ".bare.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def bench_record(size: int, samples: int, work: Path, rng: random.Random) -> dict[str, float]:
    """Time record_message on sessions of ``size`` messages (grown at most 5% while sampling)."""
    batch = max(1, size // 20)
    record_ms: list[float] = []
    bare_ms: list[float] = []
    bare_target = work / "bare.json"
    while len(record_ms) < samples:
        service = ChatRecordingService(work / f"sessions-{size}", auto_save=False)
        session_id = service.create_session(model="gemma3:4b")
        for index in range(size):
            service.record_message(
                session_id, Message.text("user" if index % 2 == 0 else "assistant", message_text(rng, index))
            )
        service.save_session(session_id)
        service.auto_save = True
        path = service.session_path(session_id)
        for index in range(batch):
            message = Message.text("user", message_text(rng, size + index))
            started = time.perf_counter()
            service.record_message(session_id, message)
            record_ms.append((time.perf_counter() - started) * 1000)
            data = path.read_bytes()
            started = time.perf_counter()
            bare_durable_write(bare_target, data)
            bare_ms.append((time.perf_counter() - started) * 1000)
        service.delete_session(session_id)
        service.close()
    return {
        "bytes": len(data),
        "record_p50": statistics.median(record_ms),
        "record_p99": percentile(record_ms, 0.99),
        "bare_p50": statistics.median(bare_ms),
        "bare_p99": percentile(bare_ms, 0.99),
    }


def bench_list(home: Path, repeats: int) -> dict[str, float]:
    """Median seconds to list: in-process without and with the summary cache, and as a new process."""
    directory = home / "sessions"
    cache = listing_cache_path(home)

    def timed(action) -> float:
        started = time.perf_counter()
        action()
        return time.perf_counter() - started

    def new_process() -> None:
        subprocess.run(
            [sys.executable, "-m", "ollm_recall", "--home", str(home), "sessions", "list", "--json"],
            check=True,
            stdout=subprocess.DEVNULL,
        )

    listing = SessionStore(directory).list()
    assert not listing.problems
    plain = [timed(lambda: SessionStore(directory).list()) for _ in range(repeats)]
    cold_process = []
    for _ in range(repeats):
        cache.unlink(missing_ok=True)
        cold_process.append(timed(new_process))
    warm_process = [timed(new_process) for _ in range(repeats)]
    cached = [timed(lambda: store_for_home(home).list()) for _ in range(repeats)]
    return {
        "sessions": len(listing.sessions),
        "in_process": statistics.median(plain),
        "in_process_cached": statistics.median(cached),
        "process_cold": statistics.median(cold_process),
        "process_warm": statistics.median(warm_process),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=300, help="timed records per session size")
    parser.add_argument("--repeats", type=int, default=5, help="runs per listing figure (median)")
    parser.add_argument("--quick", action="store_true", help="fewer samples and a 1,000-session archive only")
    parser.add_argument("--dir", type=Path, default=None, help="work folder (default: a temp folder)")
    args = parser.parse_args()
    samples = 60 if args.quick else args.samples
    archive_sizes = (1_000,) if args.quick else (1_000, 10_000)
    rng = random.Random(7)
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        work = Path(tmp)
        print(
            f"record_message with auto-save vs a bare write+fsync+rename of the same bytes "
            f"({samples} samples each, milliseconds)"
        )
        print(
            f"{'messages':>9} {'file KB':>8} {'record p50':>11} {'bare p50':>9} {'ratio':>6} "
            f"{'record p99':>11} {'bare p99':>9}"
        )
        for size in (10, 100, 1_000):
            row = bench_record(size, samples, work, rng)
            print(
                f"{size:>9,} {row['bytes'] / 1024:>8.1f} {row['record_p50']:>11.3f} "
                f"{row['bare_p50']:>9.3f} {row['record_p50'] / row['bare_p50']:>6.2f} "
                f"{row['record_p99']:>11.3f} {row['bare_p99']:>9.3f}"
            )
        print()
        print(f"sessions list (median of {args.repeats}; seconds; files in the page cache)")
        print(
            f"{'sessions':>9} {'read heads':>11} {'cached':>7} "
            f"{'ollm sessions list --json, cold cache':>38} {'warm cache':>11}"
        )
        for count in archive_sizes:
            home = work / f"home-{count}"
            make_archive(home / "sessions", count)
            row = bench_list(home, args.repeats)
            print(
                f"{row['sessions']:>9,} {row['in_process']:>11.3f} {row['in_process_cached']:>7.3f} "
                f"{row['process_cold']:>38.3f} {row['process_warm']:>11.3f}"
            )


if __name__ == "__main__":
    main()
