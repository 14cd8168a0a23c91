"""all-MiniLM-L6-v2 in plain numpy: the same vectors as sentence-transformers, without torch.

A new ``ollm recall`` process must embed one query in well under a second; importing
sentence-transformers alone takes seconds. This forward pass (BERT encoder, mean pooling, L2
normalisation) reads the bundled safetensors weights directly and agrees with sentence-transformers to
cosine > 0.9999 (a test checks it). It serves until the first large job has exported the model for
ONNX Runtime (``onnx_minilm``), which is faster.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Tokenizer

MAX_TOKENS = 256
BATCH = 8
_HEADS = 12


def _gelu(x: np.ndarray) -> np.ndarray:
    """The exact (erf) GELU of BERT, with erf to ~1e-7 (Abramowitz and Stegun 7.1.26, enough for
    float32 activations); computed in place in two buffers, since this is the largest activation."""
    z = x * np.float32(1 / np.sqrt(2.0))
    a = np.abs(z)
    t = a * np.float32(0.3275911)
    t += 1
    np.reciprocal(t, out=t)
    result = t * np.float32(1.061405429)
    for coefficient in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
        result += np.float32(coefficient)
        result *= t
    np.square(a, out=a)
    np.negative(a, out=a)
    np.exp(a, out=a)
    result *= a  # 1 - erf(|z|)
    np.subtract(1, result, out=result)
    np.copysign(result, z, out=result)  # erf(z)
    result += 1
    result *= x
    result *= np.float32(0.5)
    return result


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    centred = x - mean
    variance = (centred * centred).mean(-1, keepdims=True)
    return centred / np.sqrt(variance + np.float32(1e-12)) * weight + bias


def load_tokenizer(model_dir: Path) -> Any:
    """The model's tokenizer, cutting texts at ``MAX_TOKENS`` and padding a batch to its longest."""
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.enable_truncation(MAX_TOKENS)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    return tokenizer


def encode_by_length(
    texts: list[str], batch: int, dimension: int, encode_batch: Callable[[list[str]], np.ndarray]
) -> np.ndarray:
    """``encode_batch`` over ``texts`` ``batch`` at a time, texts of like length together (less
    padding), the rows returned in the order of ``texts``."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    vectors = np.zeros((len(texts), dimension), dtype=np.float32)
    for start in range(0, len(order), batch):
        rows = order[start : start + batch]
        vectors[rows] = encode_batch([texts[i] for i in rows])
    return vectors


class NumpyMiniLM:
    """Encode texts with the MiniLM weights in ``model_dir`` (safetensors + tokenizer.json)."""

    def __init__(self, model_dir: Path) -> None:
        from safetensors.numpy import load_file

        weights = load_file(str(model_dir / "model.safetensors"))
        self._embeddings = (
            weights["embeddings.word_embeddings.weight"],
            weights["embeddings.position_embeddings.weight"],
            weights["embeddings.token_type_embeddings.weight"][0],
            weights["embeddings.LayerNorm.weight"],
            weights["embeddings.LayerNorm.bias"],
        )
        self._layers: list[dict[str, Any]] = []
        number = 0
        while f"encoder.layer.{number}.attention.self.query.weight" in weights:
            prefix = f"encoder.layer.{number}."

            def get(name: str, prefix: str = prefix) -> np.ndarray:
                return weights[prefix + name]

            self._layers.append(
                {
                    "qkv_w": np.concatenate(
                        [
                            get("attention.self.query.weight"),
                            get("attention.self.key.weight"),
                            get("attention.self.value.weight"),
                        ]
                    ).T,
                    "qkv_b": np.concatenate(
                        [
                            get("attention.self.query.bias"),
                            get("attention.self.key.bias"),
                            get("attention.self.value.bias"),
                        ]
                    ),
                    "out_w": get("attention.output.dense.weight").T,
                    "out_b": get("attention.output.dense.bias"),
                    "ln1": (get("attention.output.LayerNorm.weight"), get("attention.output.LayerNorm.bias")),
                    "up_w": get("intermediate.dense.weight").T,
                    "up_b": get("intermediate.dense.bias"),
                    "down_w": get("output.dense.weight").T,
                    "down_b": get("output.dense.bias"),
                    "ln2": (get("output.LayerNorm.weight"), get("output.LayerNorm.bias")),
                }
            )
            number += 1
        self.dimension = int(self._embeddings[0].shape[1])
        self.tokenizer = load_tokenizer(model_dir)

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text; texts of like length go through together, a
        few at a time (large activations cost more in fresh memory than they save in fewer calls)."""
        return encode_by_length(texts, BATCH, self.dimension, self._encode_batch)

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.float32)
        batch, length = ids.shape
        words, positions, token_type, ln_w, ln_b = self._embeddings
        x = _layer_norm(words[ids] + positions[:length] + token_type, ln_w, ln_b)
        attention_bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        head = x.shape[-1] // _HEADS
        scale = np.float32(1 / np.sqrt(head))
        width = x.shape[-1]
        x = x.reshape(batch * length, width)  # dense layers as one matrix product each
        for layer in self._layers:
            qkv = x @ layer["qkv_w"] + layer["qkv_b"]
            # contiguous heads: numpy hands a stacked product to BLAS only when each matrix is contiguous
            q, k, v = (
                np.ascontiguousarray(part.reshape(batch, length, _HEADS, head).transpose(0, 2, 1, 3))
                for part in np.split(qkv, 3, axis=-1)
            )
            probs = q @ k.transpose(0, 1, 3, 2)
            probs *= scale
            probs += attention_bias
            probs -= probs.max(-1, keepdims=True)
            np.exp(probs, out=probs)
            probs /= probs.sum(-1, keepdims=True)
            attended = (probs @ v).transpose(0, 2, 1, 3).reshape(batch * length, width)
            x = _layer_norm(attended @ layer["out_w"] + layer["out_b"] + x, *layer["ln1"])
            hidden = _gelu(x @ layer["up_w"] + layer["up_b"])
            x = _layer_norm(hidden @ layer["down_w"] + layer["down_b"] + x, *layer["ln2"])
        x = x.reshape(batch, length, width)
        pooled = (x * mask[:, :, None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
