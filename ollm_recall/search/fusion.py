"""The first stage of a hybrid search: words and meaning fused with weights that depend on the question.

Each candidate session scores (coverage: the share of the question's idf the session holds)

    text weight x BM25F / best BM25F  +  0.8 x dense  +  0.1 x coverage
        +  recency weight x exp(-age / 30 days)

The text weight grows with how far the best match by words stands out from the next one (a question
whose rare words, a name, a host, an error code, point at one session says so in its word scores),
and the recency prior counts only for a question that continues the user's own work: one that speaks
to the assistant ("I", "we", "you", "my"...) or asks for it ("last time", "recently", "again"...). A
quiz-like question about people and events ("When did Caroline go to the support group?") is about
any time, and an archive's newest sessions are no likelier answers. Both were tuned on the two dev
sets together with ``benchmarks/fusion.py`` (see docs/search.md).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

DENSE_WEIGHT = 0.8
TEXT_WEIGHT = 0.15
"""The text weight of a question whose best match by words does not stand out at all."""
TEXT_WEIGHT_PER_LEAD = 0.5
"""What the text weight gains per unit of the best BM25F score's lead over the second's (0 to 1)."""
COVERAGE_WEIGHT = 0.1
RECENCY_WEIGHT = 0.2
RECENCY_DAYS = 30.0
RELEVANT_SIMILARITY = 0.5
"""A similarity at which a past session is relevant to a question: where a session not embedded yet
stands when the few sessions embedded so far are all far from the question."""

_PERSONAL = re.compile(
    r"\b(?:i|i'm|i've|i'd|i'll|me|my|mine|myself|we|we're|we've|us|our|ours|you|you're|you've|your|yours)\b",
    re.IGNORECASE,
)
_RECENCY_WORDS = re.compile(
    r"\b(?:last time|the other day|recent|recently|lately|latest|newest|again|still|so far|"
    r"earlier|previous|previously|before|continue|continuing|follow(?:ing)?[- ]up|pick up|back to|"
    r"we (?:discussed|talked|said|decided)|you (?:said|suggested|mentioned|told|recommended))\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Weights:
    """How much each signal counts for one question."""

    text: float
    dense: float = DENSE_WEIGHT
    coverage: float = COVERAGE_WEIGHT
    recency: float = 0.0


def asks_for_recency(question: str) -> bool:
    """Whether a question continues recent work: it speaks to the assistant of the user's own things,
    or has words that ask for the latest ("last time", "again", "still"...)."""
    return bool(_PERSONAL.search(question) or _RECENCY_WORDS.search(question))


def words_lead(text_scores: dict[str, float]) -> float:
    """How far the best match by words stands out: (best - second) / best, 1 for a single match,
    0 for none."""
    best = second = 0.0
    for score in text_scores.values():
        if score > best:
            best, second = score, best
        elif score > second:
            second = score
    return (best - second) / best if best > 0 else 0.0


def weights_for(question: str, text_scores: dict[str, float]) -> Weights:
    """The fusion weights for ``question``, given its sessions' BM25F scores."""
    return Weights(
        text=TEXT_WEIGHT + TEXT_WEIGHT_PER_LEAD * words_lead(text_scores),
        recency=RECENCY_WEIGHT if asks_for_recency(question) else 0.0,
    )


def fuse(
    text: dict[str, float],
    dense: dict[str, float],
    coverage: dict[str, float],
    age_days: dict[str, float],
    weights: Weights,
    unembedded: set[str] | frozenset[str] = frozenset(),
) -> list[tuple[str, float]]:
    """Sessions ranked by the weighted sum of the module's docstring, best first.

    A session not embedded yet (``unembedded``) is not pushed down for lacking a dense score: it is
    given one in proportion to its words' score, the best match by words standing level with the best
    match by meaning, or with a relevant one (``RELEVANT_SIMILARITY``) when the few sessions embedded
    so far are all far from the question.
    """
    top_text = max(text.values(), default=0.0) or 1.0
    if unembedded:
        top_dense = max(max(dense.values(), default=0.0), RELEVANT_SIMILARITY)
        dense = {**dense, **{sid: top_dense * text[sid] / top_text for sid in unembedded if sid in text}}
    combined = {
        sid: weights.text * text.get(sid, 0.0) / top_text
        + weights.dense * dense.get(sid, 0.0)
        + weights.coverage * coverage.get(sid, 0.0)
        + (weights.recency * math.exp(-age_days.get(sid, 0.0) / RECENCY_DAYS) if weights.recency else 0.0)
        for sid in set(text) | set(dense)
    }
    return sorted(combined.items(), key=lambda item: (-item[1], item[0]))


def by_one_side(scores: dict[str, float], *, scale_to_best: bool) -> list[tuple[str, float]]:
    """A text or semantic search's ranking: the scores best first, text ones over the best (0-1)."""
    top = (max(scores.values(), default=0.0) or 1.0) if scale_to_best else 1.0
    return sorted(((sid, score / top) for sid, score in scores.items()), key=lambda item: (-item[1], item[0]))
