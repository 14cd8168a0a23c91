"""The vector index at archive sizes beyond what can be embedded here: exact scoring against the
sign-bit shortlist, latency, agreement and resident memory.

It takes an indexed archive's real vectors (by default the 10,000-session one that ``search.py``
builds) and writes ``--scale`` copies of each segment, every copy's rows nudged by a little noise and
renormalised, under new session ids: 5 copies of the 10,000-session index stand for 50,000 sessions
with the segment layout an incremental build leaves. Then, in a new process per pass, it runs the same
queries through the exact pass and the sign-bit pass and prints p50/p95, the agreement of their top
sessions and the peak resident memory.

    python benchmarks/vectors.py --scale 5
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np
from synthetic import TOPIC_QUERIES

from ollm_recall.index.vectorstore import RESCORE_ROWS

REPO = Path(__file__).resolve().parent.parent
QUERIES = [
    *TOPIC_QUERIES,
    "how do I rotate logs",
    "cheap flights in winter",
    "my tomato plants have yellow leaves",
    "python list comprehension with a condition",
    "tax return deadline",
    "running shoes for flat feet",
]


def scaled_index(source: Path, scale: int, work: Path) -> Path:
    """Write (once) ``scale`` noisy copies of every segment of ``source``'s vector index."""
    from ollm_recall.archive.sealed_files import Sealer
    from ollm_recall.index.manifest import Manifest
    from ollm_recall.index.vector_segments import Segment, write_segment

    sealer = Sealer(source / "sessions")

    target = work / f"x{scale}"
    done = target / "layout.json"
    if done.exists():
        return target
    shutil.rmtree(target, ignore_errors=True)
    manifest = Manifest.load(source / "index" / "manifest.json", sealer=sealer)
    current = manifest.current_segments()
    rng = np.random.default_rng(7)
    names, owners = [], {}
    for copy in range(scale):
        for name in manifest.segments:
            segment = Segment(source / "index" / "vectors", name, sealer)
            vectors = np.asarray(segment.vectors, dtype=np.float32)
            if copy:
                vectors = vectors + rng.normal(0, 0.02, vectors.shape).astype(np.float32)
                vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            keys = [(f"{segment.session_ids[o]}-{copy}", int(m), int(c)) for o, m, c in segment.rows.tolist()]
            copy_name = f"seg-{copy}-{name}"
            write_segment(target, copy_name, vectors, keys, sealer)
            names.append(copy_name)
            for sid in segment.session_ids:
                if name in current.get(sid, ()):
                    owners.setdefault(f"{sid}-{copy}", []).append(copy_name)
        print(f"copy {copy + 1}/{scale} written", file=sys.stderr)
    done.write_text(json.dumps({"segments": names, "current": owners}))
    return target


def measure(target: Path, exact: bool, repeats: int, rescore_rows: int) -> dict:
    """One pass in this process: query latencies, top-10 sessions per query, peak RSS (MiB)."""
    import resource
    import time

    from ollm_recall.archive.sealed_files import Sealer
    from ollm_recall.embedding.embedder import Embedder
    from ollm_recall.index import vectorstore

    layout = json.loads((target / "layout.json").read_text())
    index = vectorstore.VectorIndex(
        target, layout["segments"], layout["current"], sealer=Sealer(target / "no-sessions")
    )
    vectorstore.EXACT_ROWS = 10**12 if exact else 0
    vectorstore.RESCORE_ROWS = rescore_rows
    embedder = Embedder()
    queries = [embedder.embed_query(q) for q in QUERIES]
    seconds, tops = [], []
    for repeat in range(repeats):
        for query in queries:
            started = time.perf_counter()
            found = index.best(index.score(query), candidates=50)
            seconds.append(time.perf_counter() - started)
            if not repeat:
                ranked = sorted(found.items(), key=lambda item: -item[1][0])[:10]
                tops.append([(sid, score) for sid, (score, _units) in ranked])
    return {
        "rows": index.live_rows,
        "sessions": len(index.session_ids),
        "seconds": seconds,
        "tops": tops,
        "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--source",
        type=Path,
        help="an indexed archive's home (default: the 10,000-session one of benchmarks/search.py)",
        default=REPO / "benchmarks" / "out" / "search" / "archive-10000",
    )
    parser.add_argument("--scale", type=int, default=5, help="copies of its vectors")
    parser.add_argument("--repeats", type=int, default=5, help="passes over the queries")
    parser.add_argument(
        "--rescore-rows",
        type=int,
        default=RESCORE_ROWS,
        help="rows the sign-bit pass scores exactly (the library's default)",
    )
    parser.add_argument("--work", type=Path, default=REPO / "benchmarks" / "out" / "vectors")
    parser.add_argument("--measure", choices=["exact", "bits"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(
            json.dumps(
                measure(
                    args.work / f"x{args.scale}", args.measure == "exact", args.repeats, args.rescore_rows
                )
            )
        )
        return
    if not (args.source / "index" / "manifest.json").exists():
        raise SystemExit(f"no index in {args.source}: run benchmarks/search.py --sessions 10000 first")
    scaled_index(args.source, args.scale, args.work)
    results = {}
    for mode in ("exact", "bits"):
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--scale",
                str(args.scale),
                "--repeats",
                str(args.repeats),
                "--work",
                str(args.work),
                "--measure",
                mode,
                "--rescore-rows",
                str(args.rescore_rows),
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        results[mode] = json.loads(out)
    exact, bits = results["exact"], results["bits"]
    pairs = list(zip(exact["tops"], bits["tops"], strict=True))
    top1 = statistics.mean(a[0][0] == b[0][0] for a, b in pairs)
    top10 = statistics.mean(len({sid for sid, _ in a} & {sid for sid, _ in b}) / 10 for a, b in pairs)
    kept = statistics.mean(sum(s for _, s in b) / sum(s for _, s in a) for a, b in pairs)
    print(f"{exact['sessions']:,} sessions, {exact['rows']:,} rows, {len(QUERIES)} queries x {args.repeats}")
    print("| pass | p50 ms | p95 ms | peak RSS MiB | top-1 as exact | top-10 overlap | top-10 score kept |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for mode, result in results.items():
        ordered = sorted(result["seconds"])
        p50, p95 = statistics.median(ordered) * 1000, ordered[int(0.95 * (len(ordered) - 1))] * 1000
        agreement = "1.00 | 1.00 | 1.000" if mode == "exact" else f"{top1:.2f} | {top10:.2f} | {kept:.3f}"
        print(f"| {mode} | {p50:.0f} | {p95:.0f} | {result['rss']:,} | {agreement} |")


if __name__ == "__main__":
    main()
