"""What else was tried for the second stage, measured the same way as the shipped one, so it can be re-run.

Each group of candidate features below is appended to ``ollm_recall.search.ranker.FEATURES`` for the same
cached candidates as ``ranker_training.py`` (run that first: it builds the indexes and the cache), and
LambdaMART (its settings, learning from the dev-set questions alone) is cross-validated leaving one
archive out, over several seeds (a seed alone moves R@5 by
about 0.005, so a gain smaller than that is not one). Then a few other settings of LambdaMART itself,
and a learned query transform for the dense side (a 384 x 384 matrix, trained on the other archives).
Last, for scale, the same dense ranking of the candidates from what a search cannot have: the
reference reply to the question, and the benchmark's evidence (the memories that reply used).

    python benchmarks/ranker_features.py                    # every group, 3 seeds (about 10 minutes)
    python benchmarks/ranker_features.py --only plain-bm25 --seeds 5
"""

from __future__ import annotations

import argparse
import json
import math
import re
import statistics
import sys
from collections import Counter
from pathlib import Path

import numpy as np
from ranker_training import LAMBDAMART, collect
from retrieval import DEFAULT_DATA, DEFAULT_WORK, METRICS, prepare_home

from ollm_recall.index.indexer import Index
from ollm_recall.index.textsearch import STOP_WORDS
from ollm_recall.index.units import chunk_text
from ollm_recall.index.vectorstore import VectorIndex
from ollm_recall.search.ranker import BASE_FEATURES, FEATURES, with_relative

GROUPS = {
    "roles": ("dense_user", "dense_assistant"),
    "sentences": ("sentence_best", "sentence_mean", "sentence_mean_gap"),
    "ends": ("first_message", "last_message", "last_two"),
    "on-topic share": ("share_above_half",),
    "threads": ("top1_similarity", "closest_of_top3", "rank_near_top1"),
    "feedback": ("rocchio", "rocchio_gap"),
    "plain-bm25": ("bm25_plain", "bm25_plain_rank"),
    "exchanges": ("exchange_dense", "exchange_best", "exchange_gap"),
}
"""Candidate features by idea (``Extra`` computes them):
- roles: the dense score over the session's user turns only, and over its assistant turns only;
- sentences: the question cut into sentences, each embedded: the best cosine of any sentence to any
  unit, the mean over sentences of their best, and that mean against the best candidate's;
- ends: the best cosine of the question to the session's first message, its last, its last two
  (a question that opens a chat often picks up where an earlier one ended);
- on-topic share: the share of the session's units with a cosine above 0.5;
- threads: the cosine of the session's mean unit to the first candidate's, the best to any of the
  first three, and its rank among the first candidate's closest (sessions of one long topic);
- feedback: the dense score against the question moved halfway towards the first three candidates'
  best units (Rocchio), and that against the best;
- plain-bm25: BM25 (k1 1.2, b 0.75) of the whole session, words not stemmed, every word of the
  question, idf over the candidates alone, and its rank;
- exchanges: each user turn embedded with the reply that follows it, scored as the dense score is."""
SETTINGS = {
    "truncation level 10": {"lambdarank_truncation_level": 10},
    "truncation level 5": {"lambdarank_truncation_level": 5},
    "xendcg objective": {"objective": "rank_xendcg"},
    "min 200 per leaf": {"min_child_samples": 200},
    "L2 10": {"reg_lambda": 10.0},
    "300 trees, rate 0.025": {"n_estimators": 300, "learning_rate": 0.025},
    "4 leaves, 300 trees": {"num_leaves": 4, "n_estimators": 300},
}
WORD = re.compile(r"[a-z0-9]+")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


def plain_words(text: str) -> list[str]:
    return [word for word in WORD.findall(text.lower()) if word not in STOP_WORDS]


def top3_mean(cosines: np.ndarray) -> float:
    return float(np.sort(cosines)[::-1][:3].mean()) if len(cosines) else 0.0


class Archive:
    """One archive's units (message index, vector), roles, words and exchange vectors, read once."""

    def __init__(self, home: Path) -> None:
        self.index = Index(home)
        manifest = self.index.load_manifest()
        vectors = VectorIndex(
            self.index.vector_dir, manifest.segments, manifest.current_segments(), sealer=self.index.sealer
        )
        self.units: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for sid in vectors.session_ids:
            found = vectors.session_units(sid)
            if found is not None:
                self.units[sid] = (found[0], np.asarray(found[1], dtype=np.float32))
        self.start_ms = {sid: entry.start_ms for sid, entry in manifest.sessions.items()}
        self.roles: dict[str, list[str]] = {}
        self.words: dict[str, Counter[str]] = {}
        exchange_texts: list[str] = []
        exchange_owner: list[str] = []
        for sid in self.units:
            session = self.index.store.read(sid)
            self.roles[sid] = [message.role for message in session.messages]
            self.words[sid] = Counter(plain_words(" ".join(m.content for m in session.messages)))
            for number, message in enumerate(session.messages):
                if message.role == "user" and message.content.strip():
                    following = session.messages[number + 1 : number + 2]
                    reply = following[0].content if following and following[0].role == "assistant" else ""
                    exchange_texts.append(chunk_text(message.content + "\n" + reply)[0])
                    exchange_owner.append(sid)
        embedded = self.index.embedder.embed(exchange_texts, bulk=True)
        self.exchanges: dict[str, np.ndarray] = {}
        for sid in self.units:
            self.exchanges[sid] = embedded[[n for n, owner in enumerate(exchange_owner) if owner == sid]]

    def embed(self, text: str) -> np.ndarray:
        return self.index.embedder.embed_query(text)


def extra_features(
    archive: Archive, question: str, ids: list[str], cutoff_ids: set[str]
) -> dict[str, np.ndarray]:
    """Every candidate feature of ``GROUPS`` for one question's candidates ``ids``."""
    query = archive.embed(question)
    sentences = [part for part in SENTENCE_END.split(question) if len(part.split()) >= 3] or [question]
    sentence_vectors = np.stack([archive.embed(part) for part in sentences])
    empty = (np.zeros(1, dtype=np.int64), np.zeros((1, len(query)), dtype=np.float32))
    columns: dict[str, list[float]] = {name: [] for group in GROUPS.values() for name in group}
    means, best_units = [], []
    for sid in ids:
        messages, vectors = archive.units.get(sid, empty)
        cosines = vectors @ query
        roles = np.array([archive.roles.get(sid, [""] * (int(messages.max()) + 1))[m] for m in messages])
        columns["dense_user"].append(top3_mean(cosines[roles == "user"]))
        columns["dense_assistant"].append(top3_mean(cosines[roles == "assistant"]))
        per_sentence = (vectors @ sentence_vectors.T).max(axis=0)
        columns["sentence_best"].append(float(per_sentence.max()))
        columns["sentence_mean"].append(float(per_sentence.mean()))
        columns["first_message"].append(float(cosines[messages == messages.min()].max()))
        columns["last_message"].append(float(cosines[messages == messages.max()].max()))
        columns["last_two"].append(float(cosines[messages >= messages.max() - 1].max()))
        columns["share_above_half"].append(float((cosines > 0.5).mean()))
        exchange = archive.exchanges.get(sid, empty[1]) @ query
        columns["exchange_dense"].append(top3_mean(exchange))
        columns["exchange_best"].append(float(exchange.max()) if len(exchange) else 0.0)
        mean = vectors.mean(axis=0)
        means.append(mean / (np.linalg.norm(mean) or 1.0))
        best_units.append(vectors[np.argsort(-cosines)[:3]].mean(axis=0))
    centroids = np.stack(means)
    to_first = centroids @ centroids[0]
    columns["top1_similarity"] = list(to_first)
    to_top3 = centroids @ centroids[:3].T
    to_top3[np.arange(min(3, len(ids))), np.arange(min(3, len(ids)))] = -1.0
    columns["closest_of_top3"] = list(to_top3.max(axis=1))
    near = to_first.copy()
    near[0] = 2.0
    columns["rank_near_top1"] = list(1.0 / (1.0 + np.argsort(np.argsort(-near, kind="stable"))))
    moved = query + 0.5 * np.mean(best_units[:3], axis=0)
    moved /= np.linalg.norm(moved)
    columns["rocchio"] = [top3_mean(archive.units.get(sid, empty)[1] @ moved) for sid in ids]
    bm25 = plain_bm25(question, {sid: archive.words[sid] for sid in cutoff_ids if sid in archive.words})
    top = max(bm25.values(), default=0.0) or 1.0
    order = {sid: rank for rank, sid in enumerate(sorted(bm25, key=lambda s: -bm25[s]))}
    columns["bm25_plain"] = [bm25.get(sid, 0.0) / top for sid in ids]
    columns["bm25_plain_rank"] = [1.0 / (1.0 + order.get(sid, 999)) for sid in ids]
    result = {name: np.asarray(values, dtype=np.float64) for name, values in columns.items() if values}
    for gap, of in (
        ("sentence_mean_gap", "sentence_mean"),
        ("rocchio_gap", "rocchio"),
        ("exchange_gap", "exchange_dense"),
    ):
        result[gap] = result[of] - result[of].max()
    return result


def plain_bm25(
    question: str, sessions: dict[str, Counter[str]], k1: float = 1.2, b: float = 0.75
) -> dict[str, float]:
    count = len(sessions)
    if not count:
        return {}
    average = sum(sum(words.values()) for words in sessions.values()) / count
    frequency: Counter[str] = Counter()
    for words in sessions.values():
        frequency.update(words.keys())
    terms = list(dict.fromkeys(plain_words(question)))
    scores = {}
    for sid, words in sessions.items():
        length = sum(words.values())
        score = 0.0
        for term in terms:
            tf = words.get(term, 0)
            if tf:
                idf = math.log(1 + (count - frequency[term] + 0.5) / (frequency[term] + 0.5))
                score += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / average))
        scores[sid] = score
    return scores


def cross_validated(
    rows: list[dict], matrices: list[np.ndarray], settings: dict, seeds: int
) -> tuple[float, float, float]:
    """Held-out R@5 and NDCG@10 (means over seeds) of LambdaMART on ``matrices``, and R@5's spread."""
    import lightgbm

    parameters = {**LAMBDAMART, **settings}
    added = matrices[0].shape[1] - len(FEATURES)  # candidate features: no constraint on them
    parameters["monotone_constraints"] = [*LAMBDAMART["monotone_constraints"], *[0] * added]
    recall, ndcg = [], []
    for seed in range(seeds):
        ranked = []
        for archive in sorted({row["archive"] for row in rows}):
            train = [n for n, row in enumerate(rows) if row["archive"] != archive]
            x = np.concatenate([matrices[n] for n in train])
            y = np.concatenate([[int(sid in rows[n]["gold"]) for sid in rows[n]["ids"]] for n in train])
            model = lightgbm.LGBMRanker(**parameters, random_state=seed).fit(
                x, y, group=[len(rows[n]["ids"]) for n in train]
            )
            for n, row in enumerate(rows):
                if row["archive"] == archive:
                    scores = model.predict(matrices[n])
                    head = [row["ids"][i] for i in np.lexsort((np.arange(len(scores)), -scores))]
                    ranked.append((row, head + [sid for sid in row["first"] if sid not in head]))
        recall.append(statistics.fmean(METRICS["R@5"](r, row["gold"]) for row, r in ranked))
        ndcg.append(statistics.fmean(METRICS["NDCG@10"](r, row["gold"]) for row, r in ranked))
    return statistics.fmean(recall), statistics.fmean(ndcg), max(recall) - min(recall)


def query_transform(
    rows: list[dict],
    queries: list[np.ndarray],
    candidates: list[np.ndarray],
    decay: float = 1e-2,
    epochs: int = 10,
) -> tuple[float, float]:
    """Held-out R@5 of the candidates ranked by dense score alone, with the question as embedded and
    with it moved by a 384 x 384 matrix learned (softmax over each question's candidates) on the
    other archives."""
    import torch

    torch.manual_seed(0)
    before, after = [], []
    labels = [torch.tensor([float(sid in row["gold"]) for sid in row["ids"]]) for row in rows]
    for archive in sorted({row["archive"] for row in rows}):
        train = [n for n, row in enumerate(rows) if row["archive"] != archive and labels[n].sum() > 0]
        delta = torch.zeros(len(queries[0]), len(queries[0]), requires_grad=True)
        optimiser = torch.optim.Adam([delta], lr=1e-3)

        def moved(query: torch.Tensor, change: torch.Tensor = delta) -> torch.Tensor:
            return torch.nn.functional.normalize(query + change @ query, dim=-1)

        for epoch in range(epochs):
            order = np.random.RandomState(epoch).permutation(train)
            for start in range(0, len(order), 32):
                loss = torch.zeros(())
                for n in order[start : start + 32]:
                    scores = torch.tensor(candidates[n]) @ moved(torch.tensor(queries[n])) / 0.05
                    loss = loss - (torch.log_softmax(scores, 0) * labels[n]).sum() / labels[n].sum()
                optimiser.zero_grad()
                (loss / 32 + decay * (delta**2).sum()).backward()
                optimiser.step()
        for n, row in enumerate(rows):
            if row["archive"] != archive:
                continue
            query = torch.tensor(queries[n])
            for target, vector in ((before, query), (after, moved(query).detach())):
                scores = (torch.tensor(candidates[n]) @ vector).numpy()
                top = [row["ids"][i] for i in np.argsort(-scores, kind="stable")[:5]]
                target.append(METRICS["R@5"](top, row["gold"]))
    return statistics.fmean(before), statistics.fmean(after)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--only", choices=[*GROUPS, "settings", "transform", "ceiling"], action="append")
    args = parser.parse_args()
    rows = collect(args.data, args.work, refresh=False)
    queries = [json.loads(line) for line in (args.data / "queries.jsonl").read_text().splitlines() if line]
    ordered = [
        q
        for archive in sorted({q["conversation"] for q in queries})
        for q in queries
        if q["conversation"] == archive
    ]  # the order ``collect`` reads them in
    columns: list[dict[str, np.ndarray]] = []
    query_vectors, candidate_vectors = [], []
    archives: dict[str, Archive] = {}
    ceiling: dict[str, list[float]] = {"reply": [], "evidence": []}
    for row, query in zip(rows, ordered, strict=True):
        if set(query["gold_session_ids"]) != row["gold"]:
            raise SystemExit("the cached candidates are of other queries: run ranker_training.py --refresh")
        if row["x"].shape[1] == len(BASE_FEATURES):
            row["x"] = with_relative(row["x"])
        name = row["archive"]
        if name not in archives:
            archives[name] = Archive(prepare_home(args.data, name, args.work))
            print(f"{name}: read", file=sys.stderr)
        archive = archives[name]
        cutoff = query["candidate_cutoff"]
        before = {sid for sid in archive.units if archive.start_ms[sid] < _ms(cutoff)}
        columns.append(extra_features(archive, query["query"], row["ids"], before))
        vector = archive.embed(query["query"])
        query_vectors.append(vector)
        for source, text in (("reply", query["answer"]), ("evidence", " ".join(query["evidence"]))):
            ceiling[source].append(dense_recall(archive, row, archive.embed(text or query["answer"])))
        candidate_vectors.append(
            np.stack(
                [
                    archive.units[sid][1][np.argsort(-(archive.units[sid][1] @ vector))[:3]].mean(axis=0)
                    if sid in archive.units
                    else np.zeros_like(vector)
                    for sid in row["ids"]
                ]
            )
        )
    wanted = args.only or [*GROUPS, "settings", "transform", "ceiling"]
    base = [row["x"] for row in rows]
    print(
        f"\n{'second stage':<34}{'R@5':>7}{'NDCG@10':>9}{'R@5 spread':>12}"
        f"   (held out, mean of {args.seeds} seeds)"
    )

    def report(label: str, result: tuple[float, float, float]) -> None:
        print(f"{label:<34}{result[0]:>7.3f}{result[1]:>9.3f}{result[2]:>12.3f}", flush=True)

    report("shipped features", cross_validated(rows, base, {}, args.seeds))
    for group, names in GROUPS.items():
        if group in wanted:
            report(f"+ {group}", cross_validated(rows, with_columns(base, columns, names), {}, args.seeds))
    if not args.only:
        every = [name for names in GROUPS.values() for name in names]
        report("+ every group", cross_validated(rows, with_columns(base, columns, every), {}, args.seeds))
    if "settings" in wanted:
        for label, settings in SETTINGS.items():
            report(label, cross_validated(rows, base, settings, args.seeds))
    if "transform" in wanted:
        plain, moved = query_transform(rows, query_vectors, candidate_vectors)
        print(
            f"\ndense alone within the candidates, R@5 held out: as embedded {plain:.3f}, "
            f"with a learned query transform {moved:.3f}"
        )
    if "ceiling" in wanted:
        reply, evidence = (statistics.fmean(ceiling[source]) for source in ("reply", "evidence"))
        print(
            f"dense alone within the candidates, R@5, from the reference reply {reply:.3f}, "
            f"from the evidence {evidence:.3f} (what a search cannot know)"
        )
    return 0


def dense_recall(archive: Archive, row: dict, vector: np.ndarray) -> float:
    """R@5 of the candidates ranked by their dense score against ``vector`` (mean of the best three)."""
    scores = [
        top3_mean(archive.units[sid][1] @ vector) if sid in archive.units else 0.0 for sid in row["ids"]
    ]
    top = [row["ids"][i] for i in np.argsort(-np.asarray(scores), kind="stable")[:5]]
    return METRICS["R@5"](top, row["gold"])


def with_columns(
    base: list[np.ndarray], columns: list[dict[str, np.ndarray]], names: list[str] | tuple[str, ...]
) -> list[np.ndarray]:
    """Each question's shipped features with the named candidate features appended."""
    return [
        np.column_stack([x, *(found[name] for name in names)]) for x, found in zip(base, columns, strict=True)
    ]


def _ms(timestamp: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp() * 1000)


if __name__ == "__main__":
    raise SystemExit(main())
