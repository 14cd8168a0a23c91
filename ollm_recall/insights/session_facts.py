"""What `ollm stats` needs of one session, read once and kept (``facts_cache``): counts by day, hour
and weekday, time spent, tokens and speed by what the server reported (else estimated), interrupted
replies, recall, the import source, and the session's most frequent words (for topic labels).

Times are bucketed in the machine's local time zone (a cache made in another zone is rebuilt).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from .._time import parse_timestamp
from ..archive.session import Session
from ..archive.usage import estimated_usage

FACTS_VERSION = 3
"""Changes whenever what is counted changes: caches of another version are rebuilt."""
GAP_CAP_SECONDS = 5 * 60
"""Time between two messages counts as time spent up to this much (longer: you were away)."""
SINGLE_MESSAGE_SECONDS = 60
"""A session of one message still took some time."""
WORDS_KEPT = 12

_WORD = re.compile(r"[a-z][a-z0-9+#.-]{2,24}")
_STOP = frozenset(
    """the and for that this with you your are was were have has had not but can could would should
    will just like what when where which who how why about into from than then them they their there
    here also some any all one two get got use used using make made want need know think does did done
    its it's i'm i've don't can't let me my our out over more most very much many such only other each
    way yes sure thanks thank please help hello okay now new see look way well good best first last
    give gives gave says say said tell told show shows old list lists mean means thing things something
    write wrote find keep still without after before because while instead every same different another
    better right wrong work works working start started running run runs into back again even
    already always never really actually maybe probably going doing trying tried try call called""".split()
)


@dataclass
class SessionFacts:
    """One session's contribution to every figure of `ollm stats`."""

    session_id: str
    start_ms: int
    last_ms: int
    model: str
    provider: str
    imported_from: str = ""
    messages: dict[str, int] = field(default_factory=dict)
    days: dict[str, int] = field(default_factory=dict)
    hours: list[int] = field(default_factory=lambda: [0] * 24)
    weekdays: list[int] = field(default_factory=lambda: [0] * 7)
    seconds: float = 0.0
    tokens_in: int = 0
    tokens_out: int = 0
    estimated_in: int = 0
    estimated_out: int = 0
    replies_reported: int = 0
    replies_estimated: int = 0
    eval_tokens: int = 0
    eval_ms: float = 0.0
    interrupted: int = 0
    recalled: list[str] = field(default_factory=list)
    tool_recalls: int = 0
    words: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> SessionFacts:
        return cls(**document)


def _local(stamp: str) -> datetime:
    return parse_timestamp(stamp).astimezone()


def session_facts(session: Session) -> SessionFacts:
    """Count what one session holds (see the module)."""
    facts = SessionFacts(
        session_id=session.session_id,
        start_ms=int(parse_timestamp(session.start_time).timestamp() * 1000),
        last_ms=int(parse_timestamp(session.last_activity).timestamp() * 1000),
        model=session.model,
        provider=session.provider,
        imported_from=str(session.metadata.get("importedFrom") or ""),
    )
    previous: datetime | None = None
    words: Counter[str] = Counter()
    prompt_chars = 0
    for message in session.messages:
        if message.exclude_from_context:
            continue
        when = _local(message.timestamp)
        facts.messages[message.role] = facts.messages.get(message.role, 0) + 1
        day = when.date().isoformat()
        facts.days[day] = facts.days.get(day, 0) + 1
        facts.hours[when.hour] += 1
        facts.weekdays[when.weekday()] += 1
        if previous is not None:
            facts.seconds += min(max((when - previous).total_seconds(), 0.0), GAP_CAP_SECONDS)
        previous = when
        text = message.content
        if message.role == "user":
            words.update(w.strip(".-") for w in _WORD.findall(text.lower()) if w not in _STOP)
        if message.role != "assistant":
            prompt_chars += len(text)
            continue
        facts.interrupted += message.interrupted
        _count_reply(facts, message.extra.get("usage"), prompt_chars, len(text))
        prompt_chars += len(text)  # the next prompt carries this reply too
    if len(session.messages) == 1:
        facts.seconds = SINGLE_MESSAGE_SECONDS
    facts.words = dict(words.most_common(WORDS_KEPT))
    recalled = session.metadata.get("recalledSessions")
    facts.recalled = [str(sid) for sid in recalled] if isinstance(recalled, list) else []
    facts.tool_recalls = sum(1 for call in session.tool_calls if call.name == "recall")
    return facts


def _count_reply(facts: SessionFacts, usage: Any, prompt_chars: int, reply_chars: int) -> None:
    """Tokens of one reply: as the server reported them, else estimated from the characters."""
    reported_in = usage.get("promptTokens") if isinstance(usage, dict) else None
    reported_out = usage.get("completionTokens") if isinstance(usage, dict) else None
    if isinstance(usage, dict) and usage.get("estimated") is True:
        reported_out = None  # an importer's estimate: counted as an estimate, as if made here
    if isinstance(reported_out, int):
        facts.replies_reported += 1
        facts.tokens_out += reported_out
        facts.tokens_in += reported_in if isinstance(reported_in, int) else 0
        eval_ms = usage.get("evalMs")
        if isinstance(eval_ms, int | float) and eval_ms > 0:
            facts.eval_ms += float(eval_ms)
            facts.eval_tokens += reported_out
    else:
        facts.replies_estimated += 1
        estimate = estimated_usage(prompt_chars, reply_chars)
        facts.estimated_in += estimate["promptTokens"]
        facts.estimated_out += estimate["completionTokens"]
