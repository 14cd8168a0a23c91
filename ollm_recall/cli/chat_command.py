"""``ollm chat``: the terminal chat. Interactive on a terminal; one message per line otherwise."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import typer

from ..archive.redaction import Redactor
from ..config import Setting, Settings, load_settings
from ..errors import ChatError, OllmRecallError, UsageError
from ..home import sessions_dir
from .output import Paths, fail, handle_errors, info, stderr, stdout, warn
from .recall_command import render_hit

if TYPE_CHECKING:
    from ..chat.loop import Chat, ToolUse
    from ..chat.recall import Recall

HELP = """commands:
  /new             start a new session (the current one stays in the archive)
  /model NAME      chat with another model (starts a new session)
  /context N       context size in tokens for the next new session
  /recall QUERY    show what the archive has on QUERY
  /sessions        the ten most recent sessions
  /resume ID       go on with an earlier session
  /help            this list
  /exit            leave (Ctrl-D too)"""


SAVED_IN = "saved in session"
"""How a chat that is not on a terminal ends, on stderr: the session it recorded into."""


class ChatExit(Exception):
    """``/exit``: leave the loop."""


@dataclass
class Io:
    """Where the loop reads and writes: a terminal (prompt, live rendering) or plain pipes."""

    interactive: bool
    held: list[str] | None = None
    """Warnings kept back while a reply is drawn, said once it is (``warnings_after_reply``)."""

    def notice(self, text: str) -> None:
        if self.interactive:
            stdout.print(text, style="dim", highlight=False, markup=False)
        else:
            info(text)

    def warn(self, text: str) -> None:
        """A warning of the chat: now, or after the reply being drawn (a line printed while a live
        region is on screen lands inside it, and the reply is drawn again below a fragment)."""
        if self.held is not None:
            self.held.append(text)
        else:
            warn(text)

    @contextlib.contextmanager
    def warnings_after_reply(self) -> Iterator[None]:
        self.held = []
        try:
            yield
        finally:
            held, self.held = self.held, None
            for text in held:
                warn(text)


def run_command(chat: Chat, line: str, io: Io) -> None:
    """Carry out one slash command; a bad one raises ``UsageError`` with what to type instead."""
    name, _, argument = line[1:].partition(" ")
    argument = argument.strip()
    if name in ("exit", "quit", "q"):
        raise ChatExit
    if name == "help":
        io.notice(HELP)
    elif name == "new":
        chat.new_session()
        io.notice(f"new session with {chat.model}: it starts with your next message")
    elif name == "model":
        if not argument:
            raise UsageError(f"/model needs a model name (now: {chat.model or 'none'})")
        changed = chat.switch_model(argument)
        starts = "a new session starts with your next message" if changed else "same session"
        io.notice(f"model {chat.model} ({starts})")
    elif name == "context":
        try:
            size = int(argument)
        except ValueError:
            raise UsageError(
                f"/context needs a number of tokens, e.g. /context 8192, not {argument!r}"
            ) from None
        chat.set_context_size(size)
        io.notice(f"the next new session gets a {size}-token context (/new starts one)")
    elif name == "recall":
        if not argument:
            raise UsageError("/recall needs something to look for, e.g. /recall nginx 502")
        hits = chat.preview_recall(argument)
        if not hits:
            io.notice("nothing found")
        for number, hit in enumerate(hits, start=1):
            for rendered in render_hit(number, hit):
                (stdout if io.interactive else stderr).print(rendered, soft_wrap=True)
    elif name == "sessions":
        recent = chat.recording.store.list().sessions[:10]
        id_width = max((len(s.session_id) for s in recent), default=0)
        model_width = max((len(s.model) for s in recent), default=0)
        for summary in recent:
            mark = "*" if summary.session_id == chat.session_id else " "
            io.notice(
                f"{mark} {summary.session_id:<{id_width}}  {summary.last_activity[:16].replace('T', ' ')}  "
                f"{summary.model:<{model_width}}  {summary.title}"
            )
        if chat.session_id is not None:
            io.notice("* this chat's session")
    elif name == "resume":
        if not argument:
            raise UsageError("/resume needs a session id (see /sessions)")
        chat.resume(argument)
        io.notice(f"resumed {chat.session_id} with {chat.model}")
    else:
        raise UsageError(f"unknown command /{name}: /help lists them")


def _lines(prompt: Callable[[], str] | None) -> Iterator[str]:
    """The user's lines: from the prompt on a terminal, else from stdin until it ends."""
    if prompt is None:
        for line in sys.stdin:
            yield line.rstrip("\n")
        return
    while True:
        try:
            yield prompt()
        except KeyboardInterrupt:
            continue  # Ctrl-C at the prompt clears the line, as in a shell
        except EOFError:
            return


def _prompt(paths: Paths, redactor: Redactor | None) -> Callable[[], str]:
    from prompt_toolkit import PromptSession

    from ..archive.sealed_files import Sealer
    from .line_history import LineHistory

    history = LineHistory(paths.home / "chat_history", Sealer(sessions_dir(paths.home)), redactor)
    session: PromptSession[str] = PromptSession(history=history)
    return lambda: session.prompt("› ")


def _models_on_offer(chat: Chat) -> str:
    """`` (Ollama has: a, b)`` for a hint, or ``""`` when the server cannot be asked."""
    try:
        return f" ({chat.client.server_name} has: {', '.join(chat.client.list_models()) or 'no models'})"
    except OllmRecallError:
        return ""


def _resume(chat: Chat, session_id: str, model: str | None) -> None:
    """``--resume ID [--model M]``: go on with the session's own model, or with ``model`` (an
    imported chat goes on with a local model); advice names only what can work."""
    session_id = chat.recording.store.resolve(session_id)
    earlier = chat.recording.store.read(session_id)  # a clear error for an unknown or broken id
    if model is None and earlier.provider != chat.client.provider:
        raise UsageError(
            f"session {session_id} was made with {earlier.model} ({earlier.provider}); go on with a model "
            f"of this server: ollm chat --resume {session_id} --model NAME{_models_on_offer(chat)}"
        )
    chat.resume(session_id, model if model != earlier.model else None)
    if model is None or model == earlier.model:
        assert chat.model is not None
        chat.client.require_model(chat.model)


class _PipedReply:
    """A reply written to a pipe or file as it streams, until the reader goes away (``| head -1``):
    then nothing more is written, while the chat goes on receiving and recording the whole reply."""

    def __init__(self) -> None:
        self.reader_gone = False
        self._ended_line = True

    def write(self, piece: str) -> None:
        if self.reader_gone:
            return
        try:
            sys.stdout.write(piece)
            sys.stdout.flush()
        except BrokenPipeError:
            self._silence()
            return
        if piece:
            self._ended_line = piece.endswith("\n")

    def end(self) -> None:
        if not self._ended_line:
            self.write("\n")
        if not self.reader_gone:
            try:
                sys.stdout.flush()
            except BrokenPipeError:
                self._silence()

    def _silence(self) -> None:
        """Point stdout at /dev/null, so that nothing later (the exit's own flush) meets the pipe."""
        self.reader_gone = True
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def _turn(chat: Chat, text: str, io: Io) -> None:
    def recalled(recall: Recall) -> None:
        io.notice(recall.summary())

    def tool_used(use: ToolUse) -> None:
        io.notice(use.summary())

    if not io.interactive:
        out = _PipedReply()
        try:
            chat.send(text, on_recall=recalled, on_piece=out.write, on_tool=tool_used)
        finally:  # a reply cut short still ends its line, so an error message starts a line of its own
            out.end()
        if out.reader_gone:  # the whole reply is recorded; nobody reads what would come next
            raise ChatExit
        return
    from .stream_render import StreamRenderer

    renderer = StreamRenderer(stdout)
    with io.warnings_after_reply():
        try:
            chat.send(text, on_recall=recalled, on_piece=renderer.add, on_tool=tool_used)
        finally:  # a reply cut short by Ctrl-C or the server is shown once, as far as it came
            renderer.close()


def _loop(chat: Chat, paths: Paths, io: Io) -> int:
    prompt = _prompt(paths, chat.recording.store.redactor) if io.interactive else None
    for line in _lines(prompt):
        text = line.strip()
        if not text:
            continue
        try:
            if text.startswith("/"):
                try:
                    run_command(chat, text, io)
                except UsageError as exc:
                    if io.interactive:
                        raise
                    warn(str(exc))  # a script goes on past a mistyped command, as a person would
            else:
                _turn(chat, line, io)
        except ChatExit:
            return 0
        except KeyboardInterrupt:
            if not io.interactive:
                raise
            io.notice("interrupted: the partial reply is saved")
        except OllmRecallError as exc:
            if not io.interactive:
                raise
            stderr.print(f"[bold red]error:[/] {exc}", highlight=False)
    return 0


@handle_errors
def chat(
    ctx: typer.Context,
    model: str | None = typer.Option(None, "--model", "-m", help="Model to chat with (default: config)."),
    provider: str | None = typer.Option(None, "--provider", help="ollama (default) or openai."),
    base_url: str | None = typer.Option(
        None, "--base-url", help="Server URL; OpenAI-compatible ones include /v1. Default: $OLLAMA_HOST."
    ),
    context_size: int | None = typer.Option(None, "--context-size", help="Context window in tokens."),
    no_recall: bool = typer.Option(False, "--no-recall", help="Do not bring past sessions into the chat."),
    resume: str | None = typer.Option(None, "--resume", metavar="ID", help="Go on with an earlier session."),
    prompt: str | None = typer.Option(None, "--prompt", "-p", help="Ask once, print the reply, exit."),
) -> None:
    """Chat with a local model; every message is recorded and relevant past sessions are recalled.

    On a terminal it is interactive (line editing, history, /help for commands). Otherwise each line
    of standard input is one message and each reply goes to standard output, so it can be scripted.

    Example: ollm chat --model llama3.2

    Example: ollm chat --provider openai --base-url http://127.0.0.1:8080/v1 -p "what did I fix?"
    """
    from ..chat.loop import Chat

    paths: Paths = ctx.obj
    flags = {
        "model": model,
        "provider": provider,
        "base_url": base_url,
        "context_size": context_size,
        "recall": False if no_recall else None,
    }
    settings = load_settings(paths.home, flags)
    interactive = prompt is None and sys.stdin.isatty() and sys.stdout.isatty()
    io = Io(interactive)
    session = Chat(paths.home, settings, index_dir=paths.index_dir, warn=io.warn)
    try:
        if resume:
            _resume(session, resume, model)
        elif context_size is not None:
            session.set_context_size(context_size)
        if session.model is None and prompt is not None:  # nothing could be sent: say what can be
            raise UsageError(f"no model chosen: pass --model NAME{_models_on_offer(session)}")
        if interactive and session.model is None:
            io.notice(f"no model chosen yet: type /model NAME{_models_on_offer(session)}")
        if interactive:
            recall_state = "recall on" if session.recall_enabled else "recall off"
            io.notice(
                f"ollm chat · {session.model or 'no model (/model NAME)'} via {session.client.server_name}"
                f" at {session.client.shown_url} · {recall_state} · /help for commands"
            )
        if prompt is not None:
            if not prompt.strip():
                raise UsageError("-p needs a question")
            with contextlib.suppress(ChatExit):  # the reader of the reply went away: a quiet end
                _turn(session, prompt, io)
        else:
            _loop(session, paths, io)
        if not interactive and session.session_id is not None:  # a script learns where it went
            info(f"{SAVED_IN} {session.session_id}")
    except KeyboardInterrupt:
        raise fail("interrupted: the partial reply is saved", 130) from None
    except ChatError as exc:
        raise fail(str(exc)) from None
    finally:
        session.close()


@handle_errors
def config(
    ctx: typer.Context,
    action: str | None = typer.Argument(None, metavar="[get KEY | set KEY VALUE]", show_default=False),
    key: str | None = typer.Argument(None, hidden=True),
    value: str | None = typer.Argument(None, hidden=True),
    as_json: bool = typer.Option(False, "--json", help="Print the settings as a JSON object."),
) -> None:
    """Show the effective chat settings and where each comes from (default, config.toml, env, flag);
    `get KEY` prints one, `set KEY VALUE` writes it to config.toml (checked first).

    Settings live in HOME/config.toml as plain keys, e.g. model = "llama3.2".

    Example: ollm config set model llama3.2   (then: ollm config get model)
    """
    from ..config import SETTINGS, set_in_config, toml_value
    from .output import print_json

    paths: Paths = ctx.obj
    if action is not None:
        if action not in ("get", "set") or key is None or (action == "set") != (value is not None):
            raise UsageError("use `ollm config`, `ollm config get KEY` or `ollm config set KEY VALUE`")
        if key not in SETTINGS:
            raise UsageError(f"unknown setting {key!r} (known: {', '.join(SETTINGS)})")
        if action == "set":
            assert value is not None
            written = set_in_config(paths.home / "config.toml", key, value)
            info(f"{key} = {toml_value(written)} in {paths.home / 'config.toml'}")
            return
        current = {setting.name: setting for setting in _effective(load_settings(paths.home))}[key]
        sys.stdout.write(("" if current.value is None else str(current.value)) + "\n")
        return
    settings = load_settings(paths.home)
    if as_json:
        print_json(
            {
                "configFile": str(settings.config_path),
                "settings": {s.name: {"value": s.value, "source": s.source} for s in _effective(settings)},
            }
        )
        return
    exists = "" if settings.config_path.exists() else " (not created yet)"
    info(f"config file: {settings.config_path}{exists}")
    width = max(len(s.name) for s in settings.items())
    for setting in _effective(settings):
        value = "(not set)" if setting.value is None else str(setting.value)
        sys.stdout.write(f"{setting.name:<{width}}  {value:<28} {setting.source}\n")
    if not settings.redact:
        warn("redact = false: API keys, tokens and passwords in chats are saved as they are")


def _effective(settings: Settings) -> list[Setting]:
    """The settings as a chat would use them: an unset base URL shows the one the environment or
    the default gives, and from where; a context size left to the server shows what the server
    runs the model with (Ollama's ``/api/show``)."""
    from ..chat.client import resolve_base_url

    shown = []
    for setting in settings.items():
        if setting.name == "base_url" and setting.value is None:
            variable = "OLLAMA_HOST" if settings.provider == "ollama" else "OPENAI_BASE_URL"
            source = f"${variable}" if os.environ.get(variable) else "default"
            setting = Setting("base_url", resolve_base_url(settings.provider), source)
        if setting.name == "context_size" and setting.source == "default":
            setting = _server_context(settings) or setting
        shown.append(setting)
    return shown


def _server_context(settings: Settings) -> Setting | None:
    """The context size an Ollama server runs the configured model with, or None when there is no
    model, the server is another kind, or it cannot be asked."""
    from ..chat.client import ChatClient
    from ..chat.loop import OLLAMA_DEFAULT_CONTEXT

    if settings.provider != "ollama" or not settings.model:
        return None
    client = ChatClient(settings.provider, settings.base_url, read_timeout=5.0)
    try:
        context = client.model_context(settings.model)
    except OllmRecallError:
        return None
    finally:
        client.close()
    size = context.configured or OLLAMA_DEFAULT_CONTEXT
    if context.trained:
        size = min(size, context.trained)
    where = "its Modelfile's num_ctx" if context.configured else "Ollama's default"
    return Setting("context_size", size, f"server ({settings.model}: {where})")


__all__ = ["chat", "config"]
