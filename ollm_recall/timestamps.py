"""ISO-8601 time stamps as the session format writes and reads them."""

from __future__ import annotations

from datetime import UTC, datetime


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
