"""How long `ollm stats` takes as a new process at 10,000 sessions: the first run (no stats cache:
every session read) and the runs after it (the cache read, nothing else), terminal and --json, and
with one session changed since the last run. Prints a table of medians.

    python benchmarks/search.py --sessions 10000     # once: builds and indexes the archive
    python benchmarks/stats.py --sessions 10000 --repeats 5
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

from synthetic import ollm_seconds

from ollm_recall import ChatRecordingService, Message

REPO = Path(__file__).resolve().parent.parent


def ollm(home: Path, *args: str) -> float:
    return ollm_seconds(home, *args, env={"COLUMNS": "100"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=10000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    home = REPO / "benchmarks" / "out" / "search" / f"archive-{args.sessions}"
    if not (home / "sessions").is_dir():
        sys.exit(f"no archive at {home}: run benchmarks/search.py --sessions {args.sessions}")
    cache = home / "index" / "stats.json"
    first = []
    for _ in range(min(args.repeats, 3)):
        cache.unlink(missing_ok=True)
        first.append(ollm(home, "stats", "--json"))
    warm = [ollm(home, "stats") for _ in range(args.repeats)]
    as_json = [ollm(home, "stats", "--json") for _ in range(args.repeats)]
    changed = []
    service = ChatRecordingService(home / "sessions")
    session_id = service.create_session(model="llama3.2:3b")
    for number in range(args.repeats):
        service.record_message(session_id, Message.text("user", f"one more question, number {number}"))
        changed.append(ollm(home, "stats", "--json"))
    service.delete_session(session_id)
    service.close()
    print(f"| `ollm stats` at {args.sessions:,} sessions, new process | median (s) | runs |")
    print("|---|---:|---:|")
    for label, values in (
        ("first run, no stats cache (every session read)", first),
        ("terminal view, cache warm", warm),
        ("`--json`, cache warm", as_json),
        ("`--json`, one session changed since the last run", changed),
    ):
        print(f"| {label} | {statistics.median(values):.2f} | {len(values)} |")
    cache_size = cache.stat().st_size / 1e6
    print(f"\nstats cache: {cache_size:.1f} MB")


if __name__ == "__main__":
    main()
