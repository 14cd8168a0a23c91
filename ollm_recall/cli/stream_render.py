"""A streamed reply shown as markdown on a terminal, incrementally.

Finished blocks (up to the last blank line outside a code fence) are printed once, for good, above a
live region that holds only the block still being written; that region is re-rendered at most a few
times a second and never taller than the terminal. So a long reply costs about one markdown pass, the
scrollback holds each line once, and an interruption prints what had arrived once.
"""

from __future__ import annotations

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
        self._live.start()

    def add(self, piece: str) -> None:
        self._text += piece
        now = time.monotonic()
        if now - self._shown_at < 1 / REFRESHES_PER_SECOND:
            return
        self._shown_at = now
        settled = settled_length(self._text)
        if settled > self._printed:  # printed above the live region, for good
            self.console.print(_markdown(self._text[self._printed : settled]))
            self._printed = settled
        self._live.update(_markdown(self._text[self._printed :]), refresh=True)

    def close(self) -> None:
        """Stop the live region and print the rest of the reply (all of it that arrived, once)."""
        self._live.stop()
        rest = self._text[self._printed :]
        if rest.strip():
            self.console.print(_markdown(rest))
        self._printed = len(self._text)


def _markdown(text: str) -> Any:
    from rich.markdown import Markdown

    return Markdown(text)
