"""The embedding engines side by side: the numpy pass, ONNX Runtime fp32 and ONNX Runtime int8.

Embeds the same texts (the example archive's message chunks, as the indexer cuts them, repeated to
``--texts``) with each engine in turn, several rounds interleaved so that a busy moment of the machine
falls on all of them alike, and prints the median texts/s and word pieces/s, the time to make each
graph, and how closely each agrees with the numpy pass (the reference: it matches
sentence-transformers to cosine 0.9999).

    python benchmarks/embedding_engines.py --texts 512 --rounds 5
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ollm_recall import SessionStore
from ollm_recall.embedding.embedder import bundled_model_dir
from ollm_recall.embedding.minilm import NumpyMiniLM
from ollm_recall.embedding.onnx_graph import write_model
from ollm_recall.embedding.onnx_minilm import OnnxMiniLM
from ollm_recall.index.indexer import embedding_units

REPO = Path(__file__).resolve().parent.parent


def sample_texts(count: int) -> list[str]:
    store = SessionStore(REPO / "examples" / "sessions")
    texts: list[str] = []
    for summary in store.list().sessions:
        texts += [text for _message, _chunk, text in embedding_units(store.read(summary.session_id), 0)]
    return [texts[i % len(texts)] for i in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    model_dir = bundled_model_dir()
    texts = sample_texts(args.texts)
    engines: dict[str, object] = {"numpy": NumpyMiniLM(model_dir)}
    made: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="ollm-engines-") as scratch:
        for name, int8 in (("onnx fp32", False), ("onnx int8", True)):
            graph = Path(scratch) / f"{name.replace(' ', '-')}.onnx"
            started = time.perf_counter()
            write_model(model_dir, graph, int8=int8)
            made[name] = time.perf_counter() - started
            engines[name] = OnnxMiniLM(model_dir, graph)
        tokenizer = engines["numpy"].tokenizer  # type: ignore[attr-defined]
        pieces = sum(sum(e.attention_mask) for e in tokenizer.encode_batch(texts))
        seconds: dict[str, list[float]] = {name: [] for name in engines}
        vectors: dict[str, np.ndarray] = {}
        for _round in range(args.rounds):
            for name, engine in engines.items():
                started = time.perf_counter()
                vectors[name] = engine.encode(texts)  # type: ignore[attr-defined]
                seconds[name].append(time.perf_counter() - started)
    reference = vectors["numpy"]
    print(f"{len(texts)} texts, {pieces} word pieces (padding aside); median of {args.rounds} rounds")
    print(f"{'engine':<10} {'texts/s':>8} {'pieces/s':>9} {'graph s':>8} {'cos min':>8} {'cos mean':>9}")
    for name, times in seconds.items():
        median = statistics.median(times)
        cosine = (vectors[name] * reference).sum(axis=1)
        graph = f"{made[name]:.1f}" if name in made else "-"
        print(
            f"{name:<10} {len(texts) / median:>8.1f} {pieces / median:>9.0f} {graph:>8} "
            f"{cosine.min():>8.4f} {cosine.mean():>9.4f}"
        )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
