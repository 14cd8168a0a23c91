"""Bringing history in and out at scale: a generated ChatGPT export imported, then the archive exported.

Generates (once, kept in the work folder) a ChatGPT data export of N conversations in the real format
(one conversations.json; a tree of message nodes per conversation, with a regenerated reply left on a
side branch every few conversations), with the lengths of benchmarks/synthetic.py's sessions. Then, each
as a new process: ``ollm import chatgpt`` into an empty archive, the first ``ollm recall`` right after it
(the index holds little yet: the search reads what it lacks, and must find conversations by their
words), the same import again (nothing to add), and ``ollm export --all`` as an HTML site and as
markdown. Prints time and peak resident memory.

    python benchmarks/import_export.py --conversations 10000
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
from pathlib import Path

from search import run
from synthetic import make_session

REPO = Path(__file__).resolve().parent.parent
FIRST_QUESTION = "nginx socket restart port"
"""Words of the generated conversations (benchmarks/synthetic.py's vocabulary)."""


def chatgpt_export(path: Path, count: int, seed: int = 11) -> int:
    """Write a ChatGPT ``conversations.json`` of ``count`` conversations; returns its message count."""
    rng = random.Random(seed)
    conversations, total = [], 0
    for number in range(count):
        session = make_session(rng, number)
        mapping: dict[str, dict] = {"root": {"id": "root", "message": None, "parent": None, "children": []}}
        parent = "root"
        for position, message in enumerate(session.messages):
            node, seconds = f"n{number}-{position}", _epoch(message.timestamp)
            model = session.model if message.role == "assistant" else None
            mapping[node] = _node(node, parent, message.role, message.content, seconds, model)
            mapping[parent]["children"].append(node)
            if message.role == "assistant" and position == 1 and number % 5 == 0:  # a regenerated reply
                draft = f"{node}-old"
                mapping[draft] = _node(draft, parent, "assistant", "an earlier draft", seconds, None)
                mapping[parent]["children"].insert(0, draft)
            parent = node
        total += len(session.messages)
        conversations.append(
            {
                "title": session.title,
                "create_time": _epoch(session.start_time),
                "update_time": _epoch(session.last_activity),
                "mapping": mapping,
                "current_node": parent,
                "conversation_id": f"bench-{number:06d}-{rng.getrandbits(32):08x}",
                "default_model_slug": session.model,
            }
        )
        conversations[-1]["id"] = conversations[-1]["conversation_id"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(conversations), encoding="utf-8")
    return total


def _node(node: str, parent: str, role: str, text: str, seconds: float, model: str | None) -> dict:
    """One node of a ChatGPT conversation tree."""
    return {
        "id": node,
        "parent": parent,
        "children": [],
        "message": {
            "id": node,
            "author": {"role": role, "metadata": {}},
            "create_time": seconds,
            "content": {"content_type": "text", "parts": [text]},
            "metadata": {"model_slug": model} if model else {},
        },
    }


def _epoch(timestamp: str) -> float:
    from ollm_recall._time import parse_timestamp

    return parse_timestamp(timestamp).timestamp()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=10_000, help="size of the generated export")
    parser.add_argument("--work", type=Path, default=REPO / "benchmarks" / "out" / "import")
    args = parser.parse_args()
    export = args.work / f"chatgpt-{args.conversations}" / "conversations.json"
    if not export.exists():
        messages = chatgpt_export(export, args.conversations)
        print(f"generated {export} ({messages:,} messages)", file=sys.stderr)
    home = args.work / f"home-{args.conversations}"
    shutil.rmtree(home, ignore_errors=True)
    size_mb = export.stat().st_size / 2**20
    rows = []
    seconds, rss, out = run(["import", "chatgpt", str(export), "--json"], home)
    report = json.loads(out)
    rows.append(
        (
            f"import {args.conversations:,} conversations ({size_mb:.0f} MB)",
            seconds,
            rss,
            f"{len(report['added']):,} added",
        )
    )
    # the first search right after: the index holds little or nothing yet (its background worker has
    # just started), so the search reads the sessions it lacks; a conversation must be found by its words
    seconds, rss, out = run(["recall", FIRST_QUESTION, "--json", "--limit", "3"], home)
    found = [json.loads(line) for line in out.splitlines() if line.strip()]
    rows.append(("first recall right after the import", seconds, rss, f"{len(found)} hits"))
    if not found:
        raise SystemExit("the first recall after the import found nothing")
    seconds, rss, out = run(["import", "chatgpt", str(export), "--json"], home)
    rows.append(("the same import again", seconds, rss, f"{json.loads(out)['unchanged']:,} unchanged"))
    for fmt in ("html", "md"):
        target = home / f"export-{fmt}"
        seconds, rss, _ = run(["export", "--all", "--format", fmt, "--out", str(target)], home)
        files = sum(1 for _ in target.iterdir())
        rows.append((f"export --all --format {fmt}", seconds, rss, f"{files:,} files"))
    print(f"{'what':<46} {'seconds':>8} {'peak RSS MiB':>13}  result")
    for what, seconds, rss, result in rows:
        print(f"{what:<46} {seconds:>8.1f} {rss:>13,}  {result}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
