"""Where the CLI writes: data to stdout, messages and errors to stderr, errors as one line."""

from __future__ import annotations

import functools
import re
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from .._jsonio import dumps_pretty
from ..errors import OllmRecallError, OllmRecallWarning

stdout = Console(highlight=False, soft_wrap=False)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Paths:
    """Where this invocation's archive and index are (from --home, --index-dir and the environment)."""

    home: Path
    index_dir: Path | None = None


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``error: message`` on stderr; return the exit to raise."""
    stderr.print(f"[bold red]error:[/] {escape(_one_line(message))}")
    return typer.Exit(code)


def warn(message: str) -> None:
    stderr.print(f"[yellow]warning:[/] {escape(_one_line(message))}")


def show_warnings() -> None:
    """Print the library's ``OllmRecallWarning``s as one ``warning: ...`` line each, like ``warn``."""
    warnings.showwarning = _show_warning


def _show_warning(message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any) -> None:
    if issubclass(category, OllmRecallWarning):
        warn(str(message))
    else:
        _PYTHON_SHOWWARNING(message, category, *args, **kwargs)


_PYTHON_SHOWWARNING = warnings.showwarning


def info(message: str) -> None:
    stderr.print(escape(message))


_HIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
"""Characters a terminal acts on or that reorder text: C0 and C1 controls (but newline and tab), bidi
marks and overrides. Stored text (a message, a title) holding them could clear the screen, set the
window title, write to the clipboard (OSC 52) or disguise a line."""


def visible(text: str) -> str:
    """``text`` with every control character and bidi override shown as an escape (``\x1b``,
    ``\u202e``): what a session holds is printed, never obeyed by the terminal."""
    return _HIDDEN.sub(lambda found: repr(found.group())[1:-1], text)


def _one_line(message: str) -> str:
    return visible(" ".join(str(message).split("\n")))


def handle_errors(command: F) -> F:
    """Turn every ``OllmRecallError`` into ``error: ...`` on stderr and exit 1: never a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except OllmRecallError as exc:
            raise fail(str(exc)) from None
        except KeyboardInterrupt:
            raise fail("interrupted", 130) from None
        except BrokenPipeError:
            sys.stderr.close()
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def print_json(value: Any) -> None:
    """Machine output: indented JSON on stdout, nothing else there."""
    sys.stdout.write(dumps_pretty(value).decode("utf-8") + "\n")
    sys.stdout.flush()


@contextmanager
def progress_bar(total: int, label: str, *, at_least: int = 200) -> Iterator[Callable[[], None]]:
    """A transient progress bar on stderr when it is a terminal and the work is long (``at_least``
    items); else nothing. Yields the function that counts one item done."""
    if not sys.stderr.isatty() or total < at_least:
        yield lambda: None
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda: bar.advance(task)
