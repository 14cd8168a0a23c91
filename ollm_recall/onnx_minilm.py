"""all-MiniLM-L6-v2 through ONNX Runtime: sentence-transformers' vectors at half its memory.

The bundled model ships PyTorch weights only. The first large embedding job exports them once, with
torch's own exporter, to an ONNX graph that includes the mean pooling and the L2 normalisation, and
keeps it in the index folder; from then on queries and builds run it in ONNX Runtime, which imports
in a tenth of a second, embeds as fast as sentence-transformers and peaks at about half its memory
(measured in docs/search.md). A test checks it agrees with sentence-transformers to cosine 0.999.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import fsync_directory, temp_path_for
from .minilm import encode_by_length, load_tokenizer

BATCH = 32
OUTPUT = "sentence_embedding"


def exported_name(model_dir: Path) -> str:
    """The file name of the export of the weights in ``model_dir``: it changes when they do."""
    weights = (model_dir / "model.safetensors").stat()
    return f"all-MiniLM-L6-v2-{weights.st_size}-{weights.st_mtime_ns}.onnx"


def export_onnx(model_dir: Path, target: Path) -> None:
    """Export the model in ``model_dir`` to ``target`` in a child process: torch takes ~500 MB that
    a long indexing job would otherwise keep to its end. Raises RuntimeError with the child's reason."""
    result = subprocess.run(
        [sys.executable, "-m", __name__, str(model_dir), str(target)],
        capture_output=True, text=True, check=False,
    )
    if result.returncode != 0 or not target.exists():
        reason = (result.stderr.strip().splitlines() or ["no reason given"])[-1]
        raise RuntimeError(f"exporting the embedding model for ONNX Runtime failed: {reason}")


def export_here(model_dir: Path, target: Path) -> None:
    """Export the model in ``model_dir`` to ``target`` atomically (a crash leaves no half file);
    other exports in that folder, of older weights, are removed."""
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()
    encoder = AutoModel.from_pretrained(str(model_dir)).eval()

    class Pooled(torch.nn.Module):
        """The encoder followed by sentence-transformers' mean pooling and normalisation."""

        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden = self.encoder(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2.0, dim=1)

    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temp = temp_path_for(target)
    sample = torch.ones((2, 8), dtype=torch.long)
    axes = {0: "batch", 1: "tokens"}
    try:
        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                Pooled(), (sample, sample, torch.zeros_like(sample)), str(temp),
                input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=[OUTPUT],
                dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes,
                              OUTPUT: {0: "batch"}},
                opset_version=17, dynamo=False,
            )
        os.chmod(temp, 0o600)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    fsync_directory(target.parent)
    for old in target.parent.glob("*.onnx"):
        if old != target:
            with contextlib.suppress(OSError):
                old.unlink()


class OnnxMiniLM:
    """Encode texts with an exported graph (``export_onnx``) and the model's tokenizer."""

    def __init__(self, model_dir: Path, graph: Path) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        # idle worker threads would otherwise spin for a while after each run, taking a core from
        # the full-text search beside a query (and not faster for large batches, measured)
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = onnxruntime.InferenceSession(
            str(graph), options, providers=["CPUExecutionProvider"]
        )
        self.tokenizer = load_tokenizer(model_dir)
        self.dimension = int(self._session.get_outputs()[0].shape[1])

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text, batched by length (less padding)."""
        return encode_by_length(texts, BATCH, self.dimension, self._encode_batch)

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        (vectors,) = self._session.run(
            [OUTPUT], {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        )
        return np.asarray(vectors, dtype=np.float32)


if __name__ == "__main__":
    export_here(Path(sys.argv[1]), Path(sys.argv[2]))
