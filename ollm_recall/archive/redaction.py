"""Secrets never reach disk: well-known secret formats in what is saved become ``[REDACTED:kind]``.

Every session file is written by ``SessionStore.write``, which passes the session through a
``Redactor`` first, so recording, chat, import and ``ollm redact`` all redact alike. The session in
memory keeps what was typed (the model still gets it in this chat); only what is stored is redacted.

What a secret looks like is in ``secret_rules``; this module finds them in a session's messages, tool
calls and metadata and replaces them. Each text is scanned once per process (results are remembered),
so saving a long session again after one new message costs only the new message.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..config import load_settings
from ..errors import ConfigError
from .secret_rules import (
    BUILT_IN_RULES,
    MARKER,
    MARKER_PATTERN,
    PARTIAL_PREFIXES,
    PARTIAL_TAIL,
    SECRET_NAME,
    TRAILING_ASSIGNMENT,
    TRAILING_TOKEN,
    Rule,
    keyword_kind,
    looks_random,
)
from .session import Message, Part, Session, ToolCall


@dataclass(frozen=True)
class Finding:
    """One secret found: what kind, and where (``messages[3]``, ``toolCalls[0].result``); never the
    secret itself."""

    kind: str
    where: str


MEMO_LIMIT = 50_000
"""Texts whose redaction is remembered; past this the memory starts again (a long-running chat)."""


@dataclass(frozen=True)
class RedactedText:
    """A text with its secrets replaced, and the kinds replaced, in order."""

    text: str
    kinds: tuple[str, ...]


class Redactor:
    """Finds secrets by the built-in rules plus ``extra_patterns``, keeping ``allow`` matches.

    ``extra_patterns`` are regular expressions (the first group, if any, is what is replaced; kind
    ``custom``); ``allow`` are regular expressions a found secret that fully matches one of is kept.
    """

    def __init__(self, extra_patterns: Sequence[str] = (), allow: Sequence[str] = ()) -> None:
        extra = []
        for pattern in extra_patterns:
            compiled = _compile(pattern, "redact_patterns")
            extra.append(Rule("custom", compiled, (), group=1 if compiled.groups else 0))
        self.rules: tuple[Rule, ...] = tuple(extra) + BUILT_IN_RULES
        self.allow = tuple(_compile(pattern, "redact_allow") for pattern in allow)
        self._hints = frozenset(hint for rule in self.rules for hint in rule.hints)
        self._memo: dict[tuple[str, bool], RedactedText] = {}

    def redact_text(self, text: str, *, partial: bool = False) -> RedactedText:
        """``text`` with every secret replaced by its marker. ``partial``: the text is still being
        written (a streaming reply), so a secret cut short at its end is replaced too."""
        key = (text, partial)
        known = self._memo.get(key)
        if known is None:
            if len(self._memo) >= MEMO_LIMIT:
                self._memo.clear()
            known = self._memo[key] = self._scan(text, partial)
        return known

    def _scan(self, text: str, partial: bool) -> RedactedText:
        lowered = text.lower()
        present = {hint for hint in self._hints if hint in lowered}
        spans: list[tuple[int, int, int, str]] = []
        for priority, rule in enumerate(self.rules):
            if rule.hints and present.isdisjoint(rule.hints):
                continue
            matches = (
                _anchored_matches(rule, text, lowered, present)
                if rule.anchored
                else rule.pattern.finditer(text)
            )
            for match in matches:
                group: int | str = (
                    rule.group
                    if rule.group >= 0
                    else next(name for name in ("quoted", "single", "bare") if match.group(name) is not None)
                )
                value = match.group(group)
                if value is None or (rule.accept is not None and not rule.accept(value)):
                    continue
                if MARKER_PATTERN.search(value):  # a secret redacted before: a marker is never one
                    continue
                if any(allowed.fullmatch(value) for allowed in self.allow):
                    continue
                kind = keyword_kind(match.group("name")) if rule.group < 0 else rule.kind
                spans.append((match.start(group), match.end(group), priority, kind))
        if partial:
            spans.extend(self._cut_short(text))
        if not spans:
            return RedactedText(text, ())
        spans.sort(key=lambda span: (span[0], span[2], -span[1]))
        pieces, kinds, position = [], [], 0
        for start, end, _priority, kind in spans:
            if start < position:
                continue  # inside a span already replaced
            pieces.append(text[position:start])
            pieces.append(MARKER.format(kind=kind))
            kinds.append(kind)
            position = end
        pieces.append(text[position:])
        return RedactedText("".join(pieces), tuple(kinds))

    def _cut_short(self, text: str) -> list[tuple[int, int, int, str]]:
        """A known prefix, or an assigned secret, that the text ends in the middle of."""
        found = []
        tail_start = max(0, len(text) - PARTIAL_TAIL)
        tail = text[tail_start:]
        token = TRAILING_TOKEN.search(tail)
        if token is not None:
            for prefix, kind in PARTIAL_PREFIXES.items():
                if token.group(0).startswith(prefix):
                    found.append((tail_start + token.start(), len(text), len(self.rules), kind))
                    break
        assignment = TRAILING_ASSIGNMENT.search(tail)
        if assignment is not None and not MARKER_PATTERN.search(assignment.group(1)):
            name = tail[assignment.start() : assignment.start(1)]
            found.append((tail_start + assignment.start(1), len(text), len(self.rules), keyword_kind(name)))
        return found

    def redact_message(self, message: Message) -> tuple[Message, tuple[str, ...]]:
        """The message with its text parts redacted (the same object when there was nothing), and the
        kinds replaced. A message still being written (``interrupted``) is redacted as partial."""
        kinds: list[str] = []
        parts: list[Part] = []
        changed = False
        for part in message.parts:
            if part.text is None:
                parts.append(part)
                continue
            result = self.redact_text(part.text, partial=message.interrupted)
            kinds.extend(result.kinds)
            if result.text != part.text:
                changed = True
                part = replace(part, text=result.text)
            parts.append(part)
        if not changed:
            return message, tuple(kinds)
        return replace(message, parts=tuple(parts)), tuple(kinds)

    def redact_value(self, value: Any, name: str | None = None) -> tuple[Any, tuple[str, ...]]:
        """Every string inside a JSON-like value redacted (tool-call arguments and results). A string
        under a key that names a secret (``{"api_token": ...}``) goes whole if it looks random."""
        if isinstance(value, str):
            result = self.redact_text(value)
            if (
                not result.kinds
                and name is not None
                and SECRET_NAME.search(name)
                and looks_random(value)
                and not any(allowed.fullmatch(value) for allowed in self.allow)
            ):
                kind = keyword_kind(name)
                return MARKER.format(kind=kind), (kind,)
            return result.text, result.kinds
        if isinstance(value, Mapping):
            kinds: list[str] = []
            out = {}
            for key, item in value.items():
                out[key], found = self.redact_value(item, key if isinstance(key, str) else None)
                kinds.extend(found)
            return (out, tuple(kinds)) if kinds else (value, ())
        if isinstance(value, list | tuple):
            kinds = []
            items = []
            for item in value:
                redacted, found = self.redact_value(item)
                items.append(redacted)
                kinds.extend(found)
            return (items, tuple(kinds)) if kinds else (value, ())
        return value, ()

    def redact_tool_call(self, call: ToolCall) -> tuple[ToolCall, tuple[Finding, ...]]:
        """The tool call with its arguments and result redacted, and what was found where."""
        args, in_args = self.redact_value(call.args)
        result, in_result = self.redact_value(call.result)
        findings = tuple(Finding(kind, "args") for kind in in_args) + tuple(
            Finding(kind, "result") for kind in in_result
        )
        if not findings:
            return call, ()
        return replace(call, args=args, result=result), findings

    def redact_session(self, session: Session) -> tuple[Session, list[Finding]]:
        """The session as it may be stored, and every secret found (messages, tool calls, and metadata:
        an imported conversation's original title, say)."""
        findings: list[Finding] = []
        messages = []
        for index, message in enumerate(session.messages):
            redacted, kinds = self.redact_message(message)
            messages.append(redacted)
            findings.extend(Finding(kind, f"messages[{index}]") for kind in kinds)
        calls = []
        for index, call in enumerate(session.tool_calls):
            redacted_call, found = self.redact_tool_call(call)
            calls.append(redacted_call)
            findings.extend(Finding(f.kind, f"toolCalls[{index}].{f.where}") for f in found)
        metadata, in_metadata = self.redact_value(session.metadata)
        findings.extend(Finding(kind, "metadata") for kind in in_metadata)
        title = session.source_title
        if title:
            redacted_title = self.redact_text(title)
            title = redacted_title.text
            findings.extend(Finding(kind, "title") for kind in redacted_title.kinds)
        if not findings:
            return session, findings
        return (
            replace(session, messages=messages, tool_calls=calls, metadata=metadata, source_title=title),
            findings,
        )


def _anchored_matches(rule: Rule, text: str, lowered: str, present: set[str]) -> Iterable[re.Match[str]]:
    """The rule's pattern matched where each of its hints occurs in the text."""
    starts = set()
    for hint in present.intersection(rule.hints):
        position = lowered.find(hint)
        while position != -1:
            starts.add(position)
            position = lowered.find(hint, position + 1)
    for start in sorted(starts):
        match = rule.pattern.match(text, start)
        if match is not None:
            yield match


def _compile(pattern: str, setting: str) -> re.Pattern[str]:
    if not isinstance(pattern, str) or not pattern:
        raise ConfigError(f"{setting}: each entry must be a non-empty regular expression, not {pattern!r}")
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ConfigError(f"{setting}: {pattern!r} is not a valid regular expression ({exc})") from None


def summarize(kinds: Iterable[str]) -> str:
    """``2 secrets (github-token, password)``: what a line to the user says, never the values."""
    counted = Counter(kinds)
    total = sum(counted.values())
    names = ", ".join(f"{kind} x{n}" if n > 1 else kind for kind, n in sorted(counted.items()))
    return f"{total} secret{'s' if total != 1 else ''} ({names})"


DEFAULT_REDACTOR = Redactor()
"""The built-in rules, no extras: what a store uses unless told otherwise."""


def redactor_for(settings: Any) -> Redactor | None:
    """The redactor the settings ask for (``redact``, ``redact_patterns``, ``redact_allow``), or None
    when redaction is off; invalid patterns are a ``ConfigError``."""
    if not settings.redact:
        return None
    if not settings.redact_patterns and not settings.redact_allow:
        return DEFAULT_REDACTOR
    return Redactor(settings.redact_patterns, settings.redact_allow)


def redactor_for_home(home: Any) -> Redactor | None:
    """The redactor of a home's ``config.toml`` (and ``OLLM_REDACT``)."""
    return redactor_for(load_settings(home))
