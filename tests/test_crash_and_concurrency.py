"""Real processes: SIGKILL at random moments, two writers at once, a held session, a reader racing."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import SUBPROCESS_CEILING

from ollm_recall import ChatRecordingService, Message, Session, SessionLocked

RECORDER = r"""
import sys
from ollm_recall import ChatRecordingService, Message, SessionLocked
data_dir, session_id, tag, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
service = ChatRecordingService(data_dir)
try:
    for index in range(count):
        filler = " lorem ipsum" * (index % 40)
        service.record_message(session_id, Message.text("user", f"{tag}-{index}{filler}"))
        print(f"{tag}-{index}", flush=True)
except SessionLocked as exc:
    print(f"locked: {exc}", file=sys.stderr, flush=True)
    sys.exit(3)
"""


def start_recorder(data_dir: Path, session_id: str, tag: str, count: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", RECORDER, str(data_dir), session_id, tag, str(count)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def new_session(data_dir: Path, model: str = "m") -> str:
    service = ChatRecordingService(data_dir)
    session_id = service.create_session(model=model)
    service.close()
    return session_id


def read_texts(data_dir: Path, session_id: str) -> list[str]:
    raw = (data_dir / f"{session_id}.json").read_bytes()
    session = Session.from_bytes(raw, f"{session_id}.json")
    return [message.content.split(" ", 1)[0] for message in session.messages]


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_no_acknowledged_message(sessions_path):
    """Forty recorders killed mid-flight; each acknowledged message must be in a readable file."""
    rng = random.Random(20261124)
    session_id = new_session(sessions_path)
    acknowledged: list[str] = []
    for round_number in range(40):
        child = start_recorder(sessions_path, session_id, f"r{round_number}", 10_000)
        assert child.stdout is not None
        first = child.stdout.readline().strip()  # it has started recording
        if first:
            acknowledged.append(first)
        time.sleep(rng.uniform(0.0, 0.06))
        child.send_signal(signal.SIGKILL)
        # read the rest through the same buffered file: communicate() would bypass what readline()
        # has already buffered, and lose acknowledgements
        remaining = child.stdout.read()
        child.wait(timeout=SUBPROCESS_CEILING)
        acknowledged.extend(line for line in remaining.split() if line)
        assert child.returncode == -signal.SIGKILL, child.stderr.read() if child.stderr else ""
        on_disk = read_texts(sessions_path, session_id)
        assert on_disk[: len(acknowledged)] == acknowledged, f"round {round_number}"
        # at most the one message being written when the kill came may be there unacknowledged
        assert len(on_disk) - len(acknowledged) <= 1
        acknowledged = on_disk
    assert len(acknowledged) > 40
    ChatRecordingService(sessions_path).create_session(model="m")  # a new writer cleans up
    assert not [p for p in sessions_path.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.slow
def test_two_processes_recording_two_sessions_lose_nothing(sessions_path):
    first, second = new_session(sessions_path), new_session(sessions_path)
    children = [
        start_recorder(sessions_path, first, "a", 300),
        start_recorder(sessions_path, second, "b", 300),
    ]
    for child in children:
        _, err = child.communicate(timeout=SUBPROCESS_CEILING)
        assert child.returncode == 0, err
    assert read_texts(sessions_path, first) == [f"a-{i}" for i in range(300)]
    assert read_texts(sessions_path, second) == [f"b-{i}" for i in range(300)]


def test_a_second_process_gets_a_clear_error_on_a_held_session(sessions_path):
    holder = ChatRecordingService(sessions_path)
    session_id = holder.create_session(model="m")
    holder.record_message(session_id, Message.text("user", "mine"))
    child = start_recorder(sessions_path, session_id, "intruder", 5)
    out, err = child.communicate(timeout=SUBPROCESS_CEILING)
    assert child.returncode == 3
    assert err.strip() == (
        f"locked: session {session_id} is being recorded by process {os.getpid()}; "
        "end that chat first or start a new session"
    )
    assert read_texts(sessions_path, session_id) == ["mine"]
    holder.close()
    child = start_recorder(sessions_path, session_id, "after", 2)
    child.communicate(timeout=SUBPROCESS_CEILING)
    assert child.returncode == 0
    assert read_texts(sessions_path, session_id) == ["mine", "after-0", "after-1"]


def test_a_crashed_holder_leaves_no_lock_behind(sessions_path):
    session_id = new_session(sessions_path)
    child = start_recorder(sessions_path, session_id, "x", 10_000)
    assert child.stdout is not None
    child.stdout.readline()
    child.kill()
    child.communicate(timeout=SUBPROCESS_CEILING)
    service = ChatRecordingService(sessions_path)
    service.record_message(session_id, Message.text("user", "recovered"))
    assert read_texts(sessions_path, session_id)[-1] == "recovered"
    service.close()


def test_another_service_in_the_same_process_is_refused_too(sessions_path):
    holder = ChatRecordingService(sessions_path)
    session_id = holder.create_session(model="m")
    with pytest.raises(SessionLocked):
        ChatRecordingService(sessions_path).record_message(session_id, Message.text("user", "x"))
    holder.close()


@pytest.mark.slow
def test_readers_never_see_a_partial_file(sessions_path):
    session_id = new_session(sessions_path)
    child = start_recorder(sessions_path, session_id, "w", 400)
    reads = 0
    while child.poll() is None:
        read_texts(sessions_path, session_id)  # raises if a reader ever sees half a file
        reads += 1
    assert child.returncode == 0
    assert reads > 10
    assert len(read_texts(sessions_path, session_id)) == 400


def test_two_processes_creating_sessions_at_once_get_distinct_ids(sessions_path):
    script = (
        "import sys\nfrom ollm_recall import ChatRecordingService\n"
        "s = ChatRecordingService(sys.argv[1])\n"
        "print(' '.join(s.create_session(model='m') for _ in range(50)))\n"
    )
    children = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(sessions_path)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    ids = []
    for child in children:
        out, _ = child.communicate(timeout=SUBPROCESS_CEILING)
        ids += out.split()
    assert len(ids) == 100 and len(set(ids)) == 100
    assert len(list(sessions_path.glob("*.json"))) == 100
