"""``ChatClient``: talk to a local model server, Ollama's own API or an OpenAI-compatible one.

Both are streamed: Ollama sends one JSON object per line (``/api/chat``), OpenAI-compatible servers
send server-sent events (``/v1/chat/completions``, ``data: {...}`` lines ending with ``data: [DONE]``).
Every failure becomes a ``ChatError`` with one line that says what went wrong and what to do.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx

from ..errors import ModelNotFound, ServerError, ServerUnreachable, StreamBroken, ToolsUnsupported, UsageError
from .tools import OpenAICallPieces, RequestedCall, ollama_calls, openai_calls

Provider = Literal["ollama", "openai"]
PROVIDERS: tuple[str, ...] = ("ollama", "openai")
OLLAMA_DEFAULT_URL = "http://127.0.0.1:11434"
OPENAI_DEFAULT_URL = "http://127.0.0.1:8080/v1"
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 300.0


def ollama_host_url(value: str | None) -> str:
    """The base URL Ollama's own client derives from ``OLLAMA_HOST`` (``host``, ``host:port`` or a URL).

    As Ollama does: no scheme means http and port 11434; an ``http://`` or ``https://`` URL without a
    port means 80 or 443; an unparseable value falls back to the default.
    """
    text = (value or "").strip()
    if not text:
        return OLLAMA_DEFAULT_URL
    scheme, separator, rest = text.partition("://")
    if not separator:
        scheme, rest, default_port = "http", text, 11434
    else:
        default_port = {"http": 80, "https": 443}.get(scheme, 11434)
    hostport, _, path = rest.partition("/")
    try:
        parts = urlsplit(f"//{hostport}")
        port = parts.port
        host = parts.hostname or "127.0.0.1"
    except ValueError:
        return OLLAMA_DEFAULT_URL
    if ":" in host:
        host = f"[{host}]"
    url = f"{scheme}://{host}:{port if port is not None else default_port}"
    return url + (f"/{path.strip('/')}" if path.strip("/") else "")


def _without_password(url: str) -> str:
    """``url`` with the password of its user info, if any, shown as ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rsplit("@", 1)[1]
    return parts._replace(netloc=f"{user}:***@{host}").geturl()


def resolve_base_url(
    provider: str, base_url: str | None = None, environ: Mapping[str, str] | None = None
) -> str:
    """The server to talk to: ``base_url`` if given, else ``OLLAMA_HOST`` (Ollama) or
    ``OPENAI_BASE_URL`` (OpenAI-compatible, the URL including ``/v1``), else the local default."""
    env = os.environ if environ is None else environ
    if base_url:
        chosen = base_url.strip().rstrip("/")
    elif provider == "ollama":
        chosen = ollama_host_url(env.get("OLLAMA_HOST"))
    else:
        chosen = (env.get("OPENAI_BASE_URL") or OPENAI_DEFAULT_URL).rstrip("/")
    if not chosen.startswith(("http://", "https://")):
        raise UsageError(f"base URL {chosen!r} must start with http:// or https://")
    return chosen


@dataclass(frozen=True)
class ModelContext:
    """What a server says of a model's context window: the one its configuration sets (Ollama's
    Modelfile ``num_ctx``) and the one it was trained for; None where it does not say."""

    configured: int | None = None
    trained: int | None = None


@dataclass
class Usage:
    """What the server reported of one reply: tokens, and (Ollama) how long it took, in milliseconds
    (None where it reported nothing)."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    prompt_ms: float | None = None
    eval_ms: float | None = None
    total_ms: float | None = None

    @property
    def total(self) -> int:
        return (self.prompt_tokens or 0) + (self.completion_tokens or 0)

    @classmethod
    def from_ollama(cls, event: dict[str, Any]) -> Usage:
        """From Ollama's last chunk: ``prompt_eval_count``, ``eval_count`` and the durations (ns)."""

        def milliseconds(name: str) -> float | None:
            value = event.get(name)
            return value / 1e6 if isinstance(value, int | float) and value >= 0 else None

        return cls(
            _count(event.get("prompt_eval_count")),
            _count(event.get("eval_count")),
            milliseconds("prompt_eval_duration"),
            milliseconds("eval_duration"),
            milliseconds("total_duration"),
        )

    @classmethod
    def from_openai(cls, usage: dict[str, Any]) -> Usage:
        return cls(_count(usage.get("prompt_tokens")), _count(usage.get("completion_tokens")))

    def plus(self, other: Usage) -> Usage:
        """Both rounds of a reply (one that called tools) as one."""

        def add(a: float | None, b: float | None) -> Any:
            return None if a is None and b is None else (a or 0) + (b or 0)

        return Usage(*(add(getattr(self, f), getattr(other, f)) for f in USAGE_FIELDS))

    def to_json(self) -> dict[str, Any]:
        """The message's ``usage`` field (docs/storage.md): only what the server said."""
        values = {name: getattr(self, field) for field, name in zip(USAGE_FIELDS, USAGE_NAMES, strict=True)}
        return {
            name: round(value, 1) if isinstance(value, float) else value
            for name, value in values.items()
            if value is not None
        }


USAGE_FIELDS = ("prompt_tokens", "completion_tokens", "prompt_ms", "eval_ms", "total_ms")
USAGE_NAMES = ("promptTokens", "completionTokens", "promptEvalMs", "evalMs", "totalMs")


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


@dataclass
class ReplyStream:
    """A reply as it arrives: iterate for text pieces; ``text`` and ``usage`` grow as it streams.

    ``complete`` turns true only when the server said the reply is finished; ``close()`` stops it early.
    """

    _pieces: Iterator[str]
    _response: Any = None
    parts: list[str] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    complete: bool = False
    tool_calls: list[RequestedCall] = field(default_factory=list)
    """The tools the model asked to call, known once the stream is read to its end."""

    def __iter__(self) -> Iterator[str]:
        for piece in self._pieces:
            self.parts.append(piece)
            yield piece

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def read(self) -> str:
        """Wait for the whole reply and return it."""
        for _ in self:
            pass
        return self.text

    def close(self) -> None:
        """Stop receiving (Ctrl-C): the connection is closed, what arrived stays in ``text``."""
        close = getattr(self._pieces, "close", None)
        if close is not None:
            close()
        if self._response is not None:
            self._response.close()


class ChatClient:
    """A client for one model server; ``provider`` is ``ollama`` or ``openai`` (any compatible server)."""

    def __init__(
        self,
        provider: str = "ollama",
        base_url: str | None = None,
        *,
        api_key: str | None = None,
        connect_timeout: float = CONNECT_TIMEOUT,
        read_timeout: float = READ_TIMEOUT,
    ) -> None:
        if provider not in PROVIDERS:
            raise UsageError(f"unknown provider {provider!r}: use one of {', '.join(PROVIDERS)}")
        self.provider = provider
        self.base_url = resolve_base_url(provider, base_url)
        self.shown_url = _without_password(self.base_url)
        """``base_url`` as messages show it: a password in it is masked (errors are pasted around)."""
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
        self._http = httpx.Client(timeout=timeout, headers=headers, trust_env=False)
        self.read_timeout = read_timeout

    @property
    def server_name(self) -> str:
        return "Ollama" if self.provider == "ollama" else "the OpenAI-compatible server"

    def list_models(self) -> list[str]:
        """Names of the models the server offers (``/api/tags`` or ``/models``), sorted."""
        path = "/api/tags" if self.provider == "ollama" else "/models"
        response = self._request("GET", path)
        try:
            body = response.json()
            if self.provider == "ollama":
                names = [item["name"] for item in body.get("models") or []]
            else:
                names = [item["id"] for item in body.get("data") or []]
        except (ValueError, KeyError, TypeError, AttributeError):
            raise ServerError(
                f"{self.server_name} at {self.shown_url} sent a model list that is not the expected JSON"
            ) from None
        return sorted(str(name) for name in names)

    def chat(
        self,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        *,
        context_size: int | None = None,
        stream: bool = True,
        tools: Sequence[Mapping[str, Any]] | None = None,
    ) -> ReplyStream:
        """Send the conversation and return the reply as a stream (raises at once if the server
        cannot be reached, lacks the model or answers with an error). With ``tools``, the model may
        ask to call them (``ReplyStream.tool_calls``); a server or model that takes no tools raises
        ``ToolsUnsupported``."""
        payload: dict[str, Any] = {"model": model, "messages": [dict(m) for m in messages], "stream": stream}
        if tools:
            payload["tools"] = [dict(tool) for tool in tools]
        if self.provider == "ollama":
            path = "/api/chat"
            if context_size:
                payload["options"] = {"num_ctx": context_size}
        else:
            path = "/chat/completions"
            if stream:
                payload["stream_options"] = {"include_usage": True}
        request = self._http.build_request("POST", self.base_url + path, json=payload)
        response = self._send(request, stream=True)
        if response.status_code >= 400:
            response.read()
            response.close()
            if tools and response.status_code in (400, 422, 500, 501) and "tool" in response.text.lower():
                raise ToolsUnsupported(
                    f"{self.server_name} does not take tools for {model}: {_server_message(response)}"
                )
            raise self._http_error(response, model)
        reply = ReplyStream(iter(()), response)
        if not stream:
            reply._pieces = self._whole(response, reply)
        elif self.provider == "ollama":
            reply._pieces = self._ollama_pieces(response, reply)
        else:
            reply._pieces = self._openai_pieces(response, reply)
        return reply

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ChatClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _request(self, method: str, path: str) -> httpx.Response:
        response = self._send(self._http.build_request(method, self.base_url + path))
        if response.status_code >= 400:
            raise self._http_error(response, None)
        return response

    def _send(self, request: httpx.Request, *, stream: bool = False) -> httpx.Response:
        try:
            return self._http.send(request, stream=stream)
        except (httpx.ConnectError, httpx.ConnectTimeout):
            hint = "is `ollama serve` running?" if self.provider == "ollama" else "is the server running?"
            raise ServerUnreachable(f"cannot reach {self.server_name} at {self.shown_url}: {hint}") from None
        except httpx.TimeoutException:
            raise ServerUnreachable(
                f"{self.server_name} at {self.shown_url} did not answer within {self.read_timeout:g} s"
            ) from None
        except httpx.TransportError as exc:
            raise ServerUnreachable(
                f"cannot talk to {self.server_name} at {self.shown_url}: {exc or type(exc).__name__}"
            ) from None

    def _http_error(self, response: httpx.Response, model: str | None):
        said = _server_message(response)
        if (
            model is not None
            and (response.status_code == 404 or "not found" in said.lower())
            and "model" in said.lower() + response.text.lower()
        ):
            return self._model_not_found(model)
        return ServerError(
            f"{self.server_name} at {self.shown_url} answered HTTP {response.status_code}: {said}"
            + (self._url_form_hint() if response.status_code == 404 else "")
        )

    def _url_form_hint(self) -> str:
        """What a 404 from the wrong form of base URL most likely means, and the form expected."""
        has_v1 = self.base_url.rstrip("/").endswith("/v1")
        if self.provider == "ollama" and has_v1:
            return (
                " (Ollama's base URL has no /v1, e.g. http://127.0.0.1:11434; for an "
                "OpenAI-compatible server use --provider openai)"
            )
        if self.provider == "openai" and not has_v1:
            return " (an OpenAI-compatible base URL includes /v1, e.g. http://127.0.0.1:8080/v1)"
        return ""

    def model_context(self, model: str) -> ModelContext:
        """The model's context window as Ollama's ``/api/show`` gives it (an OpenAI-compatible
        server says nothing of it: an empty answer)."""
        if self.provider != "ollama":
            return ModelContext()
        request = self._http.build_request("POST", self.base_url + "/api/show", json={"model": model})
        response = self._send(request)
        if response.status_code >= 400:
            raise self._http_error(response, model)
        try:
            body = response.json()
            parameters = str(body.get("parameters") or "")
            info = body.get("model_info") or {}
        except (ValueError, AttributeError):
            return ModelContext()
        configured = None
        for line in parameters.splitlines():
            name, _, value = line.strip().partition(" ")
            if name == "num_ctx" and value.strip().isdigit():
                configured = int(value.strip())
        trained = next(
            (int(v) for k, v in info.items() if str(k).endswith(".context_length") and isinstance(v, int)),
            None,
        )
        return ModelContext(configured, trained)

    def require_model(self, model: str) -> None:
        """``ModelNotFound`` (naming what the server has) unless the server offers ``model``: checked
        before going on with an old session, so a message is not recorded for a model that is gone."""
        names = self.list_models()
        if model not in names and f"{model}:latest" not in names:
            raise self._model_not_found(model, names)

    def _model_not_found(self, model: str, available: list[str] | None = None) -> ModelNotFound:
        if available is None:
            try:
                available = self.list_models()
            except (ServerError, ServerUnreachable):
                available = []
        offer = f"it has: {', '.join(available)}" if available else "it lists no models"
        pull = f" (`ollama pull {model}` fetches it)" if self.provider == "ollama" else ""
        return ModelNotFound(f"{self.server_name} at {self.shown_url} has no model {model!r}; {offer}{pull}")

    def _whole(self, response: httpx.Response, reply: ReplyStream) -> Iterator[str]:
        with self._reading(response, reply):
            response.read()
        try:
            body = json.loads(response.content)
            if self.provider == "ollama":
                text = body["message"]["content"]
                reply.tool_calls = ollama_calls(body["message"].get("tool_calls"), 0)
                reply.usage = Usage.from_ollama(body)
            else:
                text = body["choices"][0]["message"]["content"] or ""
                reply.tool_calls = openai_calls(body["choices"][0]["message"].get("tool_calls"))
                reply.usage = Usage.from_openai(body.get("usage") or {})
        except (ValueError, KeyError, IndexError, TypeError):
            raise StreamBroken(
                f"{self.server_name} at {self.shown_url} sent a reply that is not the "
                f"expected JSON: {_clip(response.text)}"
            ) from None
        reply.complete = True
        yield str(text)

    def _ollama_pieces(self, response: httpx.Response, reply: ReplyStream) -> Iterator[str]:
        with self._reading(response, reply):
            for line in response.iter_lines():
                if not line.strip():
                    continue
                event = self._decode(line, reply)
                if "error" in event:
                    raise StreamBroken(f"{self.server_name} stopped the reply: {event['error']}", reply.text)
                message = event.get("message") or {}
                piece = message.get("content") or "" if isinstance(message, dict) else None
                if not isinstance(piece, str):
                    raise self._malformed(line, reply)
                if message.get("tool_calls"):
                    reply.tool_calls += ollama_calls(message["tool_calls"], len(reply.tool_calls))
                if piece:
                    yield piece
                if event.get("done"):
                    reply.usage = Usage.from_ollama(event)
                    reply.complete = True
                    return
        raise self._cut_off(reply)

    def _openai_pieces(self, response: httpx.Response, reply: ReplyStream) -> Iterator[str]:
        calls = OpenAICallPieces()
        with self._reading(response, reply):
            for line in response.iter_lines():
                if not line.startswith("data:"):
                    continue  # blank separators, comments (": ping"), event: and id: fields
                data = line[5:].strip()
                if data == "[DONE]":
                    reply.tool_calls = calls.calls()
                    reply.complete = True
                    return
                event = self._decode(data, reply)
                if "error" in event:
                    raise StreamBroken(
                        f"{self.server_name} stopped the reply: {_error_text(event)}", reply.text
                    )
                usage = event.get("usage")
                if isinstance(usage, dict):
                    reply.usage = Usage.from_openai(usage)
                for choice in event.get("choices") or []:
                    delta = (choice.get("delta") or {}) if isinstance(choice, dict) else None
                    if not isinstance(delta, dict):
                        raise self._malformed(line, reply)
                    piece = delta.get("content") or ""
                    if not isinstance(piece, str):
                        raise self._malformed(line, reply)
                    calls.add(delta.get("tool_calls"))
                    if piece:
                        yield piece
        raise self._cut_off(reply)

    def _reading(self, response: httpx.Response, reply: ReplyStream):
        return _StreamErrors(self, response, reply)

    def _decode(self, line: str, reply: ReplyStream) -> dict[str, Any]:
        try:
            event = json.loads(line)
        except ValueError:
            raise self._malformed(line, reply) from None
        if not isinstance(event, dict):
            raise self._malformed(line, reply)
        return event

    def _malformed(self, line: str, reply: ReplyStream) -> StreamBroken:
        return StreamBroken(
            f"{self.server_name} at {self.shown_url} sent a malformed line in the reply stream: "
            f"{_clip(line)}",
            reply.text,
        )

    def _cut_off(self, reply: ReplyStream) -> StreamBroken:
        return StreamBroken(
            f"the reply stream from {self.server_name} at {self.shown_url} was cut off "
            f"after {len(reply.text)} characters",
            reply.text,
        )


class _StreamErrors:
    """Map transport failures while reading a reply to ``StreamBroken`` and always close the response."""

    def __init__(self, client: ChatClient, response: httpx.Response, reply: ReplyStream) -> None:
        self.client, self.response, self.reply = client, response, reply

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, _tb: object
    ) -> Literal[False]:
        self.response.close()
        if isinstance(exc, httpx.TimeoutException):
            raise StreamBroken(
                f"{self.client.server_name} at {self.client.shown_url} went silent for "
                f"{self.client.read_timeout:g} s mid-reply",
                self.reply.text,
            ) from None
        if isinstance(exc, (httpx.TransportError, httpx.StreamError)):
            raise self.client._cut_off(self.reply) from None
        return False


def _server_message(response: httpx.Response) -> str:
    """The server's own words from an error response (its JSON ``error``), else the body's start."""
    try:
        body = response.json()
    except ValueError:
        return _clip(response.text) or response.reason_phrase
    if isinstance(body, dict):
        return _error_text(body)
    return _clip(response.text)


def _error_text(body: dict[str, Any]) -> str:
    error = body.get("error") or body.get("detail") or body.get("message") or body  # Ollama, FastAPI, vLLM
    if isinstance(error, dict):
        error = error.get("message", error)
    return _clip(str(error))


def _clip(text: str, width: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"
