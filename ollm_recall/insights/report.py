"""The figures of `ollm stats`, from every session's facts: activity, models, memory, and the period
they cover (always said), for the sessions a filter keeps. Pure computation: no file is read here."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ..archive.listing import model_matches
from .session_facts import SessionFacts

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass
class StatsFilter:
    """Which sessions count: active in [since, until), of a model (or family) and provider."""

    since: datetime | None = None
    until: datetime | None = None
    model: str | None = None
    provider: str | None = None

    def keeps(self, facts: SessionFacts) -> bool:
        if self.since is not None and facts.last_ms < self.since.timestamp() * 1000:
            return False
        if self.until is not None and facts.start_ms >= self.until.timestamp() * 1000:
            return False
        if self.model is not None and not model_matches(facts.model, self.model):
            return False
        return self.provider is None or facts.provider == self.provider

    def keeps_day(self, day: str) -> bool:
        if self.since is not None and day < self.since.astimezone().date().isoformat():
            return False
        return self.until is None or day < _day_of(self.until)


def _day_of(moment: datetime) -> str:
    local = moment.astimezone()
    if (local.hour, local.minute, local.second, local.microsecond) == (0, 0, 0, 0):
        return local.date().isoformat()
    return (local.date() + timedelta(days=1)).isoformat()


def _week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def family(model: str) -> str:
    """``llama3.2:3b`` -> ``llama3.2``; ``gpt-4o-mini`` stays itself."""
    return model.split(":", 1)[0]


@dataclass
class ModelFigures:
    """One model's (or family's) sessions, replies, tokens and speed."""

    sessions: int = 0
    replies: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    estimated_in: int = 0
    estimated_out: int = 0
    eval_tokens: int = 0
    eval_ms: float = 0.0
    interrupted: int = 0
    speed_by_month: dict[str, list[float]] = field(default_factory=dict)

    def add(self, facts: SessionFacts) -> None:
        self.sessions += 1
        self.replies += facts.messages.get("assistant", 0)
        self.tokens_in += facts.tokens_in
        self.tokens_out += facts.tokens_out
        self.estimated_in += facts.estimated_in
        self.estimated_out += facts.estimated_out
        self.eval_tokens += facts.eval_tokens
        self.eval_ms += facts.eval_ms
        self.interrupted += facts.interrupted
        if facts.eval_ms > 0:
            month = datetime.fromtimestamp(facts.start_ms / 1000, UTC).astimezone().strftime("%Y-%m")
            pair = self.speed_by_month.setdefault(month, [0.0, 0.0])
            pair[0] += facts.eval_tokens
            pair[1] += facts.eval_ms

    def to_json(self) -> dict[str, Any]:
        return {
            "sessions": self.sessions,
            "replies": self.replies,
            "tokensIn": self.tokens_in,
            "tokensOut": self.tokens_out,
            "estimatedTokensIn": self.estimated_in,
            "estimatedTokensOut": self.estimated_out,
            "tokensPerSecond": _speed(self.eval_tokens, self.eval_ms),
            "tokensPerSecondByMonth": {
                month: _speed(tokens, ms) for month, (tokens, ms) in sorted(self.speed_by_month.items())
            },
            "interruptedReplies": self.interrupted,
        }


def _speed(tokens: float, ms: float) -> float | None:
    return round(tokens / ms * 1000, 1) if ms > 0 else None


@dataclass
class StatsReport:
    """Every figure of `ollm stats` (``to_json`` is its ``--json``)."""

    first: datetime | None = None
    last: datetime | None = None
    sessions: int = 0
    messages: dict[str, int] = field(default_factory=dict)
    days: dict[str, int] = field(default_factory=dict)
    sessions_by_day: dict[str, int] = field(default_factory=dict)
    hours: list[int] = field(default_factory=lambda: [0] * 24)
    weekdays: list[int] = field(default_factory=lambda: [0] * 7)
    seconds: float = 0.0
    models: dict[str, ModelFigures] = field(default_factory=dict)
    families: dict[str, ModelFigures] = field(default_factory=dict)
    auto_recall_sessions: int = 0
    auto_recalled: int = 0
    tool_recalls: int = 0
    most_recalled: list[tuple[str, int]] = field(default_factory=list)
    imported: dict[str, int] = field(default_factory=dict)
    topics: list[dict[str, Any]] = field(default_factory=list)

    @property
    def weeks(self) -> dict[str, int]:
        """Messages by ISO week (``2026-W05``), every week from the first to the last (quiet ones 0)."""
        if not self.days:
            return {}
        found: Counter[str] = Counter()
        for day, count in self.days.items():
            found[_week(date.fromisoformat(day))] += count
        first, last = date.fromisoformat(min(self.days)), date.fromisoformat(max(self.days))
        monday = first - timedelta(days=first.weekday())
        weeks = {}
        while monday <= last:
            weeks[_week(monday)] = found[_week(monday)]
            monday += timedelta(days=7)
        return weeks

    def to_json(self) -> dict[str, Any]:
        return {
            "period": {
                "from": self.first.isoformat() if self.first else None,
                "to": self.last.isoformat() if self.last else None,
            },
            "activity": {
                "sessions": self.sessions,
                "messages": dict(sorted(self.messages.items())),
                "activeDays": len(self.days),
                "secondsSpent": round(self.seconds),
                "messagesByDay": dict(sorted(self.days.items())),
                "sessionsByDay": dict(sorted(self.sessions_by_day.items())),
                "messagesByWeek": self.weeks,
                "messagesByHour": self.hours,
                "messagesByWeekday": dict(zip(WEEKDAYS, self.weekdays, strict=True)),
            },
            "models": {name: figures.to_json() for name, figures in sorted(self.models.items())},
            "families": {name: figures.to_json() for name, figures in sorted(self.families.items())},
            "memory": {
                "sessionsWithAutomaticRecall": self.auto_recall_sessions,
                "sessionsRecalledAutomatically": self.auto_recalled,
                "recallToolCalls": self.tool_recalls,
                "mostRecalled": [{"sessionId": sid, "times": n} for sid, n in self.most_recalled],
                "importedFrom": dict(sorted(self.imported.items())),
            },
            "topics": self.topics,
        }


def build_report(
    all_facts: list[SessionFacts], chosen: StatsFilter, *, most_recalled: int = 5
) -> StatsReport:
    """The figures for the sessions ``chosen`` keeps."""
    report = StatsReport()
    recalled: Counter[str] = Counter()
    for facts in all_facts:
        if not chosen.keeps(facts):
            continue
        report.sessions += 1
        start = datetime.fromtimestamp(facts.start_ms / 1000, UTC)
        last = datetime.fromtimestamp(facts.last_ms / 1000, UTC)
        report.first = start if report.first is None else min(report.first, start)
        report.last = last if report.last is None else max(report.last, last)
        for role, count in facts.messages.items():
            report.messages[role] = report.messages.get(role, 0) + count
        for day, count in facts.days.items():
            if chosen.keeps_day(day):
                report.days[day] = report.days.get(day, 0) + count
        first_day = start.astimezone().date().isoformat()
        report.sessions_by_day[first_day] = report.sessions_by_day.get(first_day, 0) + 1
        report.hours = [a + b for a, b in zip(report.hours, facts.hours, strict=True)]
        report.weekdays = [a + b for a, b in zip(report.weekdays, facts.weekdays, strict=True)]
        report.seconds += facts.seconds
        report.models.setdefault(facts.model, ModelFigures()).add(facts)
        report.families.setdefault(family(facts.model), ModelFigures()).add(facts)
        if facts.recalled:
            report.auto_recall_sessions += 1
            report.auto_recalled += len(facts.recalled)
            recalled.update(facts.recalled)
        report.tool_recalls += facts.tool_recalls
        if facts.imported_from:
            report.imported[facts.imported_from] = report.imported.get(facts.imported_from, 0) + 1
    report.most_recalled = recalled.most_common(most_recalled)
    return report
