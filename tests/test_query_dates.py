"""Date words in a question: what they are read as, counted back from the archive's own time."""

from __future__ import annotations

from datetime import date

import pytest

from ollm_recall.search.question_dates import DateRange, date_prior, dates_in

REFERENCE = date(2026, 11, 20)  # a Friday


@pytest.mark.parametrize(
    "question, expected",
    [
        ("that nginx thing from march", [(date(2026, 3, 1), date(2026, 3, 31))]),
        ("what did we do last week", [(date(2026, 11, 9), date(2026, 11, 15))]),
        ("yesterday's bug", [(date(2026, 11, 19), date(2026, 11, 19))]),
        ("the day before yesterday", [(date(2026, 11, 18), date(2026, 11, 18))]),
        ("3 days ago", [(date(2026, 11, 17), date(2026, 11, 17))]),
        ("two years ago I asked about taxes", [(date(2024, 5, 22), date(2025, 5, 21))]),
        ("last month", [(date(2026, 10, 1), date(2026, 10, 31))]),
        ("this year", [(date(2026, 1, 1), REFERENCE)]),
        ("the March 2025 budget", [(date(2025, 3, 1), date(2025, 3, 31))]),
        ("on march 3rd we", [(date(2026, 3, 3), date(2026, 3, 3))]),
        ("what about 12 march?", [(date(2026, 3, 12), date(2026, 3, 12))]),
        ("the trip in december", [(date(2025, 12, 1), date(2025, 12, 31))]),  # the latest one that has been
        ("back in 2026-02", [(date(2026, 2, 1), date(2026, 2, 28))]),
        ("last summer", [(date(2026, 6, 1), date(2026, 8, 31))]),
        ("what we planned over the winter", [(date(2025, 12, 1), date(2026, 2, 28))]),
        ("in spring", [(date(2026, 3, 1), date(2026, 5, 31))]),
        ("before christmas", [(date(2025, 12, 4), date(2025, 12, 24))]),
        ("I asked in may", [(date(2026, 5, 1), date(2026, 5, 31))]),
    ],
)
def test_date_words_become_day_ranges(question: str, expected: list) -> None:
    assert [(found.start, found.end) for found in dates_in(question, REFERENCE)] == expected


@pytest.mark.parametrize(
    "question",
    [
        "the march of progress",
        "I may have asked about it",
        "at 10:30 on the 5th",
        "we will meet next week",
        "version 2.3 of the api",
        "",
        "the summary says nothing of dates",
        "what clothes to bring for a winter road trip",
        "spring boot config",
        "the summer menu",
        "fall back to v1",
    ],
)
def test_words_that_are_not_dates_stay_words(question: str) -> None:
    assert dates_in(question, REFERENCE) == []


def test_the_prior_is_whole_inside_a_range_and_falls_off_outside() -> None:
    march = [DateRange(date(2026, 3, 1), date(2026, 3, 31), "march")]
    assert date_prior((date(2026, 3, 30), date(2026, 4, 2)), march) == 1.0
    near, far = (
        date_prior((date(2026, 4, 10), date(2026, 4, 10)), march),
        date_prior((date(2026, 9, 1), date(2026, 9, 1)), march),
    )
    assert 1.0 > near > far > 0.0
    assert date_prior((date(2026, 3, 5), date(2026, 3, 5)), []) == 0.0
