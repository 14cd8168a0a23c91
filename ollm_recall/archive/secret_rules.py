"""What a secret looks like: the built-in formats (a prefix, a length, an alphabet), the test of a
value that looks random, and the marker that replaces a secret. ``redaction`` applies them.

Rules are specific formats, so ordinary text, code, commit hashes, UUIDs and sha256 sums are left
alone; the generic ``password=``/``token=`` rule takes only values that look random (``looks_random``).
"""

from __future__ import annotations

import base64
import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

MARKER = "[REDACTED:{kind}]"
MARKER_PATTERN = re.compile(r"\[REDACTED:[a-z0-9-]+\]")


@dataclass(frozen=True)
class Rule:
    """A format of secret: its pattern, the words that must occur for it to be tried, and which part is
    the secret."""

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
    if any(c in value for c in "()[]{}<>$`\\ ") or value.isdigit():
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


SECRET_NAME = re.compile(
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

BUILT_IN_RULES: tuple[Rule, ...] = (
    Rule(
        "private-key",
        re.compile(
            r"-----BEGIN (?P<label>(?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?)-----"
            r"(?:.*?-----END (?P=label)-----|.*\Z)",
            re.S,
        ),
        ("begin",),
    ),
    Rule(
        "private-key",
        re.compile(r"PuTTY-User-Key-File-\d: .*?(?:Private-MAC: [0-9a-f]+|\Z)", re.S),
        ("putty-user-key-file",),
    ),
    Rule(
        "aws-access-key",
        re.compile(r"\b(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b"),
        ("akia", "asia", "abia", "acca", "a3t"),
    ),
    Rule(
        "aws-secret-key",
        re.compile(
            r"(?i:aws_?secret_?(?:access_?)?key)[\"']?\s*(?:[:=]|:=|=>)\s*[\"']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])"
        ),
        ("aws",),
        group=1,
    ),
    Rule(
        "github-token",
        re.compile(r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,251}\b"),
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
    ),
    Rule("github-token", re.compile(r"\bgithub_pat_[A-Za-z0-9_]{22,255}"), ("github_pat_",)),
    Rule(
        "gitlab-token",
        re.compile(r"\bgl(?:pat|dt|rt|ptt|soat)-[A-Za-z0-9_\-]{20,50}(?![A-Za-z0-9_\-])"),
        ("glpat-", "gldt-", "glrt-", "glptt-", "glsoat-"),
    ),
    Rule("anthropic-key", re.compile(r"\bsk-ant-[A-Za-z0-9_\-]{20,}"), ("sk-ant-",)),
    Rule(
        "openai-key",
        re.compile(r"\bsk-(?!ant-)(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}"),
        ("sk-",),
        accept=_mixed,
    ),
    Rule(
        "slack-token",
        re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
        ("xoxa-", "xoxb-", "xoxp-", "xoxo-", "xoxs-", "xoxr-"),
    ),
    Rule(
        "slack-webhook",
        re.compile(r"https://hooks\.slack\.com/services/T[A-Za-z0-9_]+/B[A-Za-z0-9_]+/[A-Za-z0-9_]+"),
        ("hooks.slack.com",),
    ),
    Rule("google-api-key", re.compile(r"\bAIza[0-9A-Za-z_\-]{35}(?![0-9A-Za-z_\-])"), ("aiza",)),
    Rule("stripe-key", re.compile(r"\b(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{16,}"), ("_live_", "_test_")),
    Rule("huggingface-token", re.compile(r"\bhf_[A-Za-z0-9]{34,}\b"), ("hf_",), accept=_mixed),
    Rule("npm-token", re.compile(r"\bnpm_[A-Za-z0-9]{36}\b"), ("npm_",)),
    Rule("pypi-token", re.compile(r"\bpypi-AgE[A-Za-z0-9_\-]{50,}"), ("pypi-age",)),
    Rule("sendgrid-key", re.compile(r"\bSG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}\b"), ("sg.",)),
    Rule("telegram-token", re.compile(r"\b\d{8,10}:AA[0-9A-Za-z_\-]{33}\b"), (":aa",)),
    Rule(
        "jwt",
        re.compile(r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"),
        ("eyj",),
        accept=_is_jwt,
    ),
    Rule(
        "url-password",
        re.compile(
            r"\b[A-Za-z][A-Za-z0-9+.\-]{1,20}://[^\s:/@\"'<>]{1,64}:([^\s@/\"'<>]{1,128})@[A-Za-z0-9\[]"
        ),
        ("://",),
        group=1,
        accept=_not_placeholder,
    ),
    Rule(
        "bearer-token",
        re.compile(r"\bBearer\s+([A-Za-z0-9\-._~+/]{20,}=*)"),
        ("bearer",),
        group=1,
        accept=looks_random,
    ),
    Rule(
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

PARTIAL_PREFIXES = {
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
TRAILING_TOKEN = re.compile(r"[A-Za-z0-9_\-./+=]+\Z")
TRAILING_ASSIGNMENT = re.compile(
    r"(?i:" + _KEYWORD_NAME + r")[\"']?\s*(?:[:=]|:=|=>)\s*[\"']?([^\s\"',;&]{4,})\Z"
)


def keyword_kind(name: str) -> str:
    """The kind a secret under a key name is reported as: ``password``, ``token``, ``api-key``, ``secret``."""
    lowered = name.lower()
    if "pass" in lowered or "pwd" in lowered:
        return "password"
    if "token" in lowered:
        return "token"
    if "key" in lowered:
        return "api-key"
    return "secret"
