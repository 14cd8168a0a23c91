"""Train the second stage of the hybrid search, and say honestly how well it does on archives it never saw.

1. For every query of the dev set, the first stage (``Searcher(second_stage=False)``) ranks the
   archive as ``ollm recall`` does (``until`` = the query's cutoff); the features of its best
   ``CANDIDATES`` sessions (``ollm_recall.ranker.FEATURES``) and which of them are gold are kept
   (cached in the work folder: ``--refresh`` reads them again).
2. Leave-one-archive-out: for each of the ten archives, LambdaMART (LightGBM: ``pip install lightgbm``,
   needed here only) is trained on the nine others and scored on it. The table
   shows first stage and second stage per archive, per query category and overall: those are the
   figures to believe, since no archive's queries tuned the model that ranked them.
3. ``--write`` trains on all archives and writes ``ollm_recall/ranker.json`` (with the cross-validated
   figures in it), calibrating the score into a chance of relevance.

    python benchmarks/ranker_training.py                 # cross-validation table only
    python benchmarks/ranker_training.py --write         # and the shipped model
"""

from __future__ import annotations

import argparse
import json
import pickle
import statistics
import sys
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import numpy as np
from retrieval import DEFAULT_DATA, DEFAULT_WORK, METRICS, current_index, prepare_home

from ollm_recall.ranker import (
    BASE_FEATURES,
    CANDIDATES,
    RANKER_FILE,
    SecondStage,
    feature_matrix,
    trees_from_lightgbm,
    with_relative,
)
from ollm_recall.search import Searcher
from ollm_recall.textsearch import ANALYSIS_VERSION

LAMBDAMART = {"objective": "lambdarank", "n_estimators": 150, "learning_rate": 0.05, "num_leaves": 7,
              "min_child_samples": 50, "subsample": 0.8, "subsample_freq": 1, "colsample_bytree": 0.8,
              "verbose": -1}
"""Small trees, few of them: 1,415 questions are little data, and the model must hold on archives it
never saw (tried: 200 trees of 15 leaves, R@5 0.666 against 0.671 for these)."""


def collect(data: Path, work: Path, refresh: bool) -> list[dict]:
    """Per query: archive, category, gold, candidate ids, features, and the first stage's ranking."""
    cache = work / f"second-stage-features.analysis-{ANALYSIS_VERSION}.pickle"  # of the index's words
    if cache.exists() and not refresh:
        return pickle.loads(cache.read_bytes())
    queries = [json.loads(line) for line in (data / "queries.jsonl").read_text().splitlines() if line]
    by_archive: dict[str, list[dict]] = defaultdict(list)
    for query in queries:
        by_archive[query["conversation"]].append(query)
    rows = []
    for archive in sorted(by_archive):
        home = prepare_home(data, archive, work)
        index = current_index(home)
        searcher = Searcher(home, index=index, second_stage=False)
        searcher.keep_first_stage = True
        for query in by_archive[archive]:
            cutoff = query.get("candidate_cutoff")
            hits = searcher.search(query["query"], limit=CANDIDATES, mode="hybrid", snippets=False,
                                   until=datetime.fromisoformat(cutoff) if cutoff else None)
            stage = searcher.last_stage
            assert stage is not None
            ids, matrix = feature_matrix(stage)
            rows.append({"archive": archive, "category": query.get("category", ""),
                         "gold": set(query["gold_session_ids"]), "ids": ids, "x": matrix,
                         "first": [hit.session_id for hit in hits]})
        searcher.close()
        print(f"{archive}: {len(by_archive[archive])} queries", file=sys.stderr)
    cache.write_bytes(pickle.dumps(rows))
    return rows


def train(rows: list[dict], seed: int = 0) -> tuple[SecondStage, object]:
    """LambdaMART on the rows' candidates (LightGBM), its trees as arrays, and a logistic calibration
    of its score; also the LightGBM booster, to check the arrays against."""
    import lightgbm

    x = np.concatenate([row["x"] for row in rows])
    y = np.concatenate([[int(sid in row["gold"]) for sid in row["ids"]] for row in rows])
    booster = lightgbm.LGBMRanker(**LAMBDAMART, random_state=seed).fit(
        x, y, group=[len(row["ids"]) for row in rows]).booster_
    trees = trees_from_lightgbm(booster.dump_model())
    raw = trees.predict(x)
    if np.abs(raw - booster.predict(x)).max() > 1e-6:
        raise SystemExit("the tree arrays do not score as LightGBM does")
    labels = y.astype(float)
    slope, intercept = 1.0, 0.0
    for _ in range(100):  # a one-feature logistic regression, by Newton's method
        p = 1.0 / (1.0 + np.exp(-(slope * raw + intercept)))
        g = np.array([((p - labels) * raw).mean(), (p - labels).mean()])
        w = p * (1 - p)
        h = np.array([[(w * raw * raw).mean(), (w * raw).mean()], [(w * raw).mean(), w.mean()]])
        h += 1e-9 * np.eye(2)
        slope, intercept = np.array([slope, intercept]) - np.linalg.solve(h, g)
    return SecondStage(trees, float(slope), float(intercept)), booster


def reranked(model: SecondStage, row: dict) -> list[str]:
    order = np.lexsort((np.arange(len(row["ids"])), -model.scores(row["x"])))
    head = [row["ids"][i] for i in order]
    return head + [sid for sid in row["first"] if sid not in head]


def score(rankings: list[tuple[dict, list[str]]]) -> dict[str, float]:
    return {name: statistics.fmean(metric(ranked, row["gold"]) for row, ranked in rankings)
            for name, metric in METRICS.items()}


Ranked = list[tuple[dict, list[str]]]


def cross_validate(rows: list[dict]) -> tuple[dict, Ranked, Ranked]:
    per_archive = {}
    first_all, second_all = [], []
    for archive in sorted({row["archive"] for row in rows}):
        held = [row for row in rows if row["archive"] == archive]
        model, _ = train([row for row in rows if row["archive"] != archive])
        first = [(row, row["first"]) for row in held]
        second = [(row, reranked(model, row)) for row in held]
        per_archive[archive] = (score(first), score(second), len(held))
        first_all += first
        second_all += second
    return per_archive, first_all, second_all


def table(title: str, groups: dict[str, tuple[dict, dict, int]]) -> None:
    print(f"\n{title:<24}{'n':>6}{'R@5 first':>11}{'second':>8}{'NDCG@10 first':>15}{'second':>8}")
    for name, (first, second, count) in groups.items():
        print(f"{name:<24}{count:>6}{first['R@5']:>11.3f}{second['R@5']:>8.3f}"
              f"{first['NDCG@10']:>15.3f}{second['NDCG@10']:>8.3f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--refresh", action="store_true", help="read the candidates' features again")
    parser.add_argument("--write", action="store_true", help=f"write {RANKER_FILE.name} trained on all")
    args = parser.parse_args()
    rows = collect(args.data, args.work, args.refresh)
    for row in rows:  # cached by an older version with the base features only
        if row["x"].shape[1] == len(BASE_FEATURES):
            row["x"] = with_relative(row["x"])
    per_archive, first, second = cross_validate(rows)
    table("archive (held out)", per_archive)
    categories = defaultdict(lambda: ([], []))
    for (row, ranked_first), (_, ranked_second) in zip(first, second, strict=True):
        categories[row["category"]][0].append((row, ranked_first))
        categories[row["category"]][1].append((row, ranked_second))
    table("category", {name: (score(a), score(b), len(a)) for name, (a, b) in sorted(categories.items())})
    overall_first, overall_second = score(first), score(second)
    print(f"\n{'all queries, held out':<24}" + "".join(f"{name:>9}" for name in METRICS))
    print(f"{'first stage':<24}" + "".join(f"{overall_first[n]:>9.3f}" for n in METRICS))
    print(f"{'second stage':<24}" + "".join(f"{overall_second[n]:>9.3f}" for n in METRICS))
    if args.write:
        model, booster = train(rows)
        sample = np.concatenate([row["x"] for row in rows[:3]])[:8]
        document = model.to_json(
            checks={"inputs": sample.tolist(), "outputs": booster.predict(sample).tolist()},
            trained_on=f"{args.data.name}: {len(rows)} queries, {len(per_archive)} archives",
            cross_validated={"method": "leave one archive out",
                             "first_stage": {k: round(v, 4) for k, v in overall_first.items()},
                             "second_stage": {k: round(v, 4) for k, v in overall_second.items()}},
        )
        RANKER_FILE.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
        print(f"\nwrote {RANKER_FILE}: {len(model.trees.roots)} trees, {len(model.trees.feature)} nodes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
