"""Secrets never reach disk: well-known secret formats in what is saved become ``[REDACTED:kind]``.

Every session file is written by ``SessionStore.write``, which passes the session through a
``Redactor`` first, so recording, chat, import and ``ollm redact`` all redact alike. The session in
memory keeps what was typed (the model still gets it in this chat); only what is stored is redacted.

Rules are specific formats (a prefix, a length, an alphabet), so ordinary text, code, commit hashes,
UUIDs and sha256 sums are left alone; the generic ``password=``/``token=`` rule takes only values that
look random (see ``looks_random``). Each text is scanned once per process (results are remembered),
so saving a long session again after one new message costs only the new message.
"""

from __future__ import annotations

import base64
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..config import load_settings
from ..errors import ConfigError
from .session import Message, Part, Session, ToolCall

MARKER = "[REDACTED:{kind}]"
MARKER_PATTERN = re.compile(r"\[REDACTED:[a-z0-9-]+\]")
MEMO_LIMIT = 50_000
"""Texts whose redaction is remembered; past this the memory starts again (a long-running chat)."""


@dataclass(frozen=True)
class Finding:
    """One secret found: what kind, and where (``messages[3]``, ``toolCalls[0].result``); never the
    secret itself."""

    kind: str
    where: str


@dataclass(frozen=True)
class _Rule:
    kind: str
    pattern: re.Pattern[str]
    hints: tuple[str, ...]
    """The text must contain one of these (lower case) for the pattern to be tried: most texts
    contain none, and ``in`` is far cheaper than a regular expression."""
    group: int = 0
    """Which group is the secret: 0 the whole match; -1 the first of ``quoted``, ``single``, ``bare``
    that matched (the kind then comes from the ``name`` group)."""
    accept: Callable[[str], bool] | None = None
    anchored: bool = False
    """The pattern starts with one of the hints: it is tried only where a hint occurs (found with
    ``str.find``, ten times faster than a pattern that must be tried at every position)."""


def _char_classes(value: str) -> int:
    return sum(
        (
            any(c.islower() for c in value),
            any(c.isupper() for c in value),
            any(c.isdigit() for c in value),
            any(not c.isalnum() for c in value),
        )
    )


def shannon_entropy(value: str) -> float:
    """Bits per character of ``value``'s own character distribution."""
    counts = Counter(value)
    total = len(value)
    return -sum(n / total * math.log2(n / total) for n in counts.values())


PLACEHOLDERS = frozenset(
    {
        "password",
        "passwd",
        "secret",
        "token",
        "changeme",
        "example",
        "redacted",
        "none",
        "null",
        "true",
        "false",
        "undefined",
        "hunter2",
        "xxxxxx",
        "pass",
        "pwd",
        "user",
        "username",
        "mypassword",
        "yourpassword",
        "your-password",
        "your_password",
        "password123",
        "secret123",
        "dummy",
        "test",
    }
)


def looks_random(value: str) -> bool:
    """Whether an assigned value looks like a real secret, not a placeholder, a name or code.

    A secret is at least 8 characters of no code punctuation, not a placeholder, and either mixes
    three kinds of character (``S3cure!Pass``) or is long and varied (16+ characters at 3+ bits each).
    """
    if len(value) < 8 or value.lower().strip("*x.<>") in PLACEHOLDERS or MARKER_PATTERN.search(value):
        return False
    if any(c in value for c in "()[]{}<>$%`\\ ") or value.isdigit():
        return False
    if re.fullmatch(r"[A-Za-z_]+(?:\.[A-Za-z_]+)*", value) or re.fullmatch(r"(.)\1+", value):
        return False  # an identifier, a dotted name or one character repeated
    if _is_placeholder(value) or all(word.isalpha() for word in _WORD_SEPARATORS.split(value) if word):
        return False  # a placeholder, or words and names: Read-Host, path/to/file.json
    if _char_classes(value) >= 3:
        return True
    return len(value) >= 16 and shannon_entropy(value) >= 3.0 and _char_classes(value) >= 2


def _mixed(value: str) -> bool:
    """Random key material: letters and digits both (kebab-case words are not keys)."""
    return any(c.isdigit() for c in value) and any(c.isalpha() for c in value)


def _is_jwt(token: str) -> bool:
    header = token.split(".", 1)[0]
    try:
        decoded = base64.urlsafe_b64decode(header + "=" * (-len(header) % 4))
    except (ValueError, TypeError):
        return False
    return decoded.lstrip().startswith(b"{") and b'"' in decoded


_WORD_SEPARATORS = re.compile(r"[/._\-:]+")
_PLACEHOLDER_WORDS = ("password", "passwd", "secret", "changeme", "example", "placeholder", "your", "dummy")


def _is_placeholder(value: str) -> bool:
    """``testpassword``, ``password123``, ``<your-token>``, ``${DB_PASS}``, ``****``: stand-ins for a
    secret in examples and docs, not secrets (a value mixing three kinds of character still counts)."""
    lowered = value.lower()
    if lowered.strip("*x<>{}$") in PLACEHOLDERS or lowered.startswith(("$", "<", "{", "%", "***")):
        return True
    if set(lowered) <= {"*", "x", "."}:
        return True
    return any(word in lowered for word in _PLACEHOLDER_WORDS) and _char_classes(value) <= 2


def _not_placeholder(value: str) -> bool:
    return not _is_placeholder(value)


_SECRET_NAME = re.compile(
    r"(?i:password|passwd|passphrase|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|auth[_-]?key|"
    r"private[_-]?key|credentials?)(?:$|[^a-z])|(?i:secret|token|key|password)$"
)
"""A key name that says its value is a secret (``password``, ``api_token``, ``AWS_SECRET_ACCESS_KEY``;
not ``tokenizer`` or ``max_tokens``... which the value's own look then decides)."""

_KEYWORD_NAME = (
    r"(?:(?:password|passwd|passphrase|pwd|secret|token|credential|(?:api|access|auth|private)[_-]?key)"
    r"[A-Za-z0-9_-]*)"
)
"""The end of a name that holds a secret (``DB_PASSWORD``, ``apiKey``, ``client_secret``): the match
starts at the keyword, which is all the kind needs."""
_KEYWORDS = ("password", "passwd", "passphrase", "pwd", "secret", "token", "credential") + tuple(
    f"{prefix}{joint}key" for prefix in ("api", "access", "auth", "private") for joint in ("", "_", "-")
)

BUILT_IN_RULES: tuple[_Rule, ...] = (
    _Rule(
        "private-key",
        re.compile(
            r"-----BEGIN (?P<label>(?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?)-----"
            r"(?:.*?-----END (?P=label)-----|.*\Z)",
            re.S,
        ),
        ("begin",),
    ),
    _Rule(
        "private-key",
        re.compile(r"PuTTY-User-Key-File-\d: .*?(?:Private-MAC: [0-9a-f]+|\Z)", re.S),
        ("putty-user-key-file",),
    ),
    _Rule(
        "aws-access-key",
        re.compile(r"\b(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b"),
        ("akia", "asia", "abia", "acca", "a3t"),
    ),
    _Rule(
        "aws-secret-key",
        re.compile(
            r"(?i:aws_?secret_?(?:access_?)?key)[\"']?\s*(?:[:=]|:=|=>)\s*[\"']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])"
        ),
        ("aws",),
        group=1,
    ),
    _Rule(
        "github-token",
        re.compile(r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,251}\b"),
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
    ),
    _Rule("github-token", re.compile(r"\bgithub_pat_[A-Za-z0-9_]{22,255}"), ("github_pat_",)),
    _Rule(
        "gitlab-token",
        re.compile(r"\bgl(?:pat|dt|rt|ptt|soat)-[A-Za-z0-9_\-]{20,50}(?![A-Za-z0-9_\-])"),
        ("glpat-", "gldt-", "glrt-", "glptt-", "glsoat-"),
    ),
    _Rule("anthropic-key", re.compile(r"\bsk-ant-[A-Za-z0-9_\-]{20,}"), ("sk-ant-",)),
    _Rule(
        "openai-key",
        re.compile(r"\bsk-(?!ant-)(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}"),
        ("sk-",),
        accept=_mixed,
    ),
    _Rule(
        "slack-token",
        re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
        ("xoxa-", "xoxb-", "xoxp-", "xoxo-", "xoxs-", "xoxr-"),
    ),
    _Rule(
        "slack-webhook",
        re.compile(r"https://hooks\.slack\.com/services/T[A-Za-z0-9_]+/B[A-Za-z0-9_]+/[A-Za-z0-9_]+"),
        ("hooks.slack.com",),
    ),
    _Rule("google-api-key", re.compile(r"\bAIza[0-9A-Za-z_\-]{35}(?![0-9A-Za-z_\-])"), ("aiza",)),
    _Rule("stripe-key", re.compile(r"\b(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{16,}"), ("_live_", "_test_")),
    _Rule("huggingface-token", re.compile(r"\bhf_[A-Za-z0-9]{34,}\b"), ("hf_",), accept=_mixed),
    _Rule("npm-token", re.compile(r"\bnpm_[A-Za-z0-9]{36}\b"), ("npm_",)),
    _Rule("pypi-token", re.compile(r"\bpypi-AgE[A-Za-z0-9_\-]{50,}"), ("pypi-age",)),
    _Rule("sendgrid-key", re.compile(r"\bSG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}\b"), ("sg.",)),
    _Rule("telegram-token", re.compile(r"\b\d{8,10}:AA[0-9A-Za-z_\-]{33}\b"), (":aa",)),
    _Rule(
        "jwt",
        re.compile(r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"),
        ("eyj",),
        accept=_is_jwt,
    ),
    _Rule(
        "url-password",
        re.compile(
            r"\b[A-Za-z][A-Za-z0-9+.\-]{1,20}://[^\s:/@\"'<>]{1,64}:([^\s@/\"'<>]{1,128})@[A-Za-z0-9\[]"
        ),
        ("://",),
        group=1,
        accept=_not_placeholder,
    ),
    _Rule(
        "bearer-token",
        re.compile(r"\bBearer\s+([A-Za-z0-9\-._~+/]{20,}=*)"),
        ("bearer",),
        group=1,
        accept=looks_random,
    ),
    _Rule(
        "password",
        re.compile(
            r"(?P<name>(?i:" + _KEYWORD_NAME + r"))[\"']?\s*(?:[:=]|:=|=>)\s*"
            r"(?:\"(?P<quoted>[^\"\s]{8,200})\"|'(?P<single>[^'\s]{8,200})'|(?P<bare>[^\s\"',;&]{8,200}))"
        ),
        _KEYWORDS,
        group=-1,
        accept=looks_random,
        anchored=True,
    ),
)
"""The built-in formats, most specific first: where two overlap, the earlier rule's kind wins."""

_PARTIAL_PREFIXES = {
    "sk-ant-": "anthropic-key",
    "sk-": "openai-key",
    "ghp_": "github-token",
    "gho_": "github-token",
    "ghu_": "github-token",
    "ghs_": "github-token",
    "ghr_": "github-token",
    "github_pat_": "github-token",
    "glpat-": "gitlab-token",
    "xoxb-": "slack-token",
    "xoxp-": "slack-token",
    "xoxa-": "slack-token",
    "AIza": "google-api-key",
    "AKIA": "aws-access-key",
    "ASIA": "aws-access-key",
    "eyJ": "jwt",
    "sk_live_": "stripe-key",
    "rk_live_": "stripe-key",
    "hf_": "huggingface-token",
    "npm_": "npm-token",
}
PARTIAL_TAIL = 400
"""How much of the end of a text still being written is looked at for a secret cut short."""
_TRAILING_TOKEN = re.compile(r"[A-Za-z0-9_\-./+=]+\Z")
_TRAILING_ASSIGNMENT = re.compile(
    r"(?i:" + _KEYWORD_NAME + r")[\"']?\s*(?:[:=]|:=|=>)\s*[\"']?([^\s\"',;&]{4,})\Z"
)


def _keyword_kind(name: str) -> str:
    lowered = name.lower()
    if "pass" in lowered or "pwd" in lowered:
        return "password"
    if "token" in lowered:
        return "token"
    if "key" in lowered:
        return "api-key"
    return "secret"


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
            extra.append(_Rule("custom", compiled, (), group=1 if compiled.groups else 0))
        self.rules: tuple[_Rule, ...] = tuple(extra) + BUILT_IN_RULES
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
                if any(allowed.fullmatch(value) for allowed in self.allow):
                    continue
                kind = _keyword_kind(match.group("name")) if rule.group < 0 else rule.kind
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
        token = _TRAILING_TOKEN.search(tail)
        if token is not None:
            for prefix, kind in _PARTIAL_PREFIXES.items():
                if token.group(0).startswith(prefix):
                    found.append((tail_start + token.start(), len(text), len(self.rules), kind))
                    break
        assignment = _TRAILING_ASSIGNMENT.search(tail)
        if assignment is not None and not MARKER_PATTERN.search(assignment.group(1)):
            name = tail[assignment.start() : assignment.start(1)]
            found.append((tail_start + assignment.start(1), len(text), len(self.rules), _keyword_kind(name)))
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
                and _SECRET_NAME.search(name)
                and looks_random(value)
                and not any(allowed.fullmatch(value) for allowed in self.allow)
            ):
                kind = _keyword_kind(name)
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
        if not findings:
            return session, findings
        return replace(session, messages=messages, tool_calls=calls, metadata=metadata), findings


def _anchored_matches(rule: _Rule, text: str, lowered: str, present: set[str]) -> Iterable[re.Match[str]]:
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
