"""What recording and recall add to each ``ollm chat`` turn, on a synthetic archive of N sessions.

A ``Chat`` talks to the stand-in server of ``examples/model_server.py`` on 127.0.0.1, which answers at
once, so a turn's time is ollm's own work: recording the message, searching the archive, building the
recall block, recording the reply (three durable writes), plus one loopback HTTP round trip. Variants:
recording only (recall off), recall with the default threshold, and recall forced to bring back three
sessions every turn (the worst case). A new session starts every ten turns, and the chat indexes the
one that ended in a background thread: "back to back" sends the next message at once, so that work
shares the two cores with the turns; "settled" waits, untimed, until it is done, as it is when a person
takes a few seconds to type. The first turn (index check and loading) is shown apart; p50/p95 are over
the turns after it.

    python benchmarks/chat_turn.py --sessions 1000
    python benchmarks/chat_turn.py --sessions 10000     # reuses benchmarks/search.py's archive and index
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from pathlib import Path

from synthetic import make_archive

from ollm_recall import SessionStore
from ollm_recall.chat.loop import Chat
from ollm_recall.config import load_settings
from ollm_recall.index.indexer import Index

REPO = Path(__file__).resolve().parent.parent
MESSAGES = [
    "nginx restart after the config error, what did the log say?",
    "how much flour for the sourdough recipe in the oven",
    "budget for the loan interest this year",
    "docker compose port timeout again on the server",
    "knee pain after training, should I rest or sleep more",
    "train and hotel near the museum for the travel week",
]


def load_server_class():
    spec = importlib.util.spec_from_file_location("model_server", REPO / "examples" / "model_server.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ModelServer


def measure(home: Path, url: str, turns: int, settle: bool = False, **overrides: object) -> dict[str, float]:
    settings = load_settings(home, {"model": "demo", "base_url": url, **overrides})
    chat = Chat(home, settings)
    before = {s.session_id for s in SessionStore(home / "sessions").list().sessions}
    times: list[float] = []
    recalled: list[int] = []
    try:
        for turn in range(turns + 1):
            if settle:
                chat.wait_for_index()
            started = time.perf_counter()
            result = chat.send(MESSAGES[turn % len(MESSAGES)])
            times.append(time.perf_counter() - started)
            recalled.append(len(result.recall.sessions) if result.recall else 0)
            if turn % 10 == 9:
                chat.new_session()
    finally:
        chat.close()
        store = SessionStore(home / "sessions")
        for summary in store.list().sessions:
            if summary.session_id not in before:
                store.delete(summary.session_id)
    later = times[1:]
    return {
        "first_ms": times[0] * 1000,
        "p50_ms": statistics.median(later) * 1000,
        "p95_ms": sorted(later)[int(0.95 * (len(later) - 1))] * 1000,
        "recalled": statistics.fmean(recalled[1:]),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=1000, help="archive size")
    parser.add_argument("--turns", type=int, default=30, help="turns per variant after the first")
    parser.add_argument("--work", type=Path, default=REPO / "benchmarks" / "out" / "search")
    args = parser.parse_args()
    home = args.work / f"archive-{args.sessions}"
    make_archive(home / "sessions", args.sessions)
    index = Index(home)
    report = index.sync()
    print(f"index: {report.summary()}", file=sys.stderr)
    server = load_server_class()(reply="Here is a short answer of a few words. " * 4).start()
    try:
        rows = [
            ("recording only (recall off)", measure(home, server.url, args.turns, recall=False)),
            ("recall, default threshold, back to back", measure(home, server.url, args.turns)),
            ("recall, default threshold, settled", measure(home, server.url, args.turns, settle=True)),
            (
                "recall forced (3 sessions), back to back",
                measure(home, server.url, args.turns, recall_threshold=0.01),
            ),
            (
                "recall forced (3 sessions), settled",
                measure(home, server.url, args.turns, settle=True, recall_threshold=0.01),
            ),
        ]
    finally:
        server.stop()
        index.sync()  # the benchmark's own sessions were deleted: leave the index as it found it
    print(f"{args.sessions:,} sessions, {args.turns} turns per variant after the first")
    print(f"{'variant':<42} {'first ms':>9} {'p50 ms':>8} {'p95 ms':>8} {'recalled/turn':>14}")
    for name, row in rows:
        print(
            f"{name:<42} {row['first_ms']:>9.1f} {row['p50_ms']:>8.1f} {row['p95_ms']:>8.1f} "
            f"{row['recalled']:>14.1f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
