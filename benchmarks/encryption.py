"""What encryption at rest costs: recording a message, a cold `ollm recall`, `ollm sessions list`.

Copies the indexed synthetic archive `benchmarks/search.py --sessions N` leaves in
benchmarks/out/search/archive-N twice, encrypts one copy with `ollm encrypt` (timed), and then, with
the two interleaved so both see the same noise:
- ``record_message`` with auto-save into sessions of 10 and 100 messages (in-process, p50 and p99);
- ``ollm recall QUERY`` as a new process (hybrid; the passphrase from OLLM_PASSPHRASE, so argon2id's
  unlock is included; the unlock alone is timed too);
- ``ollm sessions list --json`` as a new process, with the listing cache warm and cold.
Prints a table of medians.

    python benchmarks/search.py --sessions 10000     # once: builds and indexes the archive
    python benchmarks/encryption.py --sessions 10000 --repeats 5
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import time
from pathlib import Path

from synthetic import TOPIC_QUERIES, message_text, ollm_seconds

from ollm_recall import ChatRecordingService, Message
from ollm_recall.archive.keys import create_key, set_encrypt, unlock_with_passphrase
from ollm_recall.archive.unlocking import use_key
from ollm_recall.home import listing_cache_path

REPO = Path(__file__).resolve().parent.parent
PASSPHRASE = "benchmark passphrase"


def ollm(home: Path, *args: str) -> float:
    """Seconds for ``ollm --home HOME ARGS`` as a new process (the passphrase in its environment)."""
    return ollm_seconds(home, *args, env={"OLLM_PASSPHRASE": PASSPHRASE})


def bench_record(size: int, samples: int, work: Path) -> dict[str, float]:
    """record_message p50/p99 (ms) into a session of ``size`` messages, plain and encrypted, interleaved."""
    rng = random.Random(size)
    plain_dir, sealed_dir = work / f"record-plain-{size}", work / f"record-sealed-{size}"
    for folder in (plain_dir, sealed_dir):
        shutil.rmtree(folder, ignore_errors=True)
    key, _recovery = create_key(sealed_dir, PASSPHRASE)
    set_encrypt(sealed_dir, True)
    use_key(sealed_dir, key)
    services, ids = {}, {}
    for name, folder in (("plain", plain_dir), ("sealed", sealed_dir)):
        service = ChatRecordingService(folder, auto_save=False)
        session_id = service.create_session(model="gemma3:4b")
        for index in range(size):
            role = "user" if index % 2 == 0 else "assistant"
            service.record_message(session_id, Message.text(role, message_text(rng, index)))
        service.save_session(session_id)
        service.auto_save = True
        services[name], ids[name] = service, session_id
    timings: dict[str, list[float]] = {"plain": [], "sealed": []}
    for index in range(samples):
        text = message_text(rng, size + index)
        for name in ("plain", "sealed") if index % 2 else ("sealed", "plain"):
            started = time.perf_counter()
            services[name].record_message(ids[name], Message.text("user", text))
            timings[name].append((time.perf_counter() - started) * 1000)
    for service in services.values():
        service.close()
    assert (sealed_dir / f"{ids['sealed']}.json.enc").exists()
    return {
        f"{name}_{stat}": value
        for name, values in timings.items()
        for stat, value in (
            ("p50", statistics.median(values)),
            ("p99", sorted(values)[int(0.99 * (len(values) - 1))]),
        )
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=10000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--samples", type=int, default=300, help="record_message samples per size")
    parser.add_argument("--work", type=Path, default=REPO / "benchmarks" / "out" / "encryption")
    args = parser.parse_args()
    source = REPO / "benchmarks" / "out" / "search" / f"archive-{args.sessions}"
    if not (source / "index" / "manifest.json").exists():
        sys.exit(
            f"no indexed archive at {source}: run `python benchmarks/search.py --sessions {args.sessions}`"
        )
    args.work.mkdir(parents=True, exist_ok=True)

    rows = []
    for size in (10, 100):
        figures = bench_record(size, args.samples, args.work)
        rows.append(
            (
                f"record_message, {size}-message session, p50 / p99 (ms)",
                f"{figures['plain_p50']:.3f} / {figures['plain_p99']:.3f}",
                f"{figures['sealed_p50']:.3f} / {figures['sealed_p99']:.3f}",
                f"+{figures['sealed_p50'] - figures['plain_p50']:.3f} ms p50",
            )
        )

    plain, sealed = args.work / "plain", args.work / "encrypted"
    for target in (plain, sealed):
        if not (target / "index" / "manifest.json").exists():
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(source, target)
    encrypt_seconds = None
    if not (sealed / "sessions" / ".ollm-key.json").exists():
        encrypt_seconds = ollm(sealed, "encrypt")

    started = time.perf_counter()
    unlock_with_passphrase(sealed / "sessions", PASSPHRASE)
    unlock = time.perf_counter() - started

    recall: dict[str, list[float]] = {"plain": [], "sealed": []}
    for repeat in range(args.repeats):
        for query in TOPIC_QUERIES[:5]:
            pair = (("plain", plain), ("sealed", sealed))
            for name, home in pair if repeat % 2 else pair[::-1]:
                recall[name].append(ollm(home, "recall", query))
    listing: dict[str, list[float]] = {"plain": [], "sealed": [], "plain_cold": [], "sealed_cold": []}
    for _repeat in range(args.repeats):
        for name, home in (("plain", plain), ("sealed", sealed)):
            listing[name].append(ollm(home, "sessions", "list", "--json"))
            listing_cache_path(home).unlink(missing_ok=True)
            listing[f"{name}_cold"].append(ollm(home, "sessions", "list", "--json"))

    def ratio(name: str, table: dict[str, list[float]]) -> str:
        return f"{statistics.median(table['sealed' + name]) / statistics.median(table['plain' + name]):.2f}x"

    rows += [
        (
            "`ollm recall` new process, hybrid, p50 (s)",
            f"{statistics.median(recall['plain']):.2f}",
            f"{statistics.median(recall['sealed']):.2f}",
            ratio("", recall),
        ),
        (
            f"`ollm sessions list --json` at {args.sessions:,}, warm cache (s)",
            f"{statistics.median(listing['plain']):.2f}",
            f"{statistics.median(listing['sealed']):.2f}",
            ratio("", listing),
        ),
        (
            f"`ollm sessions list --json` at {args.sessions:,}, no cache (s)",
            f"{statistics.median(listing['plain_cold']):.2f}",
            f"{statistics.median(listing['sealed_cold']):.2f}",
            ratio("_cold", listing),
        ),
    ]
    print("| what | plain | encrypted | cost |")
    print("|---|---:|---:|---:|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print(f"\nunlocking by passphrase (argon2id, in each encrypted command): {unlock:.2f} s")
    if encrypt_seconds is not None:
        print(
            f"`ollm encrypt` of the {args.sessions:,}-session archive and its index: {encrypt_seconds:.0f} s"
        )


if __name__ == "__main__":
    main()
