"""A small stand-in model server that speaks Ollama's and OpenAI's chat APIs, for demos and tests.

It runs no language model. Each reply says what the server was sent, so you can see what ``ollm chat``
passes to a model: the past sessions recalled into the prompt and your last message. It streams
(Ollama's NDJSON, OpenAI's server-sent events) or answers in one piece, reports token counts, lists its
models, and can misbehave on purpose (``--behaviour``) to show how ollm handles a failing server.

    python examples/model_server.py --port 11434            # then: ollm chat --model demo
    python examples/model_server.py --port 8080             # then: ollm chat --provider openai \\
                                                            #   --base-url http://127.0.0.1:8080/v1
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

BEHAVIOURS = ("normal", "http500", "malformed", "die", "error-event")
TOOL_SUPPORT = ("use", "reject")
"""``use``: when offered a ``recall`` tool and asked to "look it up", call it, then answer from what it
returned; ``reject``: answer any request that offers tools with HTTP 400, as Ollama does for a model
without tool support."""
TOOL_TRIGGER = "look it up"


def wanted_tool_call(body: dict[str, Any]) -> dict[str, Any] | None:
    """The recall call the stand-in makes: when offered the tool and the user asked to look it up."""
    offered = {(tool.get("function") or {}).get("name") for tool in body.get("tools") or []}
    messages = body.get("messages") or []
    last = messages[-1] if messages else {}
    if "recall" in offered and last.get("role") == "user" and TOOL_TRIGGER in str(last.get("content")):
        query = str(last["content"]).replace(TOOL_TRIGGER, "").strip(" .,;:!?")
        return {"name": "recall", "arguments": {"query": query}}
    return None


def tool_answer(messages: list[dict[str, Any]]) -> str | None:
    """After a tool result: the stand-in says what came back (its first line)."""
    if not messages or messages[-1].get("role") != "tool":
        return None
    first = str(messages[-1].get("content", "")).strip().splitlines()
    return f"(stand-in model) The recall tool returned: {first[0] if first else 'nothing'}"


def compose_reply(messages: list[dict[str, Any]]) -> str:
    """What the stand-in answers: the recalled sessions it was given, then the user's last words."""

    def is_recall(message: dict[str, Any]) -> bool:
        return message.get("role") == "user" and str(message.get("content", "")).startswith("Excerpts of")

    users = [m.get("content", "") for m in messages if m.get("role") == "user" and not is_recall(m)]
    last = users[-1] if users else ""
    recalled = [m.get("content", "") for m in messages if is_recall(m)]
    if not recalled:
        return f"(stand-in model, no past sessions in the prompt) You said: {last}"
    headings = [
        f"{day}: {title}"
        for day, title in re.findall(
            r'^<past-session date="([^"]*)" title="([^"]*)">$', recalled[-1], re.MULTILINE
        )
    ]
    return (
        f"(stand-in model) The prompt carried {len(headings)} earlier session"
        f"{'s' if len(headings) != 1 else ''}: {'; '.join(headings)}. You said: {last}"
    )


class ModelServer:
    """A server on 127.0.0.1 in a background thread; ``requests`` holds every JSON body it received."""

    def __init__(
        self,
        *,
        models: tuple[str, ...] = ("demo",),
        behaviour: str = "normal",
        piece_delay: float = 0.0,
        port: int = 0,
        reply: str | None = None,
        tools: str = "use",
        num_ctx: int | None = None,
        context_length: int = 131072,
    ) -> None:
        if behaviour not in BEHAVIOURS:
            raise ValueError(f"unknown behaviour {behaviour!r}: use one of {', '.join(BEHAVIOURS)}")
        if tools not in TOOL_SUPPORT:
            raise ValueError(f"unknown tools {tools!r}: use one of {', '.join(TOOL_SUPPORT)}")
        self.tools = tools
        self.num_ctx = num_ctx
        """The context its models' Modelfiles set (``/api/show`` parameters), or None."""
        self.context_length = context_length
        """The context its models were trained for (``/api/show`` model_info)."""
        self.models = models
        self.behaviour = behaviour
        self.piece_delay = piece_delay
        self.reply = reply
        self.requests: list[dict[str, Any]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> ModelServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> ModelServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _handler(server: ModelServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def do_GET(self) -> None:
            if self.path == "/api/tags":
                self._json(200, {"models": [{"name": name, "model": name} for name in server.models]})
            elif self.path == "/v1/models":
                self._json(
                    200, {"object": "list", "data": [{"id": n, "object": "model"} for n in server.models]}
                )
            else:
                self._json(404, {"error": f"no route {self.path}"})

        def _show(self, model: object) -> None:
            if model not in server.models and f"{model}:latest" not in server.models:
                self._json(404, {"error": f"model '{model}' not found"})
                return
            parameters = f"num_ctx                        {server.num_ctx}" if server.num_ctx else ""
            self._json(
                200,
                {"parameters": parameters, "model_info": {"llama.context_length": server.context_length}},
            )

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except ValueError:
                self._json(400, {"error": "invalid JSON"})
                return
            server.requests.append({"path": self.path, "body": body})
            openai = self.path == "/v1/chat/completions"
            if self.path == "/api/show":
                self._show(body.get("model") or body.get("name"))
                return
            if self.path not in ("/api/chat", "/v1/chat/completions"):
                self._json(404, {"error": f"no route {self.path}"})
                return
            if server.behaviour == "http500":
                message = "model runner crashed: out of memory"
                self._json(
                    500,
                    {"error": {"message": message, "type": "server_error"}} if openai else {"error": message},
                )
                return
            model = body.get("model")
            if model not in server.models:
                if openai:
                    self._json(
                        404,
                        {
                            "error": {
                                "message": f"The model `{model}` does not exist.",
                                "type": "invalid_request_error",
                                "code": "model_not_found",
                            }
                        },
                    )
                else:
                    self._json(404, {"error": f"model '{model}' not found"})
                return
            if body.get("tools") and server.tools == "reject":
                message = f"registry.ollama.ai/library/{model}:latest does not support tools"
                self._json(
                    400,
                    {"error": {"message": message, "type": "invalid_request_error"}}
                    if openai
                    else {"error": message},
                )
                return
            call = wanted_tool_call(body)
            text = tool_answer(body.get("messages") or []) or (
                server.reply if server.reply is not None else compose_reply(body.get("messages") or [])
            )
            pieces = [] if call else re.findall(r"\S+\s*|\s+", text) or [""]
            prompt_tokens = sum(len(str(m.get("content", ""))) // 4 for m in body.get("messages") or [])
            if not body.get("stream", True if not openai else False):
                self._whole(openai, model, "" if call else text, prompt_tokens, len(pieces), call)
            else:
                self._stream(openai, model, pieces, prompt_tokens, call)

        def _json(self, status: int, value: Any) -> None:
            data = json.dumps(value).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _whole(
            self, openai: bool, model: str, text: str, prompt_tokens: int, count: int, call: dict | None
        ) -> None:
            if openai:
                message: dict[str, Any] = {"role": "assistant", "content": text}
                if call:
                    message["tool_calls"] = [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": call["name"], "arguments": json.dumps(call["arguments"])},
                        }
                    ]
                self._json(
                    200,
                    {
                        "id": "chatcmpl-1",
                        "object": "chat.completion",
                        "model": model,
                        "choices": [
                            {
                                "index": 0,
                                "message": message,
                                "finish_reason": "tool_calls" if call else "stop",
                            }
                        ],
                        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": count},
                    },
                )
            else:
                reply: dict[str, Any] = {"role": "assistant", "content": text}
                if call:
                    reply["tool_calls"] = [{"function": call}]
                self._json(
                    200,
                    {
                        "model": model,
                        "message": reply,
                        "done": True,
                        "done_reason": "stop",
                        "prompt_eval_count": prompt_tokens,
                        "eval_count": count,
                    },
                )

        def _stream(
            self, openai: bool, model: str, pieces: list[str], prompt_tokens: int, call: dict | None
        ) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream" if openai else "application/x-ndjson")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            if call and openai:  # the arguments arrive in pieces, as OpenAI streams them
                arguments = json.dumps(call["arguments"])
                opening = {
                    "index": 0,
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": call["name"], "arguments": ""},
                }
                deltas: list[dict[str, Any]] = [{"role": "assistant", "tool_calls": [opening]}]
                deltas += [
                    {"tool_calls": [{"index": 0, "function": {"arguments": arguments[i : i + 7]}}]}
                    for i in range(0, len(arguments), 7)
                ]
                for delta in deltas:
                    event = {
                        "id": "chatcmpl-1",
                        "object": "chat.completion.chunk",
                        "model": model,
                        "choices": [{"index": 0, "delta": delta, "finish_reason": None}],
                    }
                    self._chunk(f"data: {json.dumps(event)}\n\n")
                end = {
                    "id": "chatcmpl-1",
                    "object": "chat.completion.chunk",
                    "model": model,
                    "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}],
                }
                self._chunk(f"data: {json.dumps(end)}\n\n")
            elif call:
                event = {
                    "model": model,
                    "message": {"role": "assistant", "content": "", "tool_calls": [{"function": call}]},
                    "done": False,
                }
                self._chunk(json.dumps(event) + "\n")
            began = time.perf_counter_ns()
            for number, piece in enumerate(pieces):
                if number == 3 and server.behaviour in ("malformed", "die", "error-event"):
                    self._misbehave(openai)
                    return
                if openai:
                    event = {
                        "id": "chatcmpl-1",
                        "object": "chat.completion.chunk",
                        "model": model,
                        "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}],
                    }
                    self._chunk(f"data: {json.dumps(event)}\n\n")
                else:
                    event = {
                        "model": model,
                        "message": {"role": "assistant", "content": piece},
                        "done": False,
                    }
                    self._chunk(json.dumps(event) + "\n")
                if server.piece_delay:
                    time.sleep(server.piece_delay)
            if openai:
                usage = {
                    "id": "chatcmpl-1",
                    "object": "chat.completion.chunk",
                    "model": model,
                    "choices": [],
                    "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": len(pieces)},
                }
                self._chunk(f"data: {json.dumps(usage)}\n\ndata: [DONE]\n\n")
            else:
                final = {
                    "model": model,
                    "message": {"role": "assistant", "content": ""},
                    "done": True,
                    "done_reason": "stop",
                    "prompt_eval_count": prompt_tokens,
                    "eval_count": len(pieces),
                    # as Ollama reports them, in nanoseconds: here the time the pieces took to send
                    "prompt_eval_duration": 1_000_000,
                    "eval_duration": max(1, time.perf_counter_ns() - began),
                    "total_duration": max(1, time.perf_counter_ns() - began) + 1_000_000,
                }
                self._chunk(json.dumps(final) + "\n")
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

        def _misbehave(self, openai: bool) -> None:
            if server.behaviour == "malformed":
                self._chunk("data: {not json\n\n" if openai else "{not json\n")
                self.wfile.write(b"0\r\n\r\n")
            elif server.behaviour == "error-event":
                error = {"error": "model runner stopped unexpectedly"}
                self._chunk(f"data: {json.dumps(error)}\n\n" if openai else json.dumps(error) + "\n")
                self.wfile.write(b"0\r\n\r\n")
            else:  # die: drop the connection in the middle of the body
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True

        def _chunk(self, text: str) -> None:
            data = text.encode()
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=11434, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--model", action="append", help="model name to offer (repeatable; default: demo)")
    parser.add_argument("--behaviour", choices=BEHAVIOURS, default="normal", help="misbehave on purpose")
    parser.add_argument("--piece-delay", type=float, default=0.0, help="seconds between streamed pieces")
    parser.add_argument(
        "--tools",
        choices=TOOL_SUPPORT,
        default="use",
        help=f"use: call recall when asked to '{TOOL_TRIGGER}'; reject: no tool support",
    )
    args = parser.parse_args()
    server = ModelServer(
        models=tuple(args.model or ["demo"]),
        behaviour=args.behaviour,
        piece_delay=args.piece_delay,
        port=args.port,
        tools=args.tools,
    )
    print(f"listening on {server.url} (Ollama API; OpenAI-compatible at {server.url}/v1)", flush=True)
    try:
        server._server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
