"""Time in a question: "that nginx thing from march", "last week", "two years ago", "yesterday".

A small grammar, tested case by case, turns the date words of a question into day ranges, counted
back from a reference day (the search's cutoff, else the archive's newest session: an archive read
months later still means "last week" of its own time). Ambiguous words need a cue: "may" and
"march" are months only after "in", "from", "since", "during", "back in", "early", "late" or before a
year or a day. The ranges become a soft prior in the search (sessions active then move up), never a
filter, and the search says which dates it understood.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

MONTHS = {name.lower(): number for number, name in enumerate(calendar.month_name) if name}
MONTHS.update({name.lower(): number for number, name in enumerate(calendar.month_abbr) if name})
MONTHS.pop("may", None)  # added back below, only with a cue
MONTHS["sept"] = 9
NUMBERS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "a couple of": 2,
    "a few": 3,
    "couple of": 2,
    "few": 3,
}
UNIT_DAYS = {"day": 1, "week": 7, "month": 30, "year": 365}
SEASONS = {"spring": (3, 5), "summer": (6, 8), "autumn": (9, 11), "fall": (9, 11), "winter": (12, 2)}

_MONTH_NAMES = "|".join(sorted([*MONTHS, "may"], key=len, reverse=True))
_MONTH = r"(?P<month>" + _MONTH_NAMES + r")"
_COUNT = r"(?P<count>\d{1,3}|" + "|".join(sorted(NUMBERS, key=len, reverse=True)) + r")"
_PATTERNS = [
    ("iso", re.compile(r"\b(?P<y>20\d\d)-(?P<m>[01]\d)(?:-(?P<d>[0-3]\d))?\b")),
    ("ago", re.compile(_COUNT + r"\s+(?P<unit>day|week|month|year)s?\s+ago\b")),
    ("relative", re.compile(r"\b(?P<which>last|this|past|previous)\s+(?P<unit>week|month|year|weekend)\b")),
    ("dayword", re.compile(r"\b(?P<word>today|yesterday|the day before yesterday|earlier today)\b")),
    ("month_day", re.compile(r"\b" + _MONTH + r"\.?\s+(?P<d>[0-3]?\d)(?:st|nd|rd|th)?\b(?!:)")),
    ("day_month", re.compile(r"\b(?P<d>[0-3]?\d)(?:st|nd|rd|th)?\s+(?:of\s+)?" + _MONTH + r"\b")),
    ("month_year", re.compile(r"\b" + _MONTH + r"\.?,?\s+(?P<y>20\d\d)\b")),
    (
        "cued_month",
        re.compile(
            r"\b(?:in|from|since|during|back in|early|late|mid|last|this past)\s+(?:-\s*)?" + _MONTH + r"\b"
        ),
    ),
    # a season needs a cue: alone, "a winter road trip", "spring boot" and "fall back" are no dates
    (
        "season",
        re.compile(
            r"\b(?:(?P<which>last|this|past)\s+|(?:in|during|over|from|since|back in)\s+"
            r"(?:the\s+)?)(?P<season>spring|summer|autumn|fall|winter)\b"
        ),
    ),
    (
        "holiday",
        re.compile(
            r"\b(?P<cue>before|after|around|over|at)\s+(?:the\s+)?"
            r"(?P<holiday>christmas|xmas|new year'?s?|the holidays)\b"
        ),
    ),
]


@dataclass(frozen=True)
class DateRange:
    """Days (inclusive) a question points at, and the words that said so."""

    start: date
    end: date
    words: str

    def describe(self) -> str:
        span = self.start.isoformat() if self.start == self.end else f"{self.start} to {self.end}"
        return f'"{self.words}" = {span}'


def _month_range(year: int, month: int) -> tuple[date, date]:
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def _latest(reference: date, month: int, day: int | None = None) -> int:
    """The year of the latest such month (or day) on or before the reference day."""
    wanted = (month, day or 1)
    return reference.year if wanted <= (reference.month, reference.day) else reference.year - 1


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _season(year: int, first: int, last: int) -> tuple[date, date]:
    """A season starting in ``year`` (winter runs into the next year)."""
    end_year = year + 1 if last < first else year
    return date(year, first, 1), _month_range(end_year, last)[1]


def _count(text: str) -> int | None:
    return int(text) if text.isdigit() else NUMBERS.get(text)


def _range_of(kind: str, match: re.Match[str], reference: date) -> tuple[date, date] | None:
    groups = match.groupdict()
    if kind == "iso":
        year, month = int(groups["y"]), int(groups["m"])
        if not 1 <= month <= 12:
            return None
        if groups["d"]:
            day = _safe_date(year, month, int(groups["d"]))
            return (day, day) if day else None
        return _month_range(year, month)
    if kind == "ago":
        count = _count(groups["count"])
        if count is None or count > 100:
            return None
        days = UNIT_DAYS[groups["unit"]]
        centre = reference - timedelta(days=count * days)
        half = timedelta(days=max(1, days // 2) if days > 1 else 0)
        return centre - half, centre + half
    if kind == "relative":
        unit, which = groups["unit"], groups["which"]
        if unit in ("week", "weekend"):
            monday = reference - timedelta(days=reference.weekday())
            if which == "this":
                return monday, reference
            start = monday - timedelta(days=7)
            return (
                (start + timedelta(days=5), start + timedelta(days=6))
                if unit == "weekend"
                else (start, monday - timedelta(days=1))
            )
        if unit == "month":
            if which == "this":
                return reference.replace(day=1), reference
            previous = reference.replace(day=1) - timedelta(days=1)
            return _month_range(previous.year, previous.month)
        if which == "this":
            return date(reference.year, 1, 1), reference
        return date(reference.year - 1, 1, 1), date(reference.year - 1, 12, 31)
    if kind == "dayword":
        back = {"today": 0, "earlier today": 0, "yesterday": 1, "the day before yesterday": 2}[groups["word"]]
        day = reference - timedelta(days=back)
        return day, day
    if kind in ("month_day", "day_month"):
        month = 5 if groups["month"] == "may" else MONTHS[groups["month"]]
        number = int(groups["d"])
        day = _safe_date(_latest(reference, month, number), month, number)
        return (day, day) if day else None
    if kind in ("month_year", "cued_month"):
        month = 5 if groups["month"] == "may" else MONTHS[groups["month"]]
        year = int(groups["y"]) if groups.get("y") else _latest(reference, month)
        return _month_range(year, month)
    if kind == "season":
        first, last = SEASONS[groups["season"]]
        year = reference.year if date(reference.year, first, 1) <= reference else reference.year - 1
        start, end = _season(year, first, last)
        if groups["which"] in ("last", "past") and end >= reference:  # we are in it: the one before
            start, end = _season(year - 1, first, last)
        return start, end
    if kind == "holiday":
        holiday, cue = groups["holiday"], groups["cue"]
        year = reference.year if (reference.month, reference.day) >= (12, 20) else reference.year - 1
        christmas = holiday in ("christmas", "xmas", "the holidays")
        centre = date(year, 12, 25) if christmas else date(year + 1, 1, 1)
        if cue == "before":
            return centre - timedelta(days=21), centre - timedelta(days=1)
        if cue == "after":
            return centre + timedelta(days=1), centre + timedelta(days=21)
        return centre - timedelta(days=7), centre + timedelta(days=7)
    return None


def dates_in(question: str, reference: date) -> list[DateRange]:
    """The day ranges the question's date words point at, counted back from ``reference``; each span
    of words is read once, by the first (most specific) rule that takes it."""
    text = question.lower()
    taken: list[tuple[int, int]] = []
    found: list[DateRange] = []
    for kind, pattern in _PATTERNS:
        for match in pattern.finditer(text):
            if any(match.start() < end and start < match.end() for start, end in taken):
                continue
            span = _range_of(kind, match, reference)
            if span is None or span[0] > reference:
                continue
            taken.append((match.start(), match.end()))
            found.append(DateRange(span[0], min(span[1], reference), match.group(0).strip()))
    return sorted(found, key=lambda found_range: found_range.start)


def date_prior(active: tuple[date, date], ranges: list[DateRange]) -> float:
    """1.0 when a session active from ``active[0]`` to ``active[1]`` overlaps one of the ranges,
    falling off with the distance to the nearest one (half at a range's own length away, at least
    a week), 0.0 without ranges."""
    best = 0.0
    for wanted in ranges:
        if active[1] >= wanted.start and active[0] <= wanted.end:
            return 1.0
        gap = (wanted.start - active[1]).days if active[1] < wanted.start else (active[0] - wanted.end).days
        width = max(7, (wanted.end - wanted.start).days + 1)
        best = max(best, 1.0 / (1.0 + gap / width))
    return best
