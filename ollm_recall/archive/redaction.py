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
from .secret_views import base64_runs, url_decoded
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
        self._memo: dict[tuple[str, bool], list[Span]] = {}

    def redact_text(self, text: str, *, partial: bool = False) -> RedactedText:
        """``text`` with every secret replaced by its marker. ``partial``: the text is still being
        written (a streaming reply), so a secret cut short at its end is replaced too."""
        return _replaced(text, self._known_spans(text, partial))

    def _known_spans(self, text: str, partial: bool) -> list[Span]:
        key = (text, partial)
        known = self._memo.get(key)
        if known is None:
            if len(self._memo) >= MEMO_LIMIT:
                self._memo.clear()
            known = self.spans(text)
            if partial:
                known.extend(self._cut_short(text))
            self._memo[key] = known
        return known

    def spans(self, text: str) -> list[Span]:
        """Where the secrets of ``text`` are: found as written, URL-decoded (``token%3D...``) and
        inside base64 runs (a run holding a secret goes whole)."""
        spans = self._direct_spans(text)
        decoded = url_decoded(text)
        if decoded is not None:
            for start, end, priority, kind in self._direct_spans(decoded.text):
                spans.append((*decoded.original_span(start, end), priority, kind))
        for start, end, inner in base64_runs(text):
            found = self._direct_spans(inner)
            if found:
                spans.append((start, end, min(span[2] for span in found), found[0][3]))
        return spans

    def _direct_spans(self, text: str) -> list[Span]:
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
        return spans

    def _cut_short(self, text: str) -> list[Span]:
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
        """The message with its parts and unknown fields redacted (the same object when there was
        nothing), and the kinds replaced. Adjacent text parts are also scanned as one text, so a
        secret split between two is found. A message still being written (``interrupted``) is
        redacted as partial."""
        kinds: list[str] = []
        texts = [part.text for part in message.parts if part.text is not None]
        if len(texts) > 1:
            redacted_texts, kinds = self._redact_joined(texts, message.interrupted)
        else:
            redacted_texts = []
            for text in texts:
                result = self.redact_text(text, partial=message.interrupted)
                redacted_texts.append(result.text)
                kinds.extend(result.kinds)
        remaining = iter(redacted_texts)
        parts: list[Part] = []
        changed = False
        for part in message.parts:
            extra, in_extra = self.redact_value(part.extra)
            kinds.extend(in_extra)
            new_text = next(remaining) if part.text is not None else None
            if new_text != part.text or in_extra:
                changed = True
                part = replace(part, text=new_text, extra=extra)
            parts.append(part)
        extra, in_extra = self.redact_value(message.extra)
        kinds.extend(in_extra)
        if not changed and not in_extra:
            return message, tuple(kinds)
        return replace(message, parts=tuple(parts), extra=extra), tuple(kinds)

    def _redact_joined(self, texts: list[str], partial: bool) -> tuple[list[str], list[str]]:
        """Texts redacted each alone and as one joined text: a secret that crosses from one into
        the next becomes a marker in the first and is cut from the others."""
        bounds = []
        offset = 0
        for text in texts:
            bounds.append((offset, offset + len(text)))
            offset += len(text)
        spans = [
            span
            for span in self._known_spans("".join(texts), partial)
            if not any(low <= span[0] and span[1] <= high for low, high in bounds)
        ]
        for index, (text, (low, _high)) in enumerate(zip(texts, bounds, strict=True)):
            own = self._known_spans(text, partial and index == len(texts) - 1)
            spans.extend((start + low, end + low, priority, kind) for start, end, priority, kind in own)
        chosen = _without_overlaps(spans)
        pieces = []
        for text, (low, high) in zip(texts, bounds, strict=True):
            piece, position = [], low
            for start, end, _priority, kind in chosen:
                if end <= low or start >= high:
                    continue
                piece.append(text[position - low : max(start, low) - low])
                if start >= low:
                    piece.append(MARKER.format(kind=kind))
                position = min(end, high)
            piece.append(text[position - low :])
            pieces.append("".join(piece))
        return pieces, [span[3] for span in chosen]

    def redact_value(self, value: Any, name: str | None = None) -> tuple[Any, tuple[str, ...]]:
        """Every string inside a JSON-like value redacted (tool-call arguments and results, unknown
        fields). A string named as a secret goes whole if it looks random: under such a key
        (``{"api_token": ...}``), second of a header pair (``["X-Api-Key", ...]``) or the value of a
        name/value object (``{"name": "X-Api-Key", "value": ...}``)."""
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
            named = _named_value(value)
            for key, item in value.items():
                item_name = named if key == "value" and named else key if isinstance(key, str) else None
                out[key], found = self.redact_value(item, item_name)
                kinds.extend(found)
            return (out, tuple(kinds)) if kinds else (value, ())
        if isinstance(value, list | tuple):
            kinds = []
            items = []
            pair_name = value[0] if len(value) == 2 and isinstance(value[0], str) else None
            for position, item in enumerate(value):
                redacted, found = self.redact_value(item, pair_name if position == 1 else None)
                items.append(redacted)
                kinds.extend(found)
            return (items, tuple(kinds)) if kinds else (value, ())
        return value, ()

    def redact_tool_call(self, call: ToolCall) -> tuple[ToolCall, tuple[Finding, ...]]:
        """The tool call with its id, arguments, result and unknown fields redacted, and what was
        found where."""
        call_id, in_id = self.redact_value(call.id)
        args, in_args = self.redact_value(call.args)
        result, in_result = self.redact_value(call.result)
        extra, in_extra = self.redact_value(call.extra)
        findings = tuple(
            Finding(kind, where)
            for where, kinds in (("id", in_id), ("args", in_args), ("result", in_result), ("extra", in_extra))
            for kind in kinds
        )
        if not findings:
            return call, ()
        return replace(call, id=call_id, args=args, result=result, extra=extra), findings

    def redact_session(self, session: Session) -> tuple[Session, list[Finding]]:
        """The session as it may be stored, and every secret found in any string of it: messages, tool
        calls, metadata, an imported conversation's original title, and fields this version does not
        know (kept, so scanned too)."""
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
        extra, in_extra = self.redact_value(session.extra)
        findings.extend(Finding(kind, "extra") for kind in in_extra)
        title = session.source_title
        if title:
            redacted_title = self.redact_text(title)
            title = redacted_title.text
            findings.extend(Finding(kind, "title") for kind in redacted_title.kinds)
        if not findings:
            return session, findings
        return (
            replace(
                session,
                messages=messages,
                tool_calls=calls,
                metadata=metadata,
                extra=extra,
                source_title=title,
            ),
            findings,
        )


def _named_value(value: Mapping[Any, Any]) -> str | None:
    """The name of a name/value object (``{"name": "Authorization", "value": ...}``, as HAR files and
    header lists write them), or None."""
    if "value" not in value:
        return None
    name = value.get("name", value.get("key"))
    return name if isinstance(name, str) else None


Span = tuple[int, int, int, str]
"""Where a secret is in a text: start, end, the priority of the rule that found it, its kind."""


def _without_overlaps(spans: list[Span]) -> list[Span]:
    """The spans to replace, in order: where two overlap the earlier start (then the more specific
    rule, then the longer) wins."""
    chosen: list[Span] = []
    position = 0
    for span in sorted(spans, key=lambda span: (span[0], span[2], -span[1])):
        if span[0] < position:
            continue  # inside a span already replaced
        chosen.append(span)
        position = span[1]
    return chosen


def _replaced(text: str, spans: list[Span]) -> RedactedText:
    if not spans:
        return RedactedText(text, ())
    pieces, kinds, position = [], [], 0
    for start, end, _priority, kind in _without_overlaps(spans):
        pieces.append(text[position:start])
        pieces.append(MARKER.format(kind=kind))
        kinds.append(kind)
        position = end
    pieces.append(text[position:])
    return RedactedText("".join(pieces), tuple(kinds))


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
    """A pattern of the config compiled for RE2, whose matching time is linear in the text: a pattern
    such as ``(a+)+$`` cannot hang a save, a redact or an export. What RE2 cannot match in linear
    time (backreferences, lookarounds) is refused here with the reason."""
    if not isinstance(pattern, str) or not pattern:
        raise ConfigError(f"{setting}: each entry must be a non-empty regular expression, not {pattern!r}")
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ConfigError(f"{setting}: {pattern!r} is not a valid regular expression ({exc})") from None
    import re2

    options = re2.Options()
    options.log_errors = False
    try:
        compiled: re.Pattern[str] = re2.compile(pattern, options)
    except re2.error as exc:
        detail = exc.args[0] if exc.args else exc
        reason = detail.decode("utf-8", "replace") if isinstance(detail, bytes) else detail
        raise ConfigError(
            f"{setting}: {pattern!r} cannot be matched in linear time ({reason}); write it without "
            "backreferences or lookarounds"
        ) from None
    return compiled


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
