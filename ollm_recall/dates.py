"""Dates as people type them on the command line: ``2026-03-01``, ISO date-times, ``7d``, ``2w``, ``3m``."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

from .errors import UsageError

_RELATIVE = re.compile(r"(?P<count>\d+)\s*(?P<unit>h|d|w|m|y)")
_UNIT_DAYS = {"d": 1, "w": 7, "m": 30, "y": 365}


def parse_date(text: str, *, end_of_day: bool = False, now: datetime | None = None) -> datetime:
    """Turn a date argument into an aware datetime.

    ``7d``/``2w``/``3m``/``1y``/``12h`` count back from now (a month is 30 days); a plain date is that
    day in local time, its start, or its end with ``end_of_day`` (so ``--until 2026-03-01`` includes
    that day); a date-time without a zone is local time.
    """
    raw = text.strip().lower()
    now = now or datetime.now(UTC)
    relative = _RELATIVE.fullmatch(raw)
    if relative:
        count, unit = int(relative["count"]), relative["unit"]
        delta = timedelta(hours=count) if unit == "h" else timedelta(days=count * _UNIT_DAYS[unit])
        return now - delta
    if raw in ("today", "yesterday"):
        day = now.astimezone().date() - timedelta(days=1 if raw == "yesterday" else 0)
        return _day_bound(day, end_of_day)
    try:
        if len(raw) == 10:
            return _day_bound(date.fromisoformat(raw), end_of_day)
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"invalid date {text!r}: use YYYY-MM-DD, an ISO date-time, or 12h / 7d / 2w / 3m / 1y"
        ) from None
    return moment if moment.tzinfo else moment.astimezone()


def _day_bound(day: date, end_of_day: bool) -> datetime:
    moment = datetime.combine(day, time.max if end_of_day else time.min)
    return moment.astimezone()


def parse_range(
    since: str | None, until: str | None, *, now: datetime | None = None
) -> tuple[datetime | None, datetime | None]:
    """``--since`` and ``--until`` as bounds (``until`` to the end of its day); a ``UsageError`` when
    the range is empty, which would otherwise search to a silent "nothing found"."""
    since_at = parse_date(since, now=now) if since else None
    until_at = parse_date(until, end_of_day=True, now=now) if until else None
    if since_at is not None and until_at is not None and since_at > until_at:
        raise UsageError(f"--since {since} is after --until {until}: no session can match")
    return since_at, until_at
