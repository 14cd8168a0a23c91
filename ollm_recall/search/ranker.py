"""The second stage of a hybrid search: a learned reordering of the first stage's best candidates.

The first stage (BM25F, embeddings, priors, fused with weights that depend on the question) finds the
right sessions; this puts them first. Each candidate is described by features that cost little at query
time (most come from what the first stage computed); a small LambdaMART model (LightGBM, 7-leaf trees,
its score rising with every feature that says "closer"), trained on both dev sets' questions (RealMem's
chat openings and their evidence as statements, LoCoMo-dev's quiz-like questions), validated leaving
one archive and one set out (``benchmarks/ranker_training.py``), orders them. Beside it, ``Relevance``
estimates the chance that a session is one the question is about, in terms that mean the same from
one question to the next: what ``Hit.score`` shows and what floors and automatic recall decide by. The
trees are stored as arrays in ``ranker.json`` in the package and evaluated here with numpy (LightGBM is
needed to train, not to search); a missing or damaged file means the first stage alone, and one
warning.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import OllmRecallWarning

RANKER_FILE = Path(__file__).with_name("ranker.json")
FORMAT = 3
CANDIDATES = 50
"""How many of the first stage's best sessions the second stage reorders."""
BASE_FEATURES = (
    "dense",  # mean cosine of the session's 3 closest units to the question
    "dense_best",  # cosine of its closest unit
    "text",  # BM25F score over the best BM25F score of the question
    "coverage",  # share of the question's idf the session contains
    "recency",  # exp(-age / 30 days), age counted back from the archive's newest session
    "age",  # log(1 + age in days) / 5
    "dense_rank",  # 1 / (1 + rank by meaning among the candidates)
    "text_rank",  # 1 / (1 + rank by words), 0 if the words do not match
    "length",  # log(1 + messages) / 5
    "fused",  # the first stage's own score
    "centroid",  # cosine of the mean of all the session's units to the question
    "neighbours",  # mean cosine of the session's mean unit to those of the first stage's best 5 others
)
RELATIVE_FEATURES = (
    "dense_gap",  # dense minus the best dense score among the candidates
    "text_gap",  # the same for words
    "centroid_gap",  # ...for the centroid cosine
    "neighbours_gap",  # ...for neighbours
    "fused_gap",  # ...for the first stage's score
    "recent_of_close",  # 1 / (1 + rank by recency among the 10 closest by meaning), else 0
    "dense_z",  # dense standardised over the candidates
)
"""Each feature set against the other candidates of the same question: a question's scores sit
higher or lower as a whole, and trees split better on where a session stands among its rivals."""
QUESTION_FEATURES = (
    "asks_recency",  # 1 when the question continues recent work (``fusion.asks_for_recency``), else 0
    "words_lead",  # how far the best match by words stands out (``fusion.words_lead``)
)
"""The same for every candidate of a question: they let the trees weigh recency and words by the kind
of question, as the first stage does."""
FEATURES = BASE_FEATURES + RELATIVE_FEATURES + QUESTION_FEATURES
NEIGHBOURS = 5
RELEVANCE_FEATURES = ("dense", "dense_best", "coverage", "centroid", "text", "words_lead")
"""What the estimate of relevance reads: how close by meaning and by words a session is, in terms that
mean the same from one question to the next (not where it stands among the candidates)."""


@dataclass(frozen=True)
class FirstStage:
    """What the first stage knows of each candidate, in its own order (best first)."""

    ranked: list[tuple[str, float]]
    dense: dict[str, float]
    dense_best: dict[str, float]
    text: dict[str, float]
    coverage: dict[str, float]
    age_days: dict[str, float]
    messages: dict[str, int]
    centroid: dict[str, float]
    """Cosine of the question to each candidate's mean unit vector."""
    neighbours: dict[str, float]
    """Mean cosine of each candidate's mean vector to those of the best ``NEIGHBOURS`` others: a
    session close to several strong candidates is likely on the topic (feedback at session level)."""
    asks_recency: bool = False
    words_lead: float = 0.0


def session_relations(
    ranked_ids: list[str], centroids: dict[str, np.ndarray], query: np.ndarray
) -> tuple[dict[str, float], dict[str, float]]:
    """``centroid`` and ``neighbours`` of ``FirstStage`` for the candidates ``ranked_ids`` (best first)."""
    ids = [sid for sid in ranked_ids if sid in centroids]
    if not ids:
        return {}, {}
    matrix = np.stack([centroids[sid] for sid in ids])
    to_query = matrix @ query
    similarity = matrix @ matrix[: NEIGHBOURS + 1].T
    neighbours = {}
    for row, sid in enumerate(ids):
        others = [column for column in range(min(len(ids), NEIGHBOURS + 1)) if column != row][:NEIGHBOURS]
        neighbours[sid] = float(similarity[row, others].mean()) if others else 0.0
    return {sid: float(value) for sid, value in zip(ids, to_query, strict=True)}, neighbours


def with_relative(base: np.ndarray, question: tuple[float, ...] = (0.0, 0.0)) -> np.ndarray:
    """``BASE_FEATURES`` rows of one question's candidates, with ``RELATIVE_FEATURES`` and the
    question's ``QUESTION_FEATURES`` appended."""
    if not len(base):
        return np.zeros((0, len(FEATURES)))

    def column(name: str) -> np.ndarray:
        return base[:, BASE_FEATURES.index(name)]

    dense = column("dense")
    gaps = [
        column(name) - column(name).max() for name in ("dense", "text", "centroid", "neighbours", "fused")
    ]
    closest = np.argsort(-dense, kind="stable")[:10]
    recent = np.zeros(len(base))
    by_age = np.argsort(np.argsort(column("age")[closest], kind="stable"), kind="stable")
    recent[closest] = 1.0 / (1.0 + by_age)
    standardised = (dense - dense.mean()) / (dense.std() + 1e-6)
    asked = np.broadcast_to(np.asarray(question, dtype=np.float64), (len(base), len(QUESTION_FEATURES)))
    return np.concatenate([base, np.stack([*gaps, recent, standardised], axis=1), asked], axis=1)


def feature_matrix(stage: FirstStage, count: int = CANDIDATES) -> tuple[list[str], np.ndarray]:
    """The ids of the first ``count`` candidates and their features (rows in ``FEATURES`` order)."""
    ids = [sid for sid, _ in stage.ranked[:count]]
    fused = dict(stage.ranked[:count])
    top_text = max(stage.text.values(), default=0.0) or 1.0
    by_dense = {sid: rank for rank, sid in enumerate(sorted(ids, key=lambda s: -stage.dense.get(s, 0.0)))}
    by_text = {
        sid: rank
        for rank, sid in enumerate(sorted((s for s in ids if s in stage.text), key=lambda s: -stage.text[s]))
    }
    rows = []
    for sid in ids:
        age = stage.age_days.get(sid, 0.0)
        rows.append(
            (
                stage.dense.get(sid, 0.0),
                stage.dense_best.get(sid, 0.0),
                stage.text.get(sid, 0.0) / top_text,
                stage.coverage.get(sid, 0.0),
                math.exp(-age / 30.0),
                math.log1p(age) / 5.0,
                1.0 / (1.0 + by_dense[sid]),
                1.0 / (1.0 + by_text[sid]) if sid in by_text else 0.0,
                math.log1p(stage.messages.get(sid, 0)) / 5.0,
                fused[sid],
                stage.centroid.get(sid, 0.0),
                stage.neighbours.get(sid, 0.0),
            )
        )
    base = np.asarray(rows, dtype=np.float64).reshape(len(ids), len(BASE_FEATURES))
    return ids, with_relative(base, (float(stage.asks_recency), stage.words_lead))


@dataclass(frozen=True)
class Trees:
    """A tree ensemble as flat arrays: node ``n`` splits on ``feature[n]`` at ``threshold[n]`` (a row
    goes to ``left[n]`` when its value is at most the threshold, else to ``right[n]``), or is a leaf
    (``feature[n] < 0``) worth ``value[n]``; ``roots`` are the trees' first nodes. A row's score is
    the sum of its leaves' values, as LightGBM computes it."""

    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray
    roots: np.ndarray
    depth: int

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        nodes = np.broadcast_to(self.roots, (len(matrix), len(self.roots))).copy()
        rows = np.arange(len(matrix))[:, None]
        for _ in range(self.depth):
            feature = self.feature[nodes]
            inner = feature >= 0
            if not inner.any():
                break
            goes_left = matrix[rows, np.maximum(feature, 0)] <= self.threshold[nodes]
            nodes = np.where(inner, np.where(goes_left, self.left[nodes], self.right[nodes]), nodes)
        return self.value[nodes].sum(axis=1)

    def to_json(self) -> dict[str, object]:
        names = ("feature", "threshold", "left", "right", "value", "roots")
        return {name: getattr(self, name).tolist() for name in names} | {"depth": self.depth}

    @classmethod
    def from_json(cls, document: dict[str, object]) -> Trees:
        def array(name: str, kind: type) -> np.ndarray:
            return np.asarray(document[name], dtype=kind)

        trees = cls(
            array("feature", np.int64),
            array("threshold", np.float64),
            array("left", np.int64),
            array("right", np.int64),
            array("value", np.float64),
            array("roots", np.int64),
            int(document["depth"]),  # type: ignore[call-overload]
        )
        size = len(trees.feature)
        inner = trees.feature >= 0

        def within(nodes: np.ndarray) -> bool:
            return bool(np.all((nodes >= 0) & (nodes < size)))

        if (
            not (len(trees.threshold) == len(trees.left) == len(trees.right) == len(trees.value) == size)
            or not np.all(np.isfinite(trees.threshold))
            or not np.all(np.isfinite(trees.value))
            or np.any(trees.feature >= len(FEATURES))
            or not within(trees.roots)
            or not within(trees.left[inner])
            or not within(trees.right[inner])
        ):
            raise ValueError("trees of the wrong shape")
        return trees


@dataclass(frozen=True)
class Relevance:
    """The chance that a session is one the question is about: a logistic regression over
    ``RELEVANCE_FEATURES``, trained on both dev sets with questions asked of archives that do not hold
    their answer as negatives, so that it means the same whatever the style of the question."""

    weights: np.ndarray
    intercept: float

    def log_odds(self, matrix: np.ndarray) -> np.ndarray:
        columns = [FEATURES.index(name) for name in RELEVANCE_FEATURES]
        return matrix[:, columns] @ self.weights + self.intercept

    def to_json(self) -> dict[str, object]:
        return {
            "features": list(RELEVANCE_FEATURES),
            "weights": self.weights.tolist(),
            "intercept": self.intercept,
        }

    @classmethod
    def from_json(cls, document: object) -> Relevance:
        if not isinstance(document, dict) or document.get("features") != list(RELEVANCE_FEATURES):
            raise ValueError("a relevance estimate made for other features")
        weights = np.asarray(document["weights"], dtype=np.float64)
        intercept = float(document["intercept"])
        if weights.shape != (len(RELEVANCE_FEATURES),) or not np.all(np.isfinite(weights)):
            raise ValueError("relevance weights of the wrong shape")
        if not math.isfinite(intercept):
            raise ValueError("a relevance intercept that is not a number")
        return cls(weights, intercept)


@dataclass(frozen=True)
class SecondStage:
    """The trees over ``FEATURES``, the calibration of their score into a chance among the candidates,
    and the estimate of relevance that hits show and floors and automatic recall decide by."""

    trees: Trees
    slope: float
    intercept: float
    relevance: Relevance | None = None

    def scores(self, matrix: np.ndarray) -> np.ndarray:
        """The raw score of each row (higher is better)."""
        return self.trees.predict(matrix)

    def reorder(self, stage: FirstStage) -> tuple[list[tuple[str, float]], dict[str, float]]:
        """The first stage's ranking with its best ``CANDIDATES`` reordered (each reordered session's
        score is its calibrated chance among the candidates, and the rest keep theirs below them), and
        the log-odds of relevance of the reordered ones (empty without a ``relevance`` estimate)."""
        ids, matrix = feature_matrix(stage)
        if not ids:
            return stage.ranked, {}
        raw = self.scores(matrix)
        chance = 1.0 / (1.0 + np.exp(-(self.slope * raw + self.intercept)))
        order = np.lexsort((np.arange(len(ids)), -raw))
        head = [(ids[i], round(float(chance[i]), 4)) for i in order]
        floor = min(score for _, score in head)
        tail = [(sid, min(score, floor)) for sid, score in stage.ranked[len(ids) :]]
        if self.relevance is None:
            return head + tail, {}
        odds = self.relevance.log_odds(matrix)
        return head + tail, {sid: float(value) for sid, value in zip(ids, odds, strict=True)}

    def to_json(self, **about: object) -> dict[str, object]:
        return {
            "format": FORMAT,
            "features": list(FEATURES),
            "trees": self.trees.to_json(),
            "calibration": {"slope": self.slope, "intercept": self.intercept},
            **({"relevance": self.relevance.to_json()} if self.relevance is not None else {}),
            **about,
        }

    @classmethod
    def from_json(cls, document: dict[str, object]) -> SecondStage:
        if document.get("format") != FORMAT or document.get("features") != list(FEATURES):
            raise ValueError("made for other features")
        calibration, trees = document["calibration"], document["trees"]
        if not isinstance(calibration, dict) or not isinstance(trees, dict):
            raise ValueError("not a model")
        relevance = Relevance.from_json(document["relevance"]) if "relevance" in document else None
        model = cls(
            Trees.from_json(trees), float(calibration["slope"]), float(calibration["intercept"]), relevance
        )
        if not (math.isfinite(model.slope) and math.isfinite(model.intercept)):
            raise ValueError("a calibration that is not a number")
        return model


_loaded: dict[Path, SecondStage | None] = {}


def load_second_stage(path: Path | None = None) -> SecondStage | None:
    """The shipped model (``RANKER_FILE``), read once per process; None (after one ``OllmRecallWarning``)
    when the file is missing or damaged, and searches then rank by the first stage alone."""
    path = path or RANKER_FILE
    if path not in _loaded:
        try:
            _loaded[path] = SecondStage.from_json(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
            reason = "is missing" if isinstance(exc, FileNotFoundError) else f"cannot be used ({exc})"
            warnings.warn(
                f"the ranking model {path.name} {reason}; results are in first-stage order",
                OllmRecallWarning,
                stacklevel=2,
            )
            _loaded[path] = None
    return _loaded[path]
