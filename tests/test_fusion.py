"""The first stage's weights follow the question: recency only where it asks, words by how they stand out."""

from __future__ import annotations

import pytest

from ollm_recall.search.fusion import (
    RECENCY_WEIGHT,
    TEXT_WEIGHT,
    Weights,
    asks_for_recency,
    fuse,
    weights_for,
    words_lead,
)


@pytest.mark.parametrize(
    "question",
    [
        "Regarding the WhatsApp tool from last time, what do you need from me?",
        "the nginx config we discussed",
        "is the 502 still happening after the upgrade",
        "the latest version of the backup script",
        "can you pick up the migration plan again",
        "my docker compose setup",
    ],
)
def test_questions_that_continue_recent_work_ask_for_recency(question: str) -> None:
    assert asks_for_recency(question)
    assert weights_for(question, {}).recency == RECENCY_WEIGHT


@pytest.mark.parametrize(
    "question",
    [
        "When did Caroline go to the LGBTQ support group?",
        "What did Melanie paint?",
        "nginx 502 php-fpm socket",
        "the travel plan from april",
    ],
)
def test_questions_about_any_time_get_no_recency_prior(question: str) -> None:
    assert not asks_for_recency(question)
    assert weights_for(question, {}).recency == 0.0


def test_words_count_more_the_further_the_best_match_by_words_stands_out() -> None:
    assert words_lead({}) == 0.0
    assert words_lead({"a": 3.0}) == 1.0
    assert words_lead({"a": 4.0, "b": 1.0, "c": 4.0}) == 0.0
    assert words_lead({"a": 1.0, "b": 4.0, "c": 3.0}) == pytest.approx(0.25)
    flat = weights_for("x", {"a": 4.0, "b": 4.0}).text
    peaked = weights_for("x", {"a": 4.0, "b": 1.0}).text
    assert flat == TEXT_WEIGHT and peaked > flat


def test_recency_moves_an_older_session_down_only_when_weighted() -> None:
    text = {"old": 2.0, "new": 2.0}
    dense = {"old": 0.61, "new": 0.6}
    age = {"old": 200.0, "new": 1.0}
    assert fuse(text, dense, {}, age, Weights(text=0.2))[0][0] == "old"
    assert fuse(text, dense, {}, age, Weights(text=0.2, recency=RECENCY_WEIGHT))[0][0] == "new"


def test_a_session_without_vectors_yet_is_scored_by_its_words() -> None:
    ranked = dict(fuse({"a": 4.0, "b": 2.0}, {"b": 0.3}, {}, {}, Weights(text=0.2), unembedded={"a"}))
    assert ranked["a"] > ranked["b"]
