"""``ollm chat`` in a real terminal (tmux), read back as a person would see it, scrollback included."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from conftest import SUBPROCESS_CEILING

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def tmux_is_there() -> None:
    """CI installs tmux (the README's test command does): a missing one fails, never skips silently."""
    if shutil.which("tmux") is None:
        pytest.fail("tmux is needed for the terminal tests: apt-get install tmux")


OPENING = "Opening words of a very long answer."


def long_reply(words: int) -> str:
    """Paragraphs, a list and a code block: what a chatty model writes."""
    paragraphs = [OPENING]
    filler = "the quick brown fox jumps over the lazy dog again and again".split()
    count = 0
    number = 0
    while count < words:
        number += 1
        body = " ".join(filler[(number + i) % len(filler)] for i in range(60))
        if number % 5 == 0:
            paragraphs.append(f"```bash\necho step {number}\nls -la\n```")
        elif number % 3 == 0:
            paragraphs.append(f"- item {number} {body[:40]}\n- another item {number}")
        else:
            paragraphs.append(f"Paragraph {number}: {body}.")
        count += 60
    paragraphs.append("Closing words of the answer.")
    return "\n\n".join(paragraphs)


class Tmux:
    """One tmux server of its own, a 100 x 45 window, and a generous scrollback."""

    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        self.socket = f"ollm-test-{uuid.uuid4().hex[:8]}"
        exports = " ".join(f"{key}={shlex.quote(value)}" for key, value in env.items())
        line = f"env {exports} {shlex.join(command)}; sleep 600"
        self.run(
            "-f",
            "/dev/null",
            "start-server",
            ";",
            "set-option",
            "-g",
            "history-limit",
            "100000",
            ";",
            "new-session",
            "-d",
            "-x",
            "100",
            "-y",
            "45",
            line,
        )

    def run(self, *args: str) -> str:
        result = subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=SUBPROCESS_CEILING
        )
        return result.stdout

    def send(self, *keys: str) -> None:
        self.run("send-keys", *keys)

    def screen(self) -> str:
        """Everything the terminal shows and has scrolled away."""
        return self.run("capture-pane", "-p", "-J", "-S", "-")

    def wait_for(self, text: str) -> str:
        deadline = time.monotonic() + SUBPROCESS_CEILING
        while time.monotonic() < deadline:
            seen = self.screen()
            if text in seen:
                return seen
            time.sleep(0.2)
        raise AssertionError(f"{text!r} never appeared:\n{self.screen()[-2000:]}")

    def close(self) -> None:
        self.run("kill-server")


def chat_in_tmux(home: Path, server) -> Tmux:
    command = [
        sys.executable,
        "-m",
        "ollm_recall",
        "--home",
        str(home),
        "chat",
        "--model",
        "demo",
        "--base-url",
        server.url,
        "--no-recall",
    ]
    return Tmux(
        command,
        {
            "OLLM_BACKGROUND_INDEX": "0",
            "PATH": os.environ.get("PATH", ""),
            "COLUMNS": "100",
            "LINES": "45",
            "TERM": "tmux-256color",
        },
    )


def test_a_long_reply_is_in_the_scrollback_once(isolated_home: Path, model_server) -> None:
    server = model_server(reply=long_reply(1400))
    terminal = chat_in_tmux(isolated_home, server)
    try:
        terminal.wait_for("recall off")
        terminal.send("tell me everything", "Enter")
        seen = terminal.wait_for("Closing words of the answer.")
        assert seen.count(OPENING) == 1
        assert seen.count("Paragraph 2:") == 1 and seen.count("echo step 5") == 1
    finally:
        terminal.close()


def test_ctrl_c_mid_reply_shows_the_partial_reply_once(isolated_home: Path, model_server) -> None:
    server = model_server(reply=long_reply(3000), piece_delay=0.01)
    terminal = chat_in_tmux(isolated_home, server)
    try:
        terminal.wait_for("recall off")
        terminal.send("tell me everything", "Enter")
        terminal.wait_for("Paragraph 2:")
        terminal.send("C-c")
        seen = terminal.wait_for("interrupted: the partial reply is saved")
        assert seen.count(OPENING) == 1
        assert "Closing words of the answer." not in seen
    finally:
        terminal.close()


def test_the_redaction_notice_comes_after_the_reply_not_inside_it(isolated_home: Path, model_server) -> None:
    token = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
    reply = f"First paragraph, with a token: {token}\n\nSecond paragraph.\n\nThe last paragraph."
    server = model_server(reply=reply, piece_delay=0.01)
    terminal = chat_in_tmux(isolated_home, server)
    try:
        terminal.wait_for("recall off")
        terminal.send("what was my token", "Enter")
        seen = terminal.wait_for("redacted")
        seen = terminal.wait_for("The last paragraph.")
        notice = next(line for line in seen.splitlines() if "the reply was saved with" in line)
        assert seen.count("Second paragraph.") == 1 and seen.count("First paragraph") == 1
        assert seen.index(notice) > seen.index("The last paragraph.")  # after the reply, never inside it
    finally:
        terminal.close()


def test_ctrl_c_during_a_slow_paragraph_shows_it_once(isolated_home: Path, model_server) -> None:
    reply = "Slowly the answer begins " + " ".join(f"word{n}" for n in range(400))
    server = model_server(reply=reply, piece_delay=0.03)
    terminal = chat_in_tmux(isolated_home, server)
    try:
        terminal.wait_for("recall off")
        terminal.send("tell me slowly", "Enter")
        terminal.wait_for("word12 ")
        terminal.send("C-c")
        seen = terminal.wait_for("interrupted: the partial reply is saved")
        assert seen.count("Slowly the answer begins") == 1, seen
    finally:
        terminal.close()


def test_slowly_streamed_paragraphs_keep_their_blank_lines(isolated_home: Path, model_server) -> None:
    reply = "First paragraph here.\n\nSecond paragraph here.\n\nThird paragraph here."
    server = model_server(reply=reply, piece_delay=0.05)
    terminal = chat_in_tmux(isolated_home, server)
    try:
        terminal.wait_for("recall off")
        terminal.send("three paragraphs please", "Enter")
        seen = terminal.wait_for("Third paragraph here.")
        lines = [line.strip() for line in seen.splitlines()]
        first, second = lines.index("First paragraph here."), lines.index("Second paragraph here.")
        third = lines.index("Third paragraph here.")
        assert (
            lines[first + 1] == "" and lines[second + 1] == "" and (second, third) == (first + 2, second + 2)
        )
    finally:
        terminal.close()


def test_escape_sequences_in_a_reply_are_shown_not_run() -> None:
    import io

    from rich.console import Console

    from ollm_recall.cli.stream_render import StreamRenderer

    out = io.StringIO()
    renderer = StreamRenderer(Console(file=out, width=100))
    for piece in ("a reply \x1b]52;c;aGk=\x07 that ", "clears \x1b[2J the screen\n\nand more"):
        renderer.add(piece)
    renderer.close()
    assert "\x1b]52" not in out.getvalue() and "\x1b[2J" not in out.getvalue()
    assert "\\x1b]52;c;aGk=\\x07" in out.getvalue()
