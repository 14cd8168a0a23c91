"""A streamed reply shown as markdown on a terminal, incrementally.

Finished blocks (up to the last blank line outside a code fence) are printed once, for good, above a
live region that holds only the block still being written; that region is re-rendered at most a few
times a second and never taller than the terminal. So a long reply costs about one markdown pass, the
scrollback holds each line once, and an interruption prints what had arrived once.
"""

from __future__ import annotations

import contextlib
import sys
import time
from typing import Any

REFRESHES_PER_SECOND = 8


def settled_length(text: str) -> int:
    """How much of ``text`` is finished blocks: up to the last blank line that is not inside a fenced
    code block (a block after it may still change how it renders; one before it cannot)."""
    fence: str | None = None
    settled = 0
    position = 0
    for line in text.splitlines(keepends=True):
        if not line.endswith("\n"):
            break  # the line being written
        stripped = line.strip()
        if fence is None and stripped[:3] in ("```", "~~~"):
            fence = stripped[:3]
        elif fence is not None and stripped.startswith(fence):
            fence = None
        position += len(line)
        if fence is None and not stripped:
            settled = position
    return settled


class StreamRenderer:
    """Receive a reply piece by piece (``add``) and show it; ``close`` shows what is left, once."""

    def __init__(self, console: Any) -> None:
        from rich.live import Live

        self.console = console
        self._text = ""
        self._printed = 0
        self._shown_at = 0.0
        self._live = Live(console=console, auto_refresh=False, transient=True, vertical_overflow="crop")
        self._echo = _EchoOff()
        self._live.start()

    def add(self, piece: str) -> None:
        self._text += piece
        now = time.monotonic()
        if now - self._shown_at < 1 / REFRESHES_PER_SECOND:
            return
        self._shown_at = now
        settled = settled_length(self._text)
        if settled > self._printed:  # printed above the live region, for good
            self._print_blocks(self._text[self._printed : settled])
            self._printed = settled
        self._live.update(_markdown(self._text[self._printed :]), refresh=True)

    def close(self) -> None:
        """Stop the live region and print the rest of the reply (all of it that arrived, once)."""
        self._live.stop()
        self._echo.restore()
        rest = self._text[self._printed :]
        if rest.strip():
            self._print_blocks(rest)
        self._printed = len(self._text)

    def _print_blocks(self, text: str) -> None:
        """Finished blocks, after a blank line when blocks were printed before them: printed apart, the
        blank line between paragraphs would be lost (markdown renders none after a last block)."""
        if self._printed:
            self.console.print()
        self.console.print(_markdown(text))


class _EchoOff:
    """The terminal's echo off while a reply is drawn: an echoed ``^C`` (or a key typed meanwhile)
    at the end of a full-width line wraps the cursor to the next line, and the live region then
    erases the wrong lines, leaving a copy of the partial reply above it."""

    def __init__(self) -> None:
        self._saved: list[Any] | None = None
        try:
            import termios

            if sys.stdin.isatty():
                descriptor = sys.stdin.fileno()
                self._saved = termios.tcgetattr(descriptor)
                quiet = termios.tcgetattr(descriptor)
                quiet[3] &= ~(termios.ECHO | getattr(termios, "ECHOCTL", 0))
                termios.tcsetattr(descriptor, termios.TCSANOW, quiet)
        except (ImportError, OSError, ValueError):  # no terminal control here: nothing to restore
            self._saved = None

    def restore(self) -> None:
        if self._saved is None:
            return
        saved, self._saved = self._saved, None
        with contextlib.suppress(ImportError, OSError, ValueError):
            import termios

            termios.tcsetattr(sys.stdin.fileno(), termios.TCSANOW, saved)


def _markdown(text: str) -> Any:
    from rich.markdown import Markdown

    from .output import visible

    return Markdown(visible(text))  # a reply's escape sequences are shown, never run by the terminal
