"""The second stage's model file: shipped in the package, read offline, and never a reason to fail."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO

from ollm_recall.errors import OllmRecallWarning
from ollm_recall.index.indexer import Index
from ollm_recall.search import ranker
from ollm_recall.search.ranker import (
    CANDIDATES,
    FEATURES,
    FirstStage,
    Relevance,
    SecondStage,
    Trees,
    load_second_stage,
)
from ollm_recall.search.searcher import Searcher


def test_the_shipped_model_loads_offline_and_scores_as_lightgbm_did() -> None:
    document = json.loads(ranker.RANKER_FILE.read_text())
    model = SecondStage.from_json(document)
    assert model.slope > 0 and len(model.trees.roots) > 10
    assert model.relevance is not None and np.all(model.relevance.weights > 0)  # closer is never less likely
    assert document["cross_validated"]["method"] == "leave one archive out"
    checks = document["checks"]  # LightGBM's own scores of sample rows, kept when it was trained
    assert np.allclose(model.scores(np.asarray(checks["inputs"])), checks["outputs"], atol=1e-9)
    assert ranker.RANKER_FILE.stat().st_size < 500_000


def _trees(**changes: object) -> str:
    trees = {
        "feature": [0, -1, -1],
        "threshold": [0.5, 0, 0],
        "left": [1, -1, -1],
        "right": [2, -1, -1],
        "value": [0, -1.0, 1.0],
        "roots": [0],
        "depth": 1,
    }
    return json.dumps(
        {
            "format": ranker.FORMAT,
            "features": list(FEATURES),
            "trees": {**trees, **changes},
            "calibration": {"slope": 1, "intercept": 0},
        }
    )


@pytest.mark.parametrize(
    "content",
    [
        None,
        "{not json",
        '{"format": 2, "features": ["other"]}',
        _trees(left=[7, -1, -1]),
        _trees(value=[0, "NaN", 1]),
        _trees(feature=[99, -1, -1]),
    ],
)
def test_a_missing_or_damaged_model_is_one_warning_and_the_first_stage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None
) -> None:
    path = tmp_path / "ranker.json"
    if content is not None:
        path.write_text(content)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert load_second_stage(path) is None
        assert load_second_stage(path) is None
    said = [str(w.message) for w in caught if issubclass(w.category, OllmRecallWarning)]
    assert len(said) == 1 and said[0].startswith("the ranking model ranker.json")


def test_the_reordering_keeps_every_candidate_and_scores_as_chances() -> None:
    stage = FirstStage(
        ranked=[(f"s{i}", 1.0 - i / 100) for i in range(60)],
        dense={f"s{i}": 0.3 + (i == 7) * 0.5 for i in range(60)},
        dense_best={f"s{i}": 0.4 for i in range(60)},
        text={},
        coverage={},
        age_days={f"s{i}": float(i) for i in range(60)},
        messages={f"s{i}": 4 for i in range(60)},
        centroid={},
        neighbours={},
    )
    split_on_dense = Trees(
        np.array([FEATURES.index("dense"), -1, -1]),
        np.array([0.5, 0.0, 0.0]),
        np.array([1, -1, -1]),
        np.array([2, -1, -1]),
        np.array([0.0, -1.0, 1.0]),
        np.array([0]),
        1,
    )
    model = SecondStage(split_on_dense, 4.0, -2.0)
    ranked, relevance = model.reorder(stage)
    assert ranked[0][0] == "s7" and sorted(sid for sid, _ in ranked) == sorted(f"s{i}" for i in range(60))
    assert all(0.0 < score < 1.0 for _, score in ranked)
    assert [score for _, score in ranked] == sorted((score for _, score in ranked), reverse=True)
    assert relevance == {}  # a model without an estimate of relevance


def test_relevance_rises_with_meaning_and_words_and_covers_the_reordered_candidates() -> None:
    stage = FirstStage(
        ranked=[(f"s{i}", 1.0 - i / 100) for i in range(60)],
        dense={f"s{i}": 0.3 + (i == 7) * 0.4 for i in range(60)},
        dense_best={f"s{i}": 0.4 for i in range(60)},
        text={"s3": 5.0, "s7": 1.0},
        coverage={"s3": 1.0, "s7": 0.2},
        age_days={},
        messages={},
        centroid={},
        neighbours={},
        words_lead=0.8,
    )
    one_leaf = Trees(*(np.array(values) for values in ([-1], [0.0], [-1], [-1], [0.0], [0])), 1)
    relevance = Relevance(np.array([2.0, 2.0, 2.0, 2.0, 2.0, 1.0]), -4.0)
    _, log_odds = SecondStage(one_leaf, 1.0, 0.0, relevance).reorder(stage)
    assert set(log_odds) == {f"s{i}" for i in range(CANDIDATES)}
    assert log_odds["s3"] > log_odds["s7"] > log_odds["s20"]  # all words, then closer in meaning


@pytest.mark.slow
def test_a_search_with_a_damaged_model_answers_in_first_stage_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(REPO / "examples" / "sessions", tmp_path / "sessions")
    Index(tmp_path).sync()
    damaged = tmp_path / "ranker.json"
    damaged.write_text("{garbage")
    monkeypatch.setattr(ranker, "RANKER_FILE", damaged)
    monkeypatch.setattr(ranker, "_loaded", {})
    question = "my php site shows 502 after the upgrade"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fallback = Searcher(tmp_path).search(question, limit=5)
        first = Searcher(tmp_path, second_stage=False).search(question, limit=5)
    assert [hit.session_id for hit in fallback] == [hit.session_id for hit in first]
    assert sum("the ranking model" in str(w.message) for w in caught) == 1
