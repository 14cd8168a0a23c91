"""Tool calls in the two chat APIs: the recall tool offered to the model, the calls it makes (whole in
Ollama's stream, in pieces in OpenAI's), and the messages that carry them and their results back."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

RECALL_TOOL_NAME = "recall"
RECALL_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": RECALL_TOOL_NAME,
        "description": (
            "Search the user's earlier chat sessions (their archive of past conversations) by words and "
            "by meaning. Call it when the user refers to something discussed before, or when an earlier "
            "session would help; it returns the relevant passages with their dates."
        ),
        "parameters": {
            "type": "object",
            "properties": {
                "query": {"type": "string", "description": "What to look for, in plain words."},
            },
            "required": ["query"],
        },
    },
}


@dataclass(frozen=True)
class RequestedCall:
    """A tool call the model asked for: its id (made up when the server gives none), name, arguments."""

    id: str
    name: str
    arguments: dict[str, Any]


def _arguments(raw: Any) -> dict[str, Any]:
    """Arguments as the model sent them: an object (Ollama) or a JSON string of one (OpenAI); anything
    else becomes ``{}`` and the tool says what it needed."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw) if raw.strip() else {}
        except ValueError:
            return {}
    return dict(raw) if isinstance(raw, dict) else {}


def ollama_calls(raw: Any, first_number: int) -> list[RequestedCall]:
    """The calls in an Ollama message's ``tool_calls`` (each whole, in one chunk)."""
    calls = []
    for number, item in enumerate(raw if isinstance(raw, list) else [], start=first_number):
        function = item.get("function") if isinstance(item, dict) else None
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            call_id = item.get("id") if isinstance(item.get("id"), str) else f"call-{number}"
            calls.append(RequestedCall(call_id, function["name"], _arguments(function.get("arguments"))))
    return calls


@dataclass
class OpenAICallPieces:
    """OpenAI streams a call in pieces keyed by ``index``: the id and name first, then the arguments'
    JSON a few characters at a time."""

    _ids: dict[int, str] = field(default_factory=dict)
    _names: dict[int, str] = field(default_factory=dict)
    _arguments: dict[int, list[str]] = field(default_factory=dict)

    def add(self, deltas: Any) -> None:
        for item in deltas if isinstance(deltas, list) else []:
            if not isinstance(item, dict):
                continue
            index = item.get("index", 0) if isinstance(item.get("index", 0), int) else 0
            if isinstance(item.get("id"), str):
                self._ids[index] = item["id"]
            function = item.get("function") or {}
            if isinstance(function, dict):
                if isinstance(function.get("name"), str):
                    self._names[index] = self._names.get(index, "") + function["name"]
                if isinstance(function.get("arguments"), str):
                    self._arguments.setdefault(index, []).append(function["arguments"])

    def calls(self) -> list[RequestedCall]:
        return [
            RequestedCall(
                self._ids.get(index, f"call-{index}"),
                name,
                _arguments("".join(self._arguments.get(index, []))),
            )
            for index, name in sorted(self._names.items())
        ]


def openai_calls(raw: Any) -> list[RequestedCall]:
    """The calls of a whole (not streamed) OpenAI message."""
    pieces = OpenAICallPieces()
    pieces.add(
        [
            {**item, "index": number}
            for number, item in enumerate(raw if isinstance(raw, list) else [])
            if isinstance(item, dict)
        ]
    )
    return pieces.calls()


def assistant_turn(provider: str, text: str, calls: list[RequestedCall]) -> dict[str, Any]:
    """The model's own message that asked for ``calls``, as the next request must repeat it."""
    if provider == "ollama":
        return {
            "role": "assistant",
            "content": text,
            "tool_calls": [{"function": {"name": call.name, "arguments": call.arguments}} for call in calls],
        }
    return {
        "role": "assistant",
        "content": text or None,
        "tool_calls": [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
            }
            for call in calls
        ],
    }


def tool_result(provider: str, call: RequestedCall, content: str) -> dict[str, Any]:
    """The message that gives the model a call's result."""
    if provider == "ollama":
        return {"role": "tool", "content": content, "tool_name": call.name}
    return {"role": "tool", "tool_call_id": call.id, "content": content}
