"""Time as the project reads and writes it: ISO-8601 time stamps of the session format, dates as people
type them on the command line (``2026-03-01``, ``7d``, ``2w``), milliseconds and durations."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

from .errors import UsageError


def format_timestamp(moment: datetime) -> str:
    """Write a moment as ISO-8601 UTC with milliseconds and ``Z``, the one form the format writes."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def now_timestamp() -> str:
    """The current time in the written form."""
    return format_timestamp(datetime.now(UTC))


def parse_timestamp(text: str) -> datetime:
    """Read any ISO-8601 date-time with ``Z`` or an offset; raise ``ValueError`` for anything else.

    A time without a zone is refused: guessing the zone would move a session in time.
    """
    if not isinstance(text, str) or "T" not in text:
        raise ValueError(f"not an ISO-8601 date-time: {text!r}")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not an ISO-8601 date-time: {text!r}") from None
    if moment.tzinfo is None:
        raise ValueError(f"time stamp has no time zone: {text!r}")
    return moment


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
        try:
            delta = timedelta(hours=count) if unit == "h" else timedelta(days=count * _UNIT_DAYS[unit])
            return now - delta
        except OverflowError:
            raise UsageError(f"invalid date {text!r}: that is before the year 1") from None
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


def format_duration(seconds: float, *, approximate: bool = False) -> str:
    """How long something took: ``42 s``, ``5 min 30 s``, ``2 h 05 min``; ``approximate``, for an
    estimate, in one unit: ``45 s``, ``12 min``, ``2.5 h``."""
    if approximate:
        if seconds < 90:
            return f"{max(1, round(seconds))} s"
        if seconds < 5400:
            return f"{round(seconds / 60)} min"
        return f"{seconds / 3600:.1f} h"
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours:02d} h"


def milliseconds(moment: datetime) -> int:
    """A moment as milliseconds since the epoch, as the index keeps times."""
    return int(moment.timestamp() * 1000)


def local_day(ms: int) -> date:
    """The local calendar day of a time in milliseconds since the epoch."""
    return datetime.fromtimestamp(ms / 1000).astimezone().date()
