"""Train the second stage of the hybrid search, and say honestly how well it does on archives it never saw.

1. For every query of the dev set, the first stage (``Searcher(second_stage=False)``) ranks the
   archive as ``ollm recall`` does (``until`` = the query's cutoff); the features of its best
   ``CANDIDATES`` sessions (``ollm_recall.search.ranker.FEATURES``) and which of them are gold are kept
   (cached in the work folder: ``--refresh`` reads them again).
2. Leave-one-archive-out: for each of the ten archives, LambdaMART (LightGBM: ``pip install lightgbm``,
   needed here only) is trained on the nine others and scored on it. The table
   shows first stage and second stage per archive, per query category and overall: those are the
   figures to believe, since no archive's queries tuned the model that ranked them.
3. ``--write`` trains on all archives and writes ``ollm_recall/search/ranker.json`` (with the cross-validated
   figures in it), calibrating the score into a chance of relevance (on the ``--data`` questions).

``--also DIR`` adds another query set to learn from, held out by archive as well (LoCoMo-dev's
archives are its own; the evidence set shares RealMem's). When the sets fall into groups with no
archive in common, each group is also left out whole: a model trained on the other groups alone ranks
it (leave one set out). The shipped model also learned from the evidence set of
``evidence_queries.py``, questions that name things, where words alone are strong and a model of the
chat-opening questions alone ranked below them. Each set's held-out figures are printed, words
alone beside them.

    python benchmarks/evidence_queries.py benchmarks/out/realmem-evidence
    python benchmarks/ranker_training.py --also benchmarks/out/realmem-evidence           # the tables
    python benchmarks/ranker_training.py --also benchmarks/out/realmem-evidence --write   # and the model
    python benchmarks/ranker_training.py --also benchmarks/out/realmem-evidence \
        --also ../shared/dev-eval/locomo-dev                                            # both styles
"""

from __future__ import annotations

import argparse
import json
import math
import pickle
import statistics
import sys
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import numpy as np
from lightgbm_trees import trees_from_lightgbm
from retrieval import DEFAULT_DATA, DEFAULT_WORK, METRICS, current_index, prepare_home

from ollm_recall._time import local_day as day
from ollm_recall.index.textsearch import ANALYSIS_VERSION
from ollm_recall.search.question_dates import date_prior
from ollm_recall.search.ranker import (
    BASE_FEATURES,
    CANDIDATES,
    FEATURES,
    FORMAT,
    RANKER_FILE,
    RELEVANCE_FEATURES,
    Relevance,
    SecondStage,
    feature_matrix,
    with_relative,
)
from ollm_recall.search.searcher import DATE_LOG_ODDS, RELEVANCE_FLOOR, Searcher

RELEVANCE_LOG_ODDS_FLOOR = math.log(RELEVANCE_FLOOR / (1 - RELEVANCE_FLOOR))
RISING = frozenset(
    {
        "dense",
        "dense_best",
        "text",
        "coverage",
        "dense_rank",
        "text_rank",
        "fused",
        "centroid",
        "dense_gap",
        "text_gap",
        "centroid_gap",
        "fused_gap",
        "dense_z",
    }
)
"""Features a session's score may only rise with (LightGBM's monotone constraints): closer by meaning
or by words is never worse. Unconstrained, trees learn dips from a few questions that need not hold
elsewhere."""
LAMBDAMART = {
    "objective": "lambdarank",
    "n_estimators": 150,
    "learning_rate": 0.05,
    "num_leaves": 7,
    "min_child_samples": 50,
    "subsample": 0.8,
    "subsample_freq": 1,
    "colsample_bytree": 0.8,
    "monotone_constraints": [int(name in RISING) for name in FEATURES],
    "monotone_constraints_method": "advanced",
    "verbose": -1,
}
"""Small trees, few of them: 1,415 questions are little data, and the model must hold on archives it
never saw (tried: 200 trees of 15 leaves, R@5 0.666 against 0.671 for these)."""


def collect(data: Path, work: Path, refresh: bool, against: Path | None = None) -> list[dict]:
    """Per query: archive, category, gold, candidate ids, features, each candidate's date prior, and
    the rankings of the first stage and of words alone (BM25F).

    With ``against``, each query is asked of an archive of that other set instead (in turn), where
    nothing is relevant: the negatives that calibrate relevance (gold is then empty)."""
    suffix = f".against-{against.name}" if against else ""
    cache = work / f"second-stage-features.{data.name}{suffix}.analysis-{ANALYSIS_VERSION}.v{FORMAT}.pickle"
    if cache.exists() and not refresh:
        return pickle.loads(cache.read_bytes())
    queries = [json.loads(line) for line in (data / "queries.jsonl").read_text().splitlines() if line]
    by_archive: dict[str, list[dict]] = defaultdict(list)
    if against is None:
        for query in queries:
            by_archive[query["conversation"]].append(query)
    else:
        foreign = sorted(path.name for path in (against / "archives").iterdir() if path.is_dir())
        for number, query in enumerate(queries):
            by_archive[foreign[number % len(foreign)]].append(
                {**query, "gold_session_ids": [], "asked": True}
            )
    source = against or data
    rows = []
    for archive in sorted(by_archive):
        home = prepare_home(source, archive, work)
        index = current_index(home)
        searcher = Searcher(home, index=index, second_stage=False)
        searcher.keep_first_stage = True
        sessions = index.load_manifest().sessions
        for query in by_archive[archive]:
            cutoff = query.get("candidate_cutoff") if against is None else None
            result = searcher.find(
                query["query"],
                limit=CANDIDATES,
                mode="hybrid",
                snippets=False,
                until=datetime.fromisoformat(cutoff) if cutoff else None,
            )
            hits, stage = result.hits, result.first_stage
            assert stage is not None
            ids, matrix = feature_matrix(stage)
            days = {sid: (day(sessions[sid].start_ms), day(sessions[sid].last_ms)) for sid in ids}
            rows.append(
                {
                    "archive": archive,
                    "asked_in": query["conversation"],
                    "category": query.get("category", ""),
                    "gold": set(query["gold_session_ids"]),
                    "ids": ids,
                    "x": matrix,
                    "dates": np.array([date_prior(days[sid], result.dates) for sid in ids]),
                    "first": [hit.session_id for hit in hits],
                    "text": sorted(stage.text, key=lambda sid: (-stage.text[sid], sid)),
                }
            )
        searcher.close()
        print(f"{archive}: {len(by_archive[archive])} queries", file=sys.stderr)
    cache.write_bytes(pickle.dumps(rows))
    return rows


def labels_of(rows: list[dict]) -> np.ndarray:
    return np.concatenate([[int(sid in row["gold"]) for sid in row["ids"]] for row in rows])


def fit_logistic(x: np.ndarray, labels: np.ndarray, ridge: float = 1e-4) -> np.ndarray:
    """Weights (the intercept last) of a logistic regression, by Newton's method."""
    x = np.c_[x, np.ones(len(x))]
    weights = np.zeros(x.shape[1])
    for _ in range(30):
        p = 1.0 / (1.0 + np.exp(-(x @ weights)))
        gradient = x.T @ (p - labels) / len(labels) + ridge * weights
        hessian = (x.T * (p * (1 - p))) @ x / len(labels) + ridge * np.eye(len(weights))
        weights -= np.linalg.solve(hessian, gradient)
    return weights


def fit_relevance(rows: list[dict]) -> Relevance:
    """The estimate of relevance, from every candidate of ``rows`` (questions with their answer in the
    archive, and negatives asked where nothing is relevant)."""
    columns = [FEATURES.index(name) for name in RELEVANCE_FEATURES]
    x = np.concatenate([row["x"][:, columns] for row in rows])
    weights = fit_logistic(x, labels_of(rows).astype(float))
    return Relevance(weights[:-1], float(weights[-1]))


def relevance_of(model: SecondStage, row: dict) -> np.ndarray:
    """Each candidate's estimated chance of relevance, date words counted as the search counts them."""
    assert model.relevance is not None
    odds = model.relevance.log_odds(row["x"])
    dates = np.where(odds >= RELEVANCE_LOG_ODDS_FLOOR, row["dates"], 0.0)
    return 1.0 / (1.0 + np.exp(-(odds + DATE_LOG_ODDS * dates)))


def train(
    rows: list[dict],
    seed: int = 0,
    calibrate_on: list[dict] | None = None,
    negatives: list[dict] | None = None,
) -> tuple[SecondStage, object]:
    """LambdaMART on the rows' candidates (LightGBM), its trees as arrays, and a logistic calibration
    of its score (on ``calibrate_on``, else the same rows); with ``negatives``, the estimate of
    relevance too (fitted on the rows and the negatives); also the LightGBM booster, to check the
    arrays against."""
    import lightgbm

    x = np.concatenate([row["x"] for row in rows])
    booster = (
        lightgbm.LGBMRanker(**LAMBDAMART, random_state=seed)
        .fit(x, labels_of(rows), group=[len(row["ids"]) for row in rows])
        .booster_
    )
    trees = trees_from_lightgbm(booster.dump_model())
    if np.abs(trees.predict(x) - booster.predict(x)).max() > 1e-6:
        raise SystemExit("the tree arrays do not score as LightGBM does")
    calibration = calibrate_on or rows
    raw = trees.predict(np.concatenate([row["x"] for row in calibration]))
    labels = labels_of(calibration).astype(float)
    slope, intercept = 1.0, 0.0
    for _ in range(100):  # a one-feature logistic regression, by Newton's method
        p = 1.0 / (1.0 + np.exp(-(slope * raw + intercept)))
        g = np.array([((p - labels) * raw).mean(), (p - labels).mean()])
        w = p * (1 - p)
        h = np.array([[(w * raw * raw).mean(), (w * raw).mean()], [(w * raw).mean(), w.mean()]])
        h += 1e-9 * np.eye(2)
        slope, intercept = np.array([slope, intercept]) - np.linalg.solve(h, g)
    relevance = fit_relevance(rows + negatives) if negatives is not None else None
    return SecondStage(trees, float(slope), float(intercept), relevance), booster


def chances(model: SecondStage, row: dict) -> np.ndarray:
    """Each candidate's chance of relevance, with the question's date words counted as the search
    counts them (its odds multiplied by e^(DATE_LOG_ODDS x prior))."""
    dates = row["dates"]
    if model.relevance is not None:  # as the search does: the dates lift only sessions likely relevant
        dates = np.where(model.relevance.log_odds(row["x"]) >= RELEVANCE_LOG_ODDS_FLOOR, dates, 0.0)
    log_odds = model.slope * model.scores(row["x"]) + model.intercept + DATE_LOG_ODDS * dates
    return 1.0 / (1.0 + np.exp(-log_odds))


def reranked(model: SecondStage, row: dict) -> list[str]:
    order = np.lexsort((np.arange(len(row["ids"])), -chances(model, row)))
    head = [row["ids"][i] for i in order]
    return head + [sid for sid in row["first"] if sid not in head]


def score(rankings: list[tuple[dict, list[str]]]) -> dict[str, float]:
    return {
        name: statistics.fmean(metric(ranked, row["gold"]) for row, ranked in rankings)
        for name, metric in METRICS.items()
    }


Ranked = list[tuple[dict, list[str]]]


def cross_validate(
    sets: dict[str, list[dict]], negatives: list[dict] | None = None
) -> dict[str, tuple[dict, Ranked, Ranked]]:
    """For each archive, a model trained on every set's questions of the other archives ranks each
    set's questions of this one; per set: per-archive scores, and the first and second stage's rankings.

    ``negatives`` (questions asked of another set's archive) train each model's estimate of relevance,
    but never one that ranks their question's archive or the archive they were asked of; every row
    gets the held-out model's order and relevance (``held_order``, ``held_relevance``)."""
    results: dict[str, tuple[dict, Ranked, Ranked]] = {name: ({}, [], []) for name in sets}
    every = [row for rows in sets.values() for row in rows]
    negatives = negatives or []
    for archive in sorted({row["archive"] for row in every}):
        kept = [row for row in negatives if archive not in (row["archive"], row["asked_in"])]
        model, _ = train([row for row in every if row["archive"] != archive], negatives=kept)
        for row in every:
            if row["archive"] == archive:
                row["held_order"] = reranked(model, row)
                row["held_relevance"] = relevance_of(model, row)
        for row in negatives:
            if row["asked_in"] == archive:
                row["held_relevance"] = relevance_of(model, row)
        for name, rows in sets.items():
            held = [row for row in rows if row["archive"] == archive]
            if not held:
                continue
            per_archive, first_all, second_all = results[name]
            first = [(row, row["first"]) for row in held]
            second = [(row, reranked(model, row)) for row in held]
            per_archive[archive] = (score(first), score(second), len(held))
            first_all += first
            second_all += second
    return results


def relevance_table(sets: dict[str, list[dict]], negatives: list[dict], most: int = 3) -> None:
    """How a threshold on the held-out relevance decides automatic recall: per set, the share of
    questions whose recalled sessions (of the ``most`` first, those at or above the threshold) include
    a gold one, and the share of questions asked of another set's archive that recall anything."""
    thresholds = (0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5)
    print(f"\n{'recall at relevance >=':<24}" + "".join(f"{t:>7}" for t in thresholds))
    for name, rows in sets.items():
        cells = []
        for threshold in thresholds:
            found = 0
            for row in rows:
                relevance = dict(zip(row["ids"], row["held_relevance"], strict=True))
                found += any(
                    relevance[sid] >= threshold and sid in row["gold"] for sid in row["held_order"][:most]
                )
            cells.append(found / len(rows))
        print(f"{name + ', gold':<24}" + "".join(f"{value:>7.3f}" for value in cells))
    for name in sets:
        asked = [row for row in negatives if row["set"] == name]
        if asked:
            cells = [
                statistics.fmean(row["held_relevance"].max(initial=0.0) >= t for row in asked)
                for t in thresholds
            ]
            print(f"{name + ', elsewhere':<24}" + "".join(f"{value:>7.3f}" for value in cells))


def set_groups(sets: dict[str, list[dict]]) -> list[list[str]]:
    """The sets grouped by shared archives (RealMem and its evidence questions are one group): a
    set left out takes the sets over its archives with it, or their sessions would be seen."""
    groups: list[tuple[set[str], list[str]]] = []
    for name, rows in sets.items():
        archives = {row["archive"] for row in rows}
        joined = [group for group in groups if group[0] & archives]
        for group in joined:
            groups.remove(group)
            archives |= group[0]
        groups.append((archives, [n for group in joined for n in group[1]] + [name]))
    return [names for _, names in groups]


def leave_set_out(sets: dict[str, list[dict]]) -> dict[str, dict[str, dict[str, float]]]:
    """For each group of sets, a model trained on the other groups alone ranks its questions: how a
    second stage does on a style of question it never learned from."""
    found: dict[str, dict[str, dict[str, float]]] = {}
    groups = set_groups(sets)
    for group in groups if len(groups) > 1 else []:
        model, _ = train([row for name, rows in sets.items() if name not in group for row in rows])
        for name in group:
            rows = sets[name]
            found[name] = {
                "first stage": score([(row, row["first"]) for row in rows]),
                "second stage": score([(row, reranked(model, row)) for row in rows]),
            }
            if all("text" in row for row in rows):
                found[name] = {"words alone": score([(row, row["text"]) for row in rows]), **found[name]}
    return found


def by_words(title: str, second: Ranked) -> None:
    """Per archive: words alone against the second stage (held out), R@5 and NDCG@10."""
    print(f"\n{title:<24}{'n':>6}{'R@5 words':>11}{'second':>8}{'NDCG@10 words':>15}{'second':>8}")
    for archive in sorted({row["archive"] for row, _ in second}):
        held = [(row, ranked) for row, ranked in second if row["archive"] == archive]
        if not all("text" in row for row, _ in held):
            return
        words, ours = score([(row, row["text"]) for row, _ in held]), score(held)
        print(
            f"{archive:<24}{len(held):>6}{words['R@5']:>11.3f}{ours['R@5']:>8.3f}"
            f"{words['NDCG@10']:>15.3f}{ours['NDCG@10']:>8.3f}"
        )


def overall(title: str, rows: list[dict], first: Ranked, second: Ranked) -> dict[str, dict[str, float]]:
    """Print and return the held-out scores of words alone, the first stage and the second."""
    scores = {"first stage": score(first), "second stage": score(second)}
    if all("text" in row for row in rows):  # caches of older versions did not keep it
        scores = {"words alone": score([(row, row["text"]) for row in rows]), **scores}
    print(f"\n{title:<24}" + "".join(f"{name:>9}" for name in METRICS))
    for name, values in scores.items():
        print(f"{name:<24}" + "".join(f"{values[n]:>9.3f}" for n in METRICS))
    return scores


def load(data: Path, work: Path, refresh: bool) -> list[dict]:
    rows = collect(data, work, refresh)
    for row in rows:  # cached by an older version with the base features only
        if row["x"].shape[1] == len(BASE_FEATURES):
            row["x"] = with_relative(row["x"])
    return rows


def table(title: str, groups: dict[str, tuple[dict, dict, int]]) -> None:
    print(f"\n{title:<24}{'n':>6}{'R@5 first':>11}{'second':>8}{'NDCG@10 first':>15}{'second':>8}")
    for name, (first, second, count) in groups.items():
        print(
            f"{name:<24}{count:>6}{first['R@5']:>11.3f}{second['R@5']:>8.3f}"
            f"{first['NDCG@10']:>15.3f}{second['NDCG@10']:>8.3f}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--refresh", action="store_true", help="read the candidates' features again")
    parser.add_argument("--write", action="store_true", help=f"write {RANKER_FILE.name} trained on all")
    parser.add_argument(
        "--also",
        type=Path,
        action="append",
        default=[],
        help="another query set to learn from (a data folder)",
    )
    parser.add_argument(
        "--negatives",
        action="store_true",
        help="also ask each set's questions of the other set's archives, to calibrate relevance",
    )
    args = parser.parse_args()
    sets = {args.data.name: load(args.data, args.work, args.refresh)}
    for folder in args.also:
        if folder.name in sets:
            raise SystemExit(f"two query sets named {folder.name}")
        sets[folder.name] = load(folder, args.work, args.refresh)
    negatives = []
    if args.negatives:
        folders = {args.data.name: args.data, **{folder.name: folder for folder in args.also}}
        groups = set_groups(sets)
        for names in groups:
            other = next((g for g in groups if g is not names), None)
            if other is None:
                break
            for name in names:
                asked = collect(folders[name], args.work, args.refresh, against=folders[other[0]])
                negatives += [{**row, "set": name} for row in asked]
    results = cross_validate(sets, negatives)
    rows = sets[args.data.name]
    per_archive, first, second = results[args.data.name]
    table("archive (held out)", per_archive)
    categories = defaultdict(lambda: ([], []))
    for (row, ranked_first), (_, ranked_second) in zip(first, second, strict=True):
        categories[row["category"]][0].append((row, ranked_first))
        categories[row["category"]][1].append((row, ranked_second))
    table("category", {name: (score(a), score(b), len(a)) for name, (a, b) in sorted(categories.items())})
    validated = {
        name: overall(f"{name}, held out", sets[name], first_ranked, second_ranked)
        for name, (_, first_ranked, second_ranked) in results.items()
    }
    for name in args.also:
        by_words(f"{name.name} (held out)", results[name.name][2])
    if negatives:
        relevance_table(sets, negatives)
    for name, scores in leave_set_out(sets).items():
        print(f"\n{name + ', set left out':<24}" + "".join(f"{metric:>9}" for metric in METRICS))
        for ranking, values in scores.items():
            print(f"{ranking:<24}" + "".join(f"{values[metric]:>9.3f}" for metric in METRICS))
    if args.write:
        if not negatives:
            raise SystemExit("--write needs --negatives: the shipped model estimates relevance too")
        model, booster = train(
            [row for set_rows in sets.values() for row in set_rows], calibrate_on=rows, negatives=negatives
        )
        sample = np.concatenate([row["x"] for row in rows[:3]])[:8]
        document = model.to_json(
            checks={"inputs": sample.tolist(), "outputs": booster.predict(sample).tolist()},
            trained_on=", ".join(f"{name}: {len(set_rows)} queries" for name, set_rows in sets.items())
            + f"; {len(per_archive)} archives; calibrated on {args.data.name}",
            cross_validated={
                "method": "leave one archive out",
                **rounded(validated[args.data.name]),
                "also": {name: rounded(found) for name, found in validated.items() if name != args.data.name},
            },
        )
        RANKER_FILE.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
        print(f"\nwrote {RANKER_FILE}: {len(model.trees.roots)} trees, {len(model.trees.feature)} nodes")
    return 0


def rounded(scores: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """Scores by ranking ("first stage") as JSON keys ("first_stage"), to four places."""
    return {
        ranking.replace(" ", "_"): {name: round(value, 4) for name, value in values.items()}
        for ranking, values in scores.items()
    }


if __name__ == "__main__":
    raise SystemExit(main())
