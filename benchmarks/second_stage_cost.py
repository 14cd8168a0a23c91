"""What the learned second stage adds to a warm hybrid search (as ``ollm recall`` shows it, snippets
included), on an indexed archive: first stage alone and with it, interleaved query by query so both
see the same machine. Prints p50 and p95 of each and of the difference.

    python benchmarks/second_stage_cost.py                          # benchmarks/search.py's 10,000
    python benchmarks/second_stage_cost.py --home DIR --rounds 5
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from synthetic import TOPIC_QUERIES

from ollm_recall.search.searcher import Searcher

REPO = Path(__file__).resolve().parent.parent
DEFAULT_HOME = REPO / "benchmarks" / "out" / "search" / "archive-10000"
QUERIES = [
    *TOPIC_QUERIES,
    "that postgres problem from march",
    "what did we decide about the kubernetes upgrade last week",
    "python asyncio gather timeout",
    "git rebase went wrong",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, default=DEFAULT_HOME, help="an indexed archive")
    parser.add_argument("--rounds", type=int, default=5, help="passes over the queries")
    args = parser.parse_args()
    searchers = {"first stage": Searcher(args.home, second_stage=False), "second stage": Searcher(args.home)}
    if searchers["second stage"].second_stage is None:
        raise SystemExit("ollm_recall/search/ranker.json is missing: nothing to measure")
    for searcher in searchers.values():  # warm: indexes open, model loaded, caches filled
        for query in QUERIES:
            searcher.search(query, limit=5)
    times: dict[str, list[float]] = {name: [] for name in searchers}
    added: list[float] = []
    for _ in range(args.rounds):
        for query in QUERIES:
            pair = {}
            for name, searcher in searchers.items():
                started = time.perf_counter()
                searcher.search(query, limit=5)
                pair[name] = (time.perf_counter() - started) * 1000
                times[name].append(pair[name])
            added.append(pair["second stage"] - pair["first stage"])
    sessions = len(list((args.home / "sessions").glob("*.json")))
    print(f"warm hybrid search with snippets, {sessions:,} sessions, {len(added)} searches each (ms)")
    for name, values in [*times.items(), ("added by the second stage", added)]:
        p95 = statistics.quantiles(values, n=20)[-1]
        print(f"{name:<28} p50 {statistics.median(values):7.1f}   p95 {p95:7.1f}")


if __name__ == "__main__":
    main()
