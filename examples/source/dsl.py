"""A small notation for writing example sessions by hand: who said what, when, with which model."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Turn:
    role: str
    text: str


@dataclass
class Tool:
    name: str
    args: dict[str, Any]
    output: str
    display: str


@dataclass
class Chat:
    start: str  # local time of the first message, "YYYY-MM-DDTHH:MM", written as UTC
    model: str
    turns: list[Turn | Tool]
    provider: str = "ollama"
    context_size: int | None = None
    extra_metadata: dict[str, Any] = field(default_factory=dict)


def U(text: str) -> Turn:
    return Turn("user", text)


def A(text: str) -> Turn:
    return Turn("assistant", text)


def T(name: str, args: dict[str, Any], output: str, display: str) -> Tool:
    return Tool(name, args, output, display)
