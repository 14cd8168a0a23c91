"""``ollm mcp`` as an agent sees it: how soon the first recall is answered, later ones, and memory.

Starts ``ollm mcp`` on an indexed archive with the MCP SDK's own stdio client (a new process each
run), times the first ``recall`` from the moment the process is started, then twenty more recalls
and ten ``get_session`` calls, and reads the server's peak resident memory (``VmHWM``) before it
stops. The archive defaults to ``benchmarks/search.py``'s 10,000 sessions (build it with that script
first). Prints medians over the runs.

    python benchmarks/mcp_server.py --runs 3
    python benchmarks/mcp_server.py --home DIR --runs 1
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_HOME = REPO / "benchmarks" / "out" / "search" / "archive-10000"
QUERIES = [
    "nginx reverse proxy timeout",
    "docker compose volumes",
    "postgres slow query index",
    "python asyncio timeout",
    "kubernetes pod restart",
    "rust borrow checker",
    "sourdough starter",
    "budget spreadsheet formulas",
    "git rebase conflict",
    "react state hook",
]


def server_pid() -> int | None:
    """The newest child process of this one (the server the client started)."""
    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == os.getpid():
                children.append(int(entry))
    return max(children) if children else None


def memory_mb(pid: int | None) -> dict[str, float]:
    """Peak resident memory, and what is resident now split into the process's own (anonymous) memory
    and file pages mapped into it (the vector files: page cache, shared and reclaimable)."""
    found = {"memory": float("nan"), "own": float("nan"), "files": float("nan")}
    if pid is None:
        return found
    names = {"VmHWM:": "memory", "RssAnon:": "own", "RssFile:": "files"}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key = line.split(":", 1)[0] + ":"
        if key in names:
            found[names[key]] = int(line.split()[1]) / 1024
    return found


async def one_run(home: Path) -> dict[str, float]:
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    environment = {
        key: value for key, value in os.environ.items() if key.startswith(("OLLM_", "HOME", "PATH"))
    }
    environment["OLLM_BACKGROUND_INDEX"] = "0"  # the archive is indexed: measure answering only
    params = StdioServerParameters(
        command=sys.executable, env=environment, args=["-m", "ollm_recall", "--home", str(home), "mcp"]
    )
    started = time.perf_counter()
    async with Client(params) as client:
        first = await client.call_tool("recall", {"query": "how did I fix the nginx 502 error", "limit": 5})
        first_seconds = time.perf_counter() - started
        if first.is_error:
            raise SystemExit(f"recall failed: {first.content[0].text}")
        recalls, reads = [], []
        for query in QUERIES * 2:
            begin = time.perf_counter()
            result = await client.call_tool("recall", {"query": query, "limit": 5})
            recalls.append(time.perf_counter() - begin)
        hit = result.structured_content or {}
        sessions = [h["sessionId"] for h in hit.get("hits", [])]
        sessions = sessions or [path.stem for path in (home / "sessions").glob("*.json")][:1]
        for _ in range(10):
            begin = time.perf_counter()
            await client.call_tool("get_session", {"session_id": sessions[0]})
            reads.append(time.perf_counter() - begin)
        memory = memory_mb(server_pid())
    return {
        "first": first_seconds,
        "recall": statistics.median(recalls) * 1000,
        "get_session": statistics.median(reads) * 1000,
        **memory,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path, default=DEFAULT_HOME, help="an indexed archive")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if not (args.home / "index" / "manifest.json").exists():
        raise SystemExit(f"{args.home} has no index: build it with benchmarks/search.py or `ollm index`")
    runs = [asyncio.run(one_run(args.home)) for _ in range(args.runs)]
    sessions = len(list((args.home / "sessions").glob("*.json")))
    print(f"ollm mcp on {sessions:,} sessions, {args.runs} runs (median)")

    def median(key: str) -> float:
        return statistics.median(run[key] for run in runs)

    print(f"{'first recall, from process start':<40} {median('first'):>8.2f} s   target < 1.5 s")
    print(f"{'later recalls p50':<40} {median('recall'):>8.1f} ms  target < 100 ms")
    print(f"{'get_session p50':<40} {median('get_session'):>8.1f} ms")
    print(f"{'server peak resident memory':<40} {median('memory'):>8.0f} MB  target < 400 MB")
    print(f"{'  at the end: its own (anonymous)':<40} {median('own'):>8.0f} MB")
    print(f"{'  at the end: mapped index files':<40} {median('files'):>8.0f} MB")


if __name__ == "__main__":
    main()
