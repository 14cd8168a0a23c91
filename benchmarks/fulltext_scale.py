"""The full-text side alone at a size whose full build would take hours of embedding (50,000 sessions).

Builds the two whoosh indexes of a synthetic archive the way ``ollm index`` does (batches of 200
sessions, one commit each, one merge of the session index at the end) in a child process, then opens
them in a fresh process and ranks sessions for a few questions, as a recall does. Prints each side's
time and peak resident memory, for adding to the vector side's figures (``benchmarks/vectors.py``) and
the embedding model's (docs/search.md) where the memory target at 50,000 sessions is judged.

    python benchmarks/fulltext_scale.py --sessions 50000
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from synthetic import TOPIC_QUERIES, make_archive

REPO = Path(__file__).resolve().parent.parent
QUERIES = TOPIC_QUERIES

BUILD = """
import json, re, sys, time
from pathlib import Path
from ollm_recall.index.indexer import MERGE_BATCH_SESSIONS, TEXT_BATCH_SESSIONS, start_ms
from ollm_recall.archive.store import SessionStore
from ollm_recall.archive.sealed_files import Sealer
from ollm_recall.index.textsearch import TextIndex

sessions, target = Path(sys.argv[1]), Path(sys.argv[2])
store = SessionStore(sessions)
index = TextIndex(target, Sealer(sessions))
index.create()
started = time.perf_counter()
batch, reported = [], 0
names = sorted(path.name[:-5] for path in store.session_files())
for number, name in enumerate(names, 1):
    session = store.read(name)
    batch.append((session, start_ms(session.start_time)))
    if len(batch) >= TEXT_BATCH_SESSIONS or number == len(names):  # the full-text phase's commits
        index.replace_sessions([], batch, merge=len(batch) >= MERGE_BATCH_SESSIONS)
        batch = []
        if number >= reported + 5000:
            reported = number
            print(f"{number} sessions, {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
index.optimize_sessions()
index.close()
peak = int(re.search(r"VmHWM:\\s*(\\d+)", open("/proc/self/status").read()).group(1))
print(json.dumps({"seconds": time.perf_counter() - started, "peak_kib": peak}))
"""

SEARCH = """
import json, re, statistics, sys, time
from pathlib import Path
from ollm_recall.archive.sealed_files import Sealer
from ollm_recall.index.textsearch import TextFilters, TextIndex, query_terms

started = time.perf_counter()
index = TextIndex(Path(sys.argv[1]), Sealer(Path(sys.argv[1]) / "no-sessions"))
queries = json.loads(sys.argv[2])
first = None
timings = []
for round_ in range(6):
    for query in queries:
        began = time.perf_counter()
        index.rank_sessions(query_terms(query), TextFilters(), limit=200)
        timings.append(time.perf_counter() - began)
        if first is None:
            first = time.perf_counter() - started
index.close()
peak = int(re.search(r"VmHWM:\\s*(\\d+)", open("/proc/self/status").read()).group(1))
print(json.dumps({"first_s": first, "warm_ms": statistics.median(timings[len(queries):]) * 1000,
                  "peak_kib": peak}))
"""


def child(code: str, *args: str) -> dict[str, float]:
    result = subprocess.run([sys.executable, "-c", code, *args], text=True, stdout=subprocess.PIPE)
    if result.returncode != 0:
        raise SystemExit(f"child failed with exit code {result.returncode}")
    return json.loads(result.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=50_000, help="archive size")
    parser.add_argument("--work", type=Path, default=REPO / "benchmarks" / "out" / "search")
    args = parser.parse_args()
    home = args.work / f"archive-{args.sessions}"
    began = time.perf_counter()
    messages = make_archive(home / "sessions", args.sessions)
    print(f"archive ready in {time.perf_counter() - began:.0f} s", file=sys.stderr)
    target = home / "fulltext-only"
    if target.exists():
        subprocess.run(["rm", "-rf", str(target)], check=True)
    build = child(BUILD, str(home / "sessions"), str(target))
    searches = [child(SEARCH, str(target), json.dumps(QUERIES)) for _ in range(3)]
    size = sum(path.stat().st_size for path in target.rglob("*") if path.is_file())
    print(
        f"{'sessions':>8} {'messages':>9} {'build s':>8} {'build RSS MiB':>14} {'index MiB':>10} "
        f"{'open+first query s':>19} {'warm rank p50 ms':>17} {'search RSS MiB':>15}"
    )
    print(
        f"{args.sessions:>8,} {messages:>9,} {build['seconds']:>8.0f} {build['peak_kib'] // 1024:>14} "
        f"{size / 1_048_576:>10.0f} {statistics.median(s['first_s'] for s in searches):>19.2f} "
        f"{statistics.median(s['warm_ms'] for s in searches):>17.1f} "
        f"{max(s['peak_kib'] for s in searches) // 1024:>15}"
    )


if __name__ == "__main__":
    main()
