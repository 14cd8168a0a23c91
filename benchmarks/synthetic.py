"""A deterministic synthetic archive for benchmarks: chat-like sessions of realistic lengths."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

from ollm_recall import Message, Session, SessionStore
from ollm_recall._time import format_timestamp
from ollm_recall.archive.session import new_metadata

WORDS = (
    "the server nginx config python error log request model token session backup disk "
    "memory query index user reply timeout socket docker compose file path value list "
    "table column data function return result test build deploy cache restart update "
    "version network port key recipe oven flour travel train hotel museum budget loan "
    "interest knee sleep training garden tomato battery engine poem letter chapter"
).split()
MODELS = ("gemma3:4b", "qwen2.5:7b", "llama3.2:3b", "mistral-nemo:12b")
START_MS = 1_735_689_600_000
TOPIC_QUERIES = [
    "nginx restart after the config error",
    "sourdough flour recipe",
    "budget loan interest",
    "docker compose port timeout",
    "knee pain after training",
    "train and hotel for travel",
]
"""Questions about the archive's topics, shared by the benchmarks that search it."""


def message_text(rng: random.Random, index: int) -> str:
    """Short questions, longer answers, now and then a code block."""
    length = rng.randint(8, 40) if index % 2 == 0 else rng.randint(60, 260)
    text = " ".join(rng.choice(WORDS) for _ in range(length))
    if index % 7 == 3:
        text += "\n\n```bash\nsudo systemctl restart nginx\njournalctl -u nginx --since today\n```"
    return text


def timestamp_ms(milliseconds: int) -> str:
    return format_timestamp(datetime.fromtimestamp(milliseconds / 1000, UTC))


def make_session(rng: random.Random, number: int) -> Session:
    """Session ``number``: 4 to 40 messages, about 100 minutes after session ``number - 1``."""
    started = START_MS + number * 6_000_000 + rng.randint(0, 5_000_000)
    messages = [
        Message.text(
            "user" if i % 2 == 0 else "assistant",
            message_text(rng, i),
            timestamp=timestamp_ms(started + i * 20_000),
        )
        for i in range(rng.randint(4, 40))
    ]
    return Session(
        session_id=f"session-{started}",
        start_time=timestamp_ms(started),
        last_activity=messages[-1].timestamp,
        model=rng.choice(MODELS),
        provider="ollama",
        messages=messages,
        metadata=new_metadata(),
    )


def make_archive(directory: Path, count: int, seed: int = 7) -> int:
    """Write ``count`` sessions into ``directory`` (skipping those already there); returns messages."""
    rng = random.Random(seed)
    store = SessionStore(directory)
    store.ensure_directory()
    messages = 0
    for number in range(count):
        session = make_session(rng, number)
        messages += len(session.messages)
        if not store.path_for(session.session_id).exists():
            store.write(session)
    return messages


def ollm_seconds(home: Path, *args: str, env: dict[str, str] | None = None) -> float:
    """Wall seconds of ``ollm --home HOME ARGS`` as a new process (output discarded, no background
    indexer started)."""
    import os
    import subprocess
    import sys
    import time

    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "ollm_recall", "--home", str(home), *args],
        check=True,
        stdout=subprocess.DEVNULL,
        env={**os.environ, "OLLM_BACKGROUND_INDEX": "0", **(env or {})},
    )
    return time.perf_counter() - started
