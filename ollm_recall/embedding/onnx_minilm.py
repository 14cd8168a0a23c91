"""all-MiniLM-L6-v2 through ONNX Runtime: sentence-transformers' vectors at half its memory.

The bundled model ships safetensors weights only. The first large embedding job writes them once as
an ONNX graph (``onnx_graph``: the encoder, the mean pooling and the L2 normalisation, about a second,
no torch) and keeps it in the per-user model cache; from then on queries and builds run it in ONNX Runtime,
which loads in a third of a second, embeds faster than sentence-transformers and peaks at about half
its memory (measured in docs/search.md). A test checks it agrees with sentence-transformers to cosine
0.999.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import numpy as np

from .._atomic import fsync_directory, make_private_dir, temp_path_for
from .minilm import encode_by_length, load_tokenizer
from .onnx_graph import OUTPUT, import_onnxruntime, write_model

BATCH = 32


GRAPH_VERSION = 2
"""Version 1 was torch's export; 2 is ``onnx_graph``'s, written from the weights without torch."""


def exported_name(model_dir: Path, variant: str = "fp32") -> str:
    """The file name of the graph of the weights in ``model_dir``: it changes when they do."""
    weights = (model_dir / "model.safetensors").stat()
    suffix = "" if variant == "fp32" else f"-{variant}"
    return f"all-MiniLM-L6-v2-{weights.st_size}-{weights.st_mtime_ns}-g{GRAPH_VERSION}{suffix}.onnx"


def export_onnx(model_dir: Path, target: Path, *, int8: bool = False) -> None:
    """Write the graph of the weights in ``model_dir`` to ``target`` atomically (a crash leaves no
    half file), mode 0600; graphs of the same variant of other weights in that folder are removed
    (the other variant's stay: an archive of each may share the cache). Raises
    RuntimeError with the reason when it cannot."""
    temp = temp_path_for(target)
    try:
        make_private_dir(target.parent)
        write_model(model_dir, temp, int8=int8)
        os.chmod(temp, 0o600)
        os.replace(temp, target)
    except Exception as exc:  # onnx and safetensors raise their own kinds
        with contextlib.suppress(OSError):
            temp.unlink()
        raise RuntimeError(f"exporting the embedding model for ONNX Runtime failed: {exc}") from exc
    fsync_directory(target.parent)
    quantised = target.name.endswith("-int8.onnx")
    for old in target.parent.glob("all-MiniLM-L6-v2-*.onnx"):  # our graphs of other weights, never
        if old != target and old.name.endswith("-int8.onnx") == quantised:  # another program's files
            with contextlib.suppress(OSError):
                old.unlink()


class OnnxMiniLM:
    """Encode texts with an exported graph (``export_onnx``) and the model's tokenizer."""

    def __init__(self, model_dir: Path, graph: Path) -> None:
        onnxruntime = import_onnxruntime()
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        # idle worker threads would otherwise spin for a while after each run, taking a core from
        # the full-text search beside a query (and not faster for large batches, measured)
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = onnxruntime.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
        self.tokenizer = load_tokenizer(model_dir)
        self.dimension = int(self._session.get_outputs()[0].shape[1])

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text, batched by length (less padding)."""
        return encode_by_length(texts, BATCH, self.dimension, self._encode_batch)

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        (vectors,) = self._session.run([OUTPUT], {"input_ids": ids, "attention_mask": mask})
        return np.asarray(vectors, dtype=np.float32)
