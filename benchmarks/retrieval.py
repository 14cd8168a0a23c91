"""Retrieval quality of the project's real search on session-archive benchmarks: by default both dev
sets, RealMem (new-chat openers that continue earlier work) and LoCoMo-dev (quiz-like questions naming
people and events), each reported on its own, since a ranking change counts only if it holds on each.

A data folder holds ``archives/<name>/*.json`` (one archive per user, in the session format) and
``queries.jsonl`` (``id``, ``query``, ``gold_session_ids``, ``conversation`` = archive name, optional
``candidate_cutoff`` and ``category``). Each archive is indexed once into a work folder (kept, and
updated incrementally on later runs); each query is searched with ``until=candidate_cutoff``, so only
sessions that started before it can be ranked. Prints R@1, R@5, R@10, NDCG@10 and MRR per mode, with
``hybrid`` twice: its first stage alone and with the learned second stage; whether the hybrid is at
or above words alone and meaning alone on R@5 and NDCG@10 (the rule for every ranking change); then
R@5 / NDCG@10 per archive and per query category (any value: a string or a number); last, the second
stage's leave-one-archive-out figures recorded in ``ollm_recall/search/ranker.json`` (the shipped model
was trained on RealMem, so its rows there are in-sample: the cross-validated row is the one to believe).

    python benchmarks/retrieval.py                                   # realmem and locomo-dev
    python benchmarks/retrieval.py --data DIR --mode hybrid --rankings-out ranks.jsonl
    python benchmarks/retrieval.py --variant int8 --work benchmarks/out/retrieval-int8
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ollm_recall.embedding.embedder import DEFAULT_VARIANT, VARIANTS
from ollm_recall.errors import IndexProblem
from ollm_recall.index.indexer import Index
from ollm_recall.index.textsearch import ANALYSIS_VERSION
from ollm_recall.search.ranker import RANKER_FILE
from ollm_recall.search.results import MODES
from ollm_recall.search.searcher import Searcher

REPO = Path(__file__).resolve().parent.parent
DEV_EVAL = REPO.parent / "shared" / "dev-eval"
DEFAULT_DATA = DEV_EVAL / "realmem"
DEFAULT_SETS = (DEFAULT_DATA, DEV_EVAL / "locomo-dev")
"""The dev sets a ranking change is measured on, always together."""
DEFAULT_WORK = REPO / "benchmarks" / "out" / "retrieval"
FIRST_STAGE = "hybrid-1st"
"""The hybrid search without its learned second stage."""


def recall_at(ranked: list[str], gold: set[str], k: int) -> float:
    return len(gold & set(ranked[:k])) / len(gold)


def ndcg_at_10(ranked: list[str], gold: set[str]) -> float:
    dcg = sum(1 / math.log2(rank + 2) for rank, sid in enumerate(ranked[:10]) if sid in gold)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(len(gold), 10)))
    return dcg / ideal


def reciprocal_rank(ranked: list[str], gold: set[str]) -> float:
    return next((1 / (rank + 1) for rank, sid in enumerate(ranked) if sid in gold), 0.0)


METRICS = {
    "R@1": lambda r, g: recall_at(r, g, 1),
    "R@5": lambda r, g: recall_at(r, g, 5),
    "R@10": lambda r, g: recall_at(r, g, 10),
    "NDCG@10": ndcg_at_10,
    "MRR": reciprocal_rank,
}


def prepare_home(data: Path, archive: str, work: Path) -> Path:
    """A home whose sessions folder mirrors the archive (copied once, refreshed if it changed)."""
    home = work / archive
    sessions = home / "sessions"
    source = sorted((data / "archives" / archive).glob("*.json"))
    sessions.mkdir(parents=True, exist_ok=True)
    present = {p.name for p in sessions.glob("*.json")}
    wanted = {p.name for p in source}
    for name in present - wanted:
        (sessions / name).unlink()
    for path in source:
        target = sessions / path.name
        if not target.exists() or target.stat().st_size != path.stat().st_size:
            shutil.copyfile(path, target)
    return home


def current_index(home: Path, variant: str | None = None) -> Index:
    """The home's index, brought up to date, and built again when it is of an older format or word
    analysis (a search would answer from it, and the figures would be of the old ranking)."""
    index = Index(home, variant=variant)
    try:
        outdated = index.load_manifest().analysis < ANALYSIS_VERSION
    except IndexProblem as problem:  # missing, or of an older format
        outdated = index.manifest_path.exists()
        if outdated:
            print(f"{home.name}: {problem}", file=sys.stderr)
    if outdated:
        print(f"{home.name}: built again with the current word analysis", file=sys.stderr)
    report = index.sync(rebuild=outdated)
    print(f"{home.name}: {report.summary()}", file=sys.stderr)
    return index


@dataclass
class SetResult:
    """One data set's figures: metric values per mode, R@5 / NDCG@10 pairs per mode and group (an
    archive or a category), search latencies per mode, and the rankings of the first mode."""

    name: str
    queries: int
    archives: int
    scores: dict[str, dict[str, list[float]]]
    groups: dict[str, dict[str, list[tuple[float, float]]]]
    latencies: dict[str, list[float]]
    rankings: list[dict]


def evaluate(data: Path, work: Path, modes: list[str], *, limit: int, variant: str) -> SetResult:
    """Index each archive of ``data`` (incrementally) and search every query in every mode."""
    queries = [json.loads(line) for line in (data / "queries.jsonl").read_text().splitlines() if line]
    by_archive: dict[str, list[dict]] = defaultdict(list)
    for query in queries:
        by_archive[query["conversation"]].append(query)
    scores: dict[str, dict[str, list[float]]] = {m: defaultdict(list) for m in modes}
    groups: dict[str, dict[str, list[tuple[float, float]]]] = {m: defaultdict(list) for m in modes}
    latencies: dict[str, list[float]] = defaultdict(list)
    rankings: list[dict] = []
    for archive in sorted(by_archive):
        home = prepare_home(data, archive, work)
        index = current_index(home, variant)
        searchers = {mode: Searcher(home, index=index, second_stage=mode != FIRST_STAGE) for mode in modes}
        for query in by_archive[archive]:
            gold = set(query["gold_session_ids"])
            cutoff = query.get("candidate_cutoff")
            until = datetime.fromisoformat(cutoff) if cutoff else None
            category = query.get("category")
            for mode in modes:
                started = time.perf_counter()
                hits = searchers[mode].search(
                    query["query"],
                    limit=limit,
                    until=until,
                    snippets=False,
                    mode="hybrid" if mode == FIRST_STAGE else mode,  # type: ignore[arg-type]
                )
                latencies[mode].append(time.perf_counter() - started)
                ranked = [hit.session_id for hit in hits]
                for name, metric in METRICS.items():
                    scores[mode][name].append(metric(ranked, gold))
                pair = (METRICS["R@5"](ranked, gold), METRICS["NDCG@10"](ranked, gold))
                groups[mode][archive].append(pair)
                groups[mode]["(none)" if category in (None, "") else str(category)].append(pair)
                if mode == modes[0]:
                    rankings.append({"id": query["id"], "ranked_session_ids": ranked})
        for searcher in searchers.values():
            searcher.close()
    return SetResult(data.name, len(queries), len(by_archive), scores, groups, latencies, rankings)


def rule_line(result: SetResult) -> str | None:
    """Whether the hybrid is at or above text and semantic on R@5 and NDCG@10, as a line to print."""
    if not {"hybrid", "text", "semantic"} <= set(result.scores):
        return None
    below = [
        f"{metric} {statistics.fmean(result.scores['hybrid'][metric]):.3f} < {other} "
        f"{statistics.fmean(result.scores[other][metric]):.3f}"
        for other in ("text", "semantic")
        for metric in ("R@5", "NDCG@10")
        if statistics.fmean(result.scores["hybrid"][metric]) < statistics.fmean(result.scores[other][metric])
    ]
    if not below:
        return "rule: hybrid >= text and >= semantic on R@5 and NDCG@10: holds"
    return "rule: hybrid >= text and >= semantic on R@5 and NDCG@10: FAILS (" + "; ".join(below) + ")"


def report(result: SetResult, modes: list[str]) -> None:
    print(f"{result.queries} queries, {result.archives} archives ({result.name})")
    print(f"{'mode':<13}" + "".join(f"{name:>9}" for name in METRICS) + f"{'p50 ms':>9}")
    for mode in modes:
        row = "".join(f"{statistics.fmean(result.scores[mode][name]):>9.3f}" for name in METRICS)
        print(f"{mode:<13}{row}{statistics.median(result.latencies[mode]) * 1000:>9.1f}")
    rule = rule_line(result)
    if rule:
        print(rule)
    print("\nR@5 / NDCG@10 by archive and by category")
    print(f"{'':<26}" + "".join(f"{mode:>16}" for mode in modes))
    for name in sorted(result.groups[modes[0]]):
        cells = []
        for mode in modes:
            pairs = result.groups[mode][name]
            recall5, ndcg = statistics.fmean(p[0] for p in pairs), statistics.fmean(p[1] for p in pairs)
            cells.append(f"{recall5:.3f}/{ndcg:.3f}")
        print(f"{name[:25]:<26}" + "".join(f"{cell:>16}" for cell in cells))


def rankings_path(path: Path, set_name: str, sets: int) -> Path:
    """Where a set's rankings go: ``path`` itself for one set, else ``<stem>.<set><suffix>`` beside it."""
    return path if sets == 1 else path.with_name(f"{path.stem}.{set_name}{path.suffix}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data",
        type=Path,
        action="append",
        help="benchmark folder, repeat for several (default: realmem and locomo-dev)",
    )
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help="where indexes are kept")
    parser.add_argument("--mode", action="append", choices=MODES, help="modes to run (default: all)")
    parser.add_argument(
        "--rankings-out",
        type=Path,
        help="JSONL rankings of the first mode (several sets: one file a set, named before the suffix)",
    )
    parser.add_argument("--limit", type=int, default=10, help="ranked sessions per query")
    parser.add_argument(
        "--variant",
        choices=VARIANTS,
        default=DEFAULT_VARIANT,
        help="embedding model variant (keep a --work folder per variant)",
    )
    args = parser.parse_args()
    sets = args.data or list(DEFAULT_SETS)
    missing = [str(data) for data in sets if not (data / "queries.jsonl").is_file()]
    if missing:
        raise SystemExit(f"no queries.jsonl in {', '.join(missing)}")
    modes = args.mode or ["hybrid", "text", "semantic"]
    if "hybrid" in modes:
        modes.insert(modes.index("hybrid") + 1, FIRST_STAGE)
    for number, data in enumerate(sets):
        result = evaluate(data, args.work, modes, limit=args.limit, variant=args.variant)
        if number:
            print()
        report(result, modes)
        if args.rankings_out:
            target = rankings_path(args.rankings_out, result.name, len(sets))
            target.write_text("".join(json.dumps(r) + "\n" for r in result.rankings))
    try:
        validated = json.loads(RANKER_FILE.read_text())["cross_validated"]
        print(
            f"\nsecond stage, {validated['method']} (benchmarks/ranker_training.py): "
            + ", ".join(f"{k} {v:.3f}" for k, v in validated["second_stage"].items())
        )
    except (OSError, ValueError, KeyError):
        print("\nno cross-validated figures: ollm_recall/search/ranker.json is missing or damaged")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
