"""Settings for ``ollm chat``: defaults, then ``<home>/config.toml``, then the environment, then flags.

Each effective value remembers where it came from, so ``ollm config`` can say why a setting is what it
is. ``config.toml`` holds plain top-level keys::

    provider = "ollama"          # or "openai" for any OpenAI-compatible server
    base_url = "http://127.0.0.1:11434"
    model = "llama3.2"
    context_size = 8192
    recall = true                # bring relevant past sessions into new chats
    recall_budget = 0.25         # share of the context the recalled excerpts may fill
    background_index = true      # a search never waits for indexing: the rest is done detached
    redact = true                # secrets in what is saved become [REDACTED:kind]
    redact_patterns = ["corp-[0-9a-f]{32}"]   # more to redact
    redact_allow = ["AKIAIOSFODNN7EXAMPLE"]   # values never redacted
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._atomic import make_private_dir, write_atomic
from ._jsonio import kind_name
from .errors import ConfigError

CONFIG_NAME = "config.toml"


@dataclass(frozen=True)
class SettingSpec:
    """One setting: its default, its type, and what it means (shown by ``ollm config``)."""

    default: Any
    kind: type
    help: str


SETTINGS: dict[str, SettingSpec] = {
    "provider": SettingSpec("ollama", str, "ollama, or openai for any OpenAI-compatible server"),
    "base_url": SettingSpec(None, str, "server URL (OpenAI-compatible: including /v1)"),
    "model": SettingSpec(None, str, "model to chat with"),
    "context_size": SettingSpec(
        4096, int, "context window in tokens; when set, sent to Ollama as num_ctx, else Ollama's own is used"
    ),
    "recall": SettingSpec(True, bool, "bring relevant past sessions into the chat"),
    "recall_budget": SettingSpec(0.25, float, "share of the context recalled excerpts may fill"),
    "recall_threshold": SettingSpec(
        0.15, float, "estimated chance of relevance a past session needs to be recalled (0-1)"
    ),
    "recall_sessions": SettingSpec(3, int, "most past sessions recalled for one message"),
    "recall_tool": SettingSpec(True, bool, "let the model call a recall tool for more (if it takes tools)"),
    "api_key_env": SettingSpec("OPENAI_API_KEY", str, "environment variable holding the API key"),
    "timeout": SettingSpec(300.0, float, "seconds to wait for the server's next words"),
    "background_index": SettingSpec(
        True, bool, "index what a search had no time for in a detached low-priority process"
    ),
    "search_budget": SettingSpec(1.0, float, "seconds a search may spend indexing before it answers"),
    "redact": SettingSpec(True, bool, "replace API keys, tokens and passwords in what is saved"),
    "redact_patterns": SettingSpec([], list, "more regular expressions to redact (group 1, if any)"),
    "redact_allow": SettingSpec([], list, "regular expressions of values never redacted"),
    "compress_after_days": SettingSpec(
        30, int, "sessions idle this many days are stored compressed by the background indexer (0: never)"
    ),
    "sessions_dir": SettingSpec(
        None,
        str,
        "where session files live (a synced folder, say); default HOME/sessions, the rest stays in HOME",
    ),
}

ENVIRONMENT = {
    "OLLM_MODEL": "model",
    "OLLM_PROVIDER": "provider",
    "OLLM_BASE_URL": "base_url",
    "OLLM_BACKGROUND_INDEX": "background_index",
    "OLLM_SEARCH_BUDGET": "search_budget",
    "OLLM_REDACT": "redact",
    "OLLM_SESSIONS_DIR": "sessions_dir",
}


@dataclass(frozen=True)
class Setting:
    """An effective value and where it came from (``default``, the config file, a variable, a flag)."""

    name: str
    value: Any
    source: str


class Settings:
    """The effective settings of one run; read them as attributes (``settings.model``)."""

    def __init__(self, values: Mapping[str, Setting], config_path: Path) -> None:
        self._values = dict(values)
        self.config_path = config_path

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name].value
        except KeyError:
            raise AttributeError(name) from None

    def source(self, name: str) -> str:
        """Where a setting's value came from: ``default``, the config file, a variable or a flag."""
        return self._values[name].source

    def items(self) -> list[Setting]:
        return [self._values[name] for name in SETTINGS]

    def with_value(self, name: str, value: Any, source: str) -> Settings:
        """A copy with one setting changed (a slash command choosing another model, say)."""
        values = dict(self._values)
        values[name] = Setting(name, _checked(name, value, source), source)
        return Settings(values, self.config_path)


def load_settings(
    home: Path,
    flags: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Defaults, overridden by ``<home>/config.toml``, by ``OLLM_*`` variables, then by ``flags`` that
    are not None."""
    config_path = home / CONFIG_NAME
    values = {name: Setting(name, spec.default, "default") for name, spec in SETTINGS.items()}
    for name, value in read_config(config_path).items():
        values[name] = Setting(name, _checked(name, value, str(config_path)), str(config_path))
    env = os.environ if environ is None else environ
    for variable, name in ENVIRONMENT.items():
        if env.get(variable):
            values[name] = Setting(name, _checked(name, env[variable], f"${variable}"), f"${variable}")
    for name, value in (flags or {}).items():
        if value is not None:
            flag = "--" + name.replace("_", "-")
            values[name] = Setting(name, _checked(name, value, flag), flag)
    return Settings(values, config_path)


def configured_sessions_dir(home: Path) -> str | None:
    """The ``sessions_dir`` of a home's config.toml, if it sets one (checked to be a string)."""
    path = home / CONFIG_NAME
    value = read_config(path).get("sessions_dir")
    return None if value is None else _checked("sessions_dir", value, str(path))


def read_config(path: Path) -> dict[str, Any]:
    """The settings in a config file (none if it does not exist); unknown keys are an error."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    unknown = sorted(set(data) - set(SETTINGS))
    if unknown:
        raise ConfigError(f"{path}: unknown setting {unknown[0]!r} (known: {', '.join(SETTINGS)})")
    return data


def set_in_config(path: Path, name: str, text: str) -> Any:
    """Set one setting in a config file (created 0600 if missing), other lines kept as they are;
    ``text`` is checked as the setting's kind first. Returns the value written."""
    if name not in SETTINGS:
        raise ConfigError(f"unknown setting {name!r} (known: {', '.join(SETTINGS)})")
    if SETTINGS[name].kind is list:
        raise ConfigError(f"{name} is a list of patterns: edit {path} to change it")
    value = _checked(name, text, "config set")
    read_config(path)  # a damaged file is reported, never overwritten
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    assignment = re.compile(rf"^\s*{re.escape(name)}\s*=")
    rendered = f"{name} = {toml_value(value)}"
    found = [number for number, line in enumerate(lines) if assignment.match(line)]
    if found:
        lines[found[0]] = rendered
    else:
        lines.append(rendered)
    make_private_dir(path.parent)
    write_atomic(path, ("\n".join(lines) + "\n").encode("utf-8"))
    return value


def toml_value(value: Any) -> str:
    """A value as config.toml writes it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value), ensure_ascii=False)  # a TOML basic string is a JSON string


def _checked(name: str, value: Any, source: str) -> Any:
    spec = SETTINGS[name]
    if spec.kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if spec.kind is list:
        if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
            raise ConfigError(f"{source}: {name} must be a list of strings, not {value!r}")
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ConfigError(
                    f"{source}: {name}: {pattern!r} is not a regular expression ({exc})"
                ) from None
        return value
    if isinstance(value, str) and spec.kind is not str:
        value = _from_text(name, value, spec.kind, source)
    if not isinstance(value, spec.kind) or (spec.kind is int and isinstance(value, bool)):
        raise ConfigError(f"{source}: {name} must be {kind_name(spec.kind, SETTING_KINDS)}, not {value!r}")
    problem = _range_problem(name, value)
    if problem:
        raise ConfigError(f"{source}: {name} {problem}, not {value!r}")
    return value


def _from_text(name: str, text: str, kind: type, source: str) -> Any:
    try:
        if kind is bool:
            lowered = text.strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError
        return kind(text)
    except ValueError:
        expected = kind_name(kind, SETTING_KINDS)
        raise ConfigError(f"{source}: {name} must be {expected}, not {text!r}") from None


def _range_problem(name: str, value: Any) -> str | None:
    if name == "provider" and value not in ("ollama", "openai"):
        return "must be ollama or openai"
    if name in ("context_size", "recall_sessions") and value < 1:
        return "must be at least 1"
    if name == "context_size" and value < 256:
        return "must be at least 256 tokens"
    if name in ("recall_budget", "recall_threshold") and not 0 < value < 1:
        return "must be between 0 and 1"
    if name == "base_url" and not value.strip().startswith(("http://", "https://")):
        return "must start with http:// or https://"
    if name == "search_budget" and value < 0:
        return "must be 0 seconds or more"
    if name == "timeout" and value <= 0:
        return "must be more than 0 seconds"
    return None


SETTING_KINDS = {
    str: "a string",
    int: "a whole number",
    float: "a number",
    bool: "true or false",
    list: "a list of strings",
}
"""What each kind of setting is called in an error: the words of TOML, not of JSON."""
