"""The second stage of a hybrid search: a learned reordering of the first stage's best candidates.

The first stage (BM25F, embeddings, a recency prior, fused by hand-set weights) finds the right
sessions; this puts them first. Each candidate is described by features that cost little at query time
(most come from what the first stage computed); a small LambdaMART model (LightGBM, 7-leaf trees,
its score rising with every feature that says "closer"), trained on the RealMem dev set's questions
and on the same questions' evidence as questions (two styles: chat openings, and statements that name
things), with leave-one-archive-out cross-validation (``benchmarks/ranker_training.py``), scores them,
and a logistic calibration turns the score into the chance that the session is one the question is
about, which is what ``Hit.score`` then shows. The
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
FORMAT = 2
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
FEATURES = BASE_FEATURES + RELATIVE_FEATURES
NEIGHBOURS = 5


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


def with_relative(base: np.ndarray) -> np.ndarray:
    """``BASE_FEATURES`` rows of one question's candidates, with ``RELATIVE_FEATURES`` appended."""
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
    return np.concatenate([base, np.stack([*gaps, recent, standardised], axis=1)], axis=1)


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
    return ids, with_relative(np.asarray(rows, dtype=np.float64).reshape(len(ids), len(BASE_FEATURES)))


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
class SecondStage:
    """The trees over ``FEATURES``, and the calibration of their score into a chance of relevance."""

    trees: Trees
    slope: float
    intercept: float

    def scores(self, matrix: np.ndarray) -> np.ndarray:
        """The raw score of each row (higher is better)."""
        return self.trees.predict(matrix)

    def reorder(self, stage: FirstStage) -> list[tuple[str, float]]:
        """The first stage's ranking with its best ``CANDIDATES`` reordered; each reordered session's
        score is the calibrated chance it is relevant, and the rest keep theirs below them."""
        ids, matrix = feature_matrix(stage)
        if not ids:
            return stage.ranked
        raw = self.scores(matrix)
        chance = 1.0 / (1.0 + np.exp(-(self.slope * raw + self.intercept)))
        order = np.lexsort((np.arange(len(ids)), -raw))
        head = [(ids[i], round(float(chance[i]), 4)) for i in order]
        floor = min(score for _, score in head)
        tail = [(sid, min(score, floor)) for sid, score in stage.ranked[len(ids) :]]
        return head + tail

    def to_json(self, **about: object) -> dict[str, object]:
        return {
            "format": FORMAT,
            "features": list(FEATURES),
            "trees": self.trees.to_json(),
            "calibration": {"slope": self.slope, "intercept": self.intercept},
            **about,
        }

    @classmethod
    def from_json(cls, document: dict[str, object]) -> SecondStage:
        if document.get("format") != FORMAT or document.get("features") != list(FEATURES):
            raise ValueError("made for other features")
        calibration, trees = document["calibration"], document["trees"]
        if not isinstance(calibration, dict) or not isinstance(trees, dict):
            raise ValueError("not a model")
        model = cls(Trees.from_json(trees), float(calibration["slope"]), float(calibration["intercept"]))
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
