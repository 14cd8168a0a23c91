"""How the first stage's fusion holds on both dev sets, measured from cached per-candidate signals.

Each question of each set is searched once with the real indexes; what the first stage knows of every
candidate (BM25F score, dense scores, coverage, age) is cached, with the question's text. Fusion
variants are then scored in seconds, on both sets side by side, by the rule of every ranking change
(hybrid at or above words alone and meaning alone, R@5 and NDCG@10, on each set).

    python benchmarks/fusion.py                # the shipped first stage and the variants of VARIANTS
    python benchmarks/fusion.py --refresh      # search again (after a change to the indexes)
"""

from __future__ import annotations

import argparse
import json
import pickle
import statistics
import sys
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from retrieval import DEFAULT_SETS, DEFAULT_WORK, METRICS, current_index, prepare_home

from ollm_recall._time import local_day as day
from ollm_recall.index.textsearch import ANALYSIS_VERSION
from ollm_recall.search import fusion
from ollm_recall.search.question_dates import date_prior
from ollm_recall.search.searcher import DATE_WEIGHT, Searcher

CACHE_VERSION = 2


def collect(data: Path, work: Path, refresh: bool) -> list[dict]:
    """Per question: its text, gold, archive, category, and every candidate's first-stage signals."""
    cache = work / f"fusion-signals.{data.name}.analysis-{ANALYSIS_VERSION}.v{CACHE_VERSION}.pickle"
    if cache.exists() and not refresh:
        return pickle.loads(cache.read_bytes())
    queries = [json.loads(line) for line in (data / "queries.jsonl").read_text().splitlines() if line]
    by_archive: dict[str, list[dict]] = defaultdict(list)
    for query in queries:
        by_archive[query["conversation"]].append(query)
    rows = []
    for archive in sorted(by_archive):
        home = prepare_home(data, archive, work)
        searcher = Searcher(home, index=current_index(home), second_stage=False)
        searcher.keep_first_stage = True
        for query in by_archive[archive]:
            cutoff = query.get("candidate_cutoff")
            result = searcher.find(
                query["query"],
                limit=50,
                snippets=False,
                until=datetime.fromisoformat(cutoff) if cutoff else None,
            )
            stage = result.first_stage
            assert stage is not None
            sessions = searcher.index.load_manifest().sessions
            priors = {
                sid: date_prior((day(sessions[sid].start_ms), day(sessions[sid].last_ms)), result.dates)
                for sid in stage.age_days
            }
            rows.append(
                {
                    "set": data.name,
                    "archive": archive,
                    "category": str(query.get("category", "")),
                    "query": query["query"],
                    "gold": set(query["gold_session_ids"]),
                    "text": dict(stage.text),
                    "dense": dict(stage.dense),
                    "dense_best": dict(stage.dense_best),
                    "coverage": dict(stage.coverage),
                    "age": dict(stage.age_days),
                    "dates": {sid: prior for sid, prior in priors.items() if prior},
                }
            )
        searcher.close()
        print(f"{data.name}/{archive}: {len(by_archive[archive])} questions", file=sys.stderr)
    cache.write_bytes(pickle.dumps(rows))
    return rows


Variant = Callable[[dict], list[str]]


def ranked_by(scores: dict[str, float], row: dict) -> list[str]:
    """Best first, sessions active in the question's dates raised as the search raises them."""
    moved = {sid: score + DATE_WEIGHT * row["dates"].get(sid, 0.0) for sid, score in scores.items()}
    return sorted(moved, key=lambda sid: (-moved[sid], sid))


def words_alone(row: dict) -> list[str]:
    return ranked_by(dict(fusion.by_one_side(row["text"], scale_to_best=True)), row)


def meaning_alone(row: dict) -> list[str]:
    return ranked_by(row["dense"], row)


def fused(row: dict, weights: fusion.Weights) -> list[str]:
    return ranked_by(dict(fusion.fuse(row["text"], row["dense"], row["coverage"], row["age"], weights)), row)


def shipped(row: dict) -> list[str]:
    """The first stage as the search runs it."""
    return fused(row, fusion.weights_for(row["query"], row["text"]))


def fixed(text: float, recency: float, coverage: float = 0.0) -> Variant:
    """The same weights for every question."""
    return lambda row: fused(row, fusion.Weights(text=text, coverage=coverage, recency=recency))


def recency_everywhere(row: dict) -> list[str]:
    weights = fusion.weights_for(row["query"], row["text"])
    return fused(row, fusion.Weights(text=weights.text, recency=fusion.RECENCY_WEIGHT))


VARIANTS: dict[str, Variant] = {
    "words alone": words_alone,
    "meaning alone": meaning_alone,
    "previous release: 0.2 words, 0.2 recency for every question": fixed(0.2, 0.2),
    "no recency prior at all, 0.2 words": fixed(0.2, 0.0),
    "question-dependent words, recency for every question": recency_everywhere,
    "shipped: question-dependent words and recency, coverage": shipped,
}


def evaluate(rows: list[dict], variant: Variant) -> dict[str, float]:
    rankings = [(row, variant(row)) for row in rows]
    return {
        name: statistics.fmean(metric(ranked, row["gold"]) for row, ranked in rankings)
        for name, metric in METRICS.items()
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--refresh", action="store_true", help="search again instead of the cache")
    args = parser.parse_args()
    sets = {data.name: collect(data, args.work, args.refresh) for data in DEFAULT_SETS}
    print("| variant | " + " | ".join(f"{name} R@5 / NDCG@10" for name in sets) + " |")
    print("|---|" + "---|" * len(sets))
    for label, variant in VARIANTS.items():
        cells = []
        for rows in sets.values():
            figures = evaluate(rows, variant)
            cells.append(f"{figures['R@5']:.3f} / {figures['NDCG@10']:.3f}")
        print(f"| {label} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
