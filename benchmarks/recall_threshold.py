"""Calibrate the similarity a past session needs before ``ollm chat`` recalls it on its own, and the
relevance floor below which ``ollm recall`` does not show a session.

For every RealMem dev query it takes the semantic score of the gold session in the user's own archive
(what should be recalled) and the best score in another user's archive (where nothing is relevant, so
anything recalled is noise). Prints, for each threshold, the share of gold sessions kept and the share
of queries that would recall noise; the chat's default threshold (precision first) and the search's
floor (keeping nearly every gold session) are chosen from this table.

    python benchmarks/recall_threshold.py
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from datetime import datetime
from pathlib import Path

from retrieval import DEFAULT_DATA, DEFAULT_WORK, current_index, prepare_home

from ollm_recall.embedding.embedder import DEFAULT_VARIANT, VARIANTS
from ollm_recall.search.searcher import Searcher


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="benchmark folder")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help="where indexes are kept")
    parser.add_argument("--variant", choices=VARIANTS, default=DEFAULT_VARIANT, help="embedding variant")
    args = parser.parse_args()
    queries = [json.loads(line) for line in (args.data / "queries.jsonl").read_text().splitlines() if line]
    by_archive: dict[str, list[dict]] = defaultdict(list)
    for query in queries:
        by_archive[query["conversation"]].append(query)
    archives = sorted(by_archive)
    searchers = {}
    for archive in archives:
        home = prepare_home(args.data, archive, args.work)
        index = current_index(home, args.variant)
        searchers[archive] = Searcher(home, index=index)
    gold_scores: list[float] = []
    noise_scores: list[float] = []
    for position, archive in enumerate(archives):
        foreign = searchers[archives[(position + 1) % len(archives)]]
        for query in by_archive[archive]:
            cutoff = query.get("candidate_cutoff")
            until = datetime.fromisoformat(cutoff) if cutoff else None
            hits = searchers[archive].search(
                query["query"], limit=50, until=until, mode="semantic", snippets=False
            )
            gold = [hit.score for hit in hits if hit.session_id in set(query["gold_session_ids"])]
            gold_scores.append(max(gold, default=0.0))
            noise = foreign.search(query["query"], limit=1, mode="semantic", snippets=False)
            noise_scores.append(noise[0].score if noise else 0.0)
    print(f"{len(queries)} queries; gold session in own archive vs best session in another user's archive")
    print(f"{'threshold':>9} {'gold kept':>10} {'noise recalled':>15}")
    for step in range(10, 75, 5):
        threshold = step / 100
        kept = sum(score >= threshold for score in gold_scores) / len(gold_scores)
        noise = sum(score >= threshold for score in noise_scores) / len(noise_scores)
        print(f"{threshold:>9.2f} {kept:>10.3f} {noise:>15.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
