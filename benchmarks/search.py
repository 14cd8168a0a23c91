"""Index and search at scale on a synthetic archive: build, incremental sync, recall latency, memory.

For each archive size it generates (once, kept in the work folder) a deterministic archive, and on it
with no index runs a first ``ollm recall`` (a new process: it answers from what its one-second budget
indexed and starts the background indexer), then waits for the background indexer and measures its
time, throughput (beside the raw model's batch throughput on a sample of the same texts) and peak
memory; then an incremental ``ollm index`` after one new session (a new process, end to end);
``ollm recall`` as a new process (p50/p95, hybrid and text); warm in-process search (hybrid, with
snippets, as ``ollm recall`` shows it); the retrieval ``ollm chat`` does before each message (warm,
default settings); and the peak resident memory of the recall processes. Prints a table.

    python benchmarks/search.py --sessions 1000            # one size
    python benchmarks/search.py                            # 1,000, 10,000 and 50,000 (hours)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from chat_turn import MESSAGES as CHAT_MESSAGES
from synthetic import TOPIC_QUERIES, make_archive, make_session

from ollm_recall import SessionStore
from ollm_recall.chat.recall import recall_for
from ollm_recall.config import SETTINGS
from ollm_recall.search.searcher import Searcher

REPO = Path(__file__).resolve().parent.parent
QUERIES = TOPIC_QUERIES


def run(args: list[str], home: Path) -> tuple[float, int, str]:
    """Run ``python -m ollm_recall --home HOME ARGS``: seconds, peak RSS in MiB, stdout."""
    # The peak is read from /proc (VmHWM, this process's own): Linux carries ru_maxrss over from the
    # parent through fork and exec, so a large benchmark process would inflate its children's figure.
    code = (
        "import re, resource, runpy, sys\n"
        "sys.argv = ['ollm'] + sys.argv[1:]\n"
        "try:\n"
        "    runpy.run_module('ollm_recall', run_name='__main__')\n"
        "finally:\n"
        "    try:\n"
        "        status = open('/proc/self/status').read()\n"
        "        peak = re.search(r'VmHWM:\\s*(\\d+)', status).group(1)\n"
        "    except (OSError, AttributeError):\n"
        "        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "    print(peak, file=sys.stderr)\n"
    )
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", code, "--home", str(home), *args], capture_output=True, text=True
    )
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"ollm {' '.join(args)} failed: {result.stderr.strip()}")
    peak_kib = int(result.stderr.strip().splitlines()[-1])
    return seconds, peak_kib // 1024, result.stdout


def raw_model_throughput(home: Path, sample: int = 2000) -> float:
    """Texts per second of sentence-transformers alone, batch 32, on a sample of the texts the build
    embeds (the archive's message chunks): the reference for the build's own throughput."""
    from sentence_transformers import SentenceTransformer

    from ollm_recall.embedding.embedder import bundled_model_dir
    from ollm_recall.index.indexer import embedding_units

    texts: list[str] = []
    store = SessionStore(home / "sessions")
    for summary in store.list().sessions:
        texts += [text for _message, _chunk, text in embedding_units(store.read(summary.session_id), 0)]
        if len(texts) >= sample:
            break
    model = SentenceTransformer(str(bundled_model_dir()), device="cpu")
    model.encode(texts[:64], batch_size=32)
    started = time.perf_counter()
    model.encode(texts[:sample], batch_size=32, normalize_embeddings=True)
    return min(sample, len(texts)) / (time.perf_counter() - started)


def first_recall_and_background_build(home: Path) -> dict[str, float]:
    """On a never-indexed archive: a first ``ollm recall`` (new process) that answers from what its
    budget indexed and starts the background indexer; then that indexer's time to finish and its peak
    memory (read from /proc while it runs: it is detached, so no wait() reports it)."""
    shutil.rmtree(home / "index", ignore_errors=True)
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "ollm_recall", "--home", str(home), "recall", QUERIES[0], "--json"],
        capture_output=True,
        text=True,
        env={**os.environ, "OLLM_BACKGROUND_INDEX": "1"},
    )
    first = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"first recall failed: {result.stderr.strip()}")
    coverage_line = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else ""
    status_file = home / "index" / "background.json"
    if not coverage_line and not status_file.exists():  # a small archive: the budget did it all
        return {"first_recall_s": first, "coverage": "", "background_s": 0.0, "background_rss": 0, "texts": 0}
    peak_kib, pid = 0, None
    while True:
        try:
            status = json.loads(status_file.read_text())
        except (OSError, ValueError):
            time.sleep(0.5)
            continue
        pid = status["pid"]
        try:
            text = Path(f"/proc/{pid}/status").read_text()
            peak_kib = max(peak_kib, int(text.split("VmHWM:")[1].split()[0]))
        except (OSError, IndexError, ValueError):
            pass
        if status["state"] != "running":
            break
        time.sleep(1.0)
    if status["state"] != "finished":
        raise SystemExit(f"the background indexer ended {status['state']}: {status['message']}")
    embedded = int(status["message"].split("(")[1].split()[0])
    return {
        "first_recall_s": first,
        "coverage": coverage_line,
        "background_s": status["updated"] - status["started"],
        "background_rss": peak_kib // 1024,
        "texts": embedded,
    }


def bench(count: int, work: Path, repeats: int, reuse: bool) -> dict[str, float]:
    home = work / f"archive-{count}"
    messages = make_archive(home / "sessions", count)
    extra = SessionStore(home / "sessions").path_for(make_session(random.Random(99), count + 10).session_id)
    extra.unlink(missing_ok=True)
    if reuse and (home / "index" / "manifest.json").exists():
        run(["index", "--json"], home)
        build: dict[str, float] = {
            "first_recall_s": float("nan"),
            "background_s": float("nan"),
            "background_rss": 0,
            "texts": 0,
            "coverage": "",
        }
        raw = float("nan")
    else:
        build = first_recall_and_background_build(home)
        raw = raw_model_throughput(home)
    SessionStore(home / "sessions").write(make_session(random.Random(99), count + 10))
    sync_seconds, _, out = run(["index", "--json"], home)
    assert json.loads(out)["added"] == 1
    timings: dict[str, list[float]] = {"hybrid": [], "text": []}
    recall_rss = 0
    for _ in range(repeats):
        for mode in timings:
            seconds, rss, _ = run(["recall", random.choice(QUERIES), "--mode", mode, "--json"], home)
            timings[mode].append(seconds)
            recall_rss = max(recall_rss, rss)
    searcher = Searcher(home)
    searcher.index.embedder.ensure_export()  # an index built before large builds exported it
    searcher.warm_up()  # as a chat does in the background: indexes open, ONNX Runtime loaded
    searcher.search("warm up")
    warm = []
    for query in QUERIES * 5:
        started = time.perf_counter()
        searcher.search(query)
        warm.append(time.perf_counter() - started)
    chat = []  # what ollm chat does before sending a message, with the default settings
    for message in CHAT_MESSAGES * 5:
        started = time.perf_counter()
        recall_for(
            searcher,
            message,
            budget_tokens=int(SETTINGS["context_size"].default * SETTINGS["recall_budget"].default),
            threshold=SETTINGS["recall_threshold"].default,
            most=SETTINGS["recall_sessions"].default,
        )
        chat.append(time.perf_counter() - started)
    warm_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    return {
        "sessions": count,
        "messages": messages,
        "first_recall_s": build["first_recall_s"],
        "coverage": build["coverage"],
        "build_s": build["background_s"],
        "texts_per_s": build["texts"] / build["background_s"] if build["background_s"] else float("nan"),
        "raw_texts_per_s": raw,
        "sync_s": sync_seconds,
        "build_rss": build["background_rss"],
        "hybrid_p50": statistics.median(timings["hybrid"]),
        "hybrid_p95": sorted(timings["hybrid"])[int(0.95 * (len(timings["hybrid"]) - 1))],
        "text_p50": statistics.median(timings["text"]),
        "recall_rss": recall_rss,
        "warm_p50_ms": statistics.median(warm) * 1000,
        "warm_rss": warm_rss,
        "chat_p50_ms": statistics.median(chat) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, action="append", help="archive size (repeatable)")
    parser.add_argument("--repeats", type=int, default=7, help="new-process recalls per mode")
    parser.add_argument("--work", type=Path, default=REPO / "benchmarks" / "out" / "search")
    parser.add_argument(
        "--reuse", action="store_true", help="keep an index built by an earlier run (no build figures)"
    )
    args = parser.parse_args()
    sizes = args.sessions or [1_000, 10_000, 50_000]
    print(
        "sessions messages  first recall s  background build s  texts/s (raw model)  +1 session s  "
        "recall hybrid p50/p95 s  text p50 s  warm p50 ms  chat recall p50 ms  "
        "RSS MiB build/recall/warm"
    )
    for count in sizes:
        row = bench(count, args.work, args.repeats, args.reuse)
        if row["coverage"]:
            print(f"  first recall said: {row['coverage']}")
        print(
            f"{row['sessions']:>8,} {row['messages']:>8,} {row['first_recall_s']:>15.2f} "
            f"{row['build_s']:>19.1f} "
            f"{row['texts_per_s']:>8.0f} ({row['raw_texts_per_s']:>6.0f}) {row['sync_s']:>13.2f} "
            f"{row['hybrid_p50']:>14.2f}/{row['hybrid_p95']:.2f} {row['text_p50']:>11.2f} "
            f"{row['warm_p50_ms']:>12.1f} {row['chat_p50_ms']:>19.1f}  "
            f"{row['build_rss']}/{row['recall_rss']}/{row['warm_rss']}",
            flush=True,
        )


if __name__ == "__main__":
    main()
