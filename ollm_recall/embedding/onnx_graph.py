"""all-MiniLM-L6-v2 written as an ONNX graph straight from its safetensors weights, without torch.

The same computation as the numpy pass (``minilm``): BERT embeddings, six encoder layers, mean pooling
over the attention mask, L2 normalisation, in standard ONNX operators (opset 17). Writing the graph
takes about a second, where torch's exporter needs torch itself (a second to import, ~500 MB) and
several seconds more; and it gives ONNX Runtime's dynamic int8 quantisation a graph whose weights are
plain constants of ``MatMul`` nodes, which is what it quantises.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

OUTPUT = "sentence_embedding"
OPSET = 17
_HEADS = 12


def import_onnxruntime():
    """ONNX Runtime with its telemetry off: it keeps a device id and a queue of events (OS, Python
    path, CPU) under ~/.cache/Microsoft otherwise. Set before its first use; a user's own
    ``ORT_DISABLE_TELEMETRY`` is left as it is."""
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    import onnxruntime

    return onnxruntime


class _Builder:
    """Nodes and constants of one graph, with names made up as they are added."""

    def __init__(self) -> None:
        self.nodes: list[Any] = []
        self.constants: list[Any] = []

    def constant(self, name: str, value: np.ndarray) -> str:
        from onnx import numpy_helper

        self.constants.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def add(self, op: str, *inputs: str, **attributes: Any) -> str:
        from onnx import helper

        output = f"{op.lower()}_{len(self.nodes)}"
        self.nodes.append(helper.make_node(op, list(inputs), [output], name=output, **attributes))
        return output

    def dense(self, x: str, name: str, weight: np.ndarray, bias: np.ndarray) -> str:
        """``x @ weight.T + bias``: a MatMul with a constant right-hand side, which quantisation finds."""
        product = self.add("MatMul", x, self.constant(f"{name}.weight", weight.T.astype(np.float32)))
        return self.add("Add", product, self.constant(f"{name}.bias", bias.astype(np.float32)))

    def layer_norm(self, x: str, name: str, weight: np.ndarray, bias: np.ndarray) -> str:
        return self.add(
            "LayerNormalization",
            x,
            self.constant(f"{name}.weight", weight),
            self.constant(f"{name}.bias", bias),
            axis=-1,
            epsilon=1e-12,
        )


def build_model(model_dir: Path) -> Any:
    """The ONNX model (``onnx.ModelProto``) of the weights in ``model_dir``: inputs ``input_ids`` and
    ``attention_mask`` (int64, batch x tokens), output ``sentence_embedding`` (float32, unit rows)."""
    from onnx import TensorProto, helper
    from safetensors.numpy import load_file

    weights = load_file(str(model_dir / "model.safetensors"))
    g = _Builder()
    width = weights["embeddings.word_embeddings.weight"].shape[1]
    head = width // _HEADS

    # embeddings: word + position + token type 0, normalised
    words = g.add(
        "Gather", g.constant("word_embeddings", weights["embeddings.word_embeddings.weight"]), "input_ids"
    )
    length = g.add("Shape", "input_ids", start=1, end=2)  # [tokens], one-dimensional
    zero = g.constant("zero_i64", np.array([0], np.int64))
    x = g.add(
        "Add",
        words,
        g.add(
            "Slice",
            g.constant("position_embeddings", weights["embeddings.position_embeddings.weight"]),
            zero,
            length,
            zero,
        ),
    )
    x = g.add("Add", x, g.constant("token_type_0", weights["embeddings.token_type_embeddings.weight"][0]))
    x = g.layer_norm(
        x,
        "embeddings.LayerNorm",
        weights["embeddings.LayerNorm.weight"],
        weights["embeddings.LayerNorm.bias"],
    )

    # padding is masked by a large negative bias on the attention scores
    mask = g.add("Cast", "attention_mask", to=TensorProto.FLOAT)
    one = g.constant("one_f32", np.array(1.0, np.float32))
    bias = g.add("Mul", g.add("Sub", one, mask), g.constant("minus_big", np.array(-1e9, np.float32)))
    bias = g.add("Unsqueeze", bias, g.constant("axes_1_2", np.array([1, 2], np.int64)))
    split_heads = g.constant("split_heads", np.array([0, 0, _HEADS, head], np.int64))
    merge_heads = g.constant("merge_heads", np.array([0, 0, width], np.int64))
    scale = g.constant("scale", np.array(1 / np.sqrt(head), np.float32))
    root_two = g.constant("root_two", np.array(np.sqrt(2.0), np.float32))
    half = g.constant("half", np.array(0.5, np.float32))

    number = 0
    while f"encoder.layer.{number}.attention.self.query.weight" in weights:
        prefix = f"encoder.layer.{number}."

        def w(name: str, prefix: str = prefix) -> np.ndarray:
            return weights[prefix + name]

        def projected(source: str, part: str, perm: list[int], prefix: str = prefix) -> str:
            dense = g.dense(
                source, prefix + part, w(f"attention.self.{part}.weight"), w(f"attention.self.{part}.bias")
            )
            return g.add("Transpose", g.add("Reshape", dense, split_heads), perm=perm)

        q = projected(x, "query", [0, 2, 1, 3])  # batch, heads, tokens, head
        k = projected(x, "key", [0, 2, 3, 1])  # batch, heads, head, tokens
        v = projected(x, "value", [0, 2, 1, 3])
        scores = g.add("Add", g.add("Mul", g.add("MatMul", q, k), scale), bias)
        attended = g.add("MatMul", g.add("Softmax", scores, axis=-1), v)
        attended = g.add("Reshape", g.add("Transpose", attended, perm=[0, 2, 1, 3]), merge_heads)
        out = g.dense(
            attended,
            prefix + "attention.output.dense",
            w("attention.output.dense.weight"),
            w("attention.output.dense.bias"),
        )
        x = g.layer_norm(
            g.add("Add", out, x),
            prefix + "attention.output.LayerNorm",
            w("attention.output.LayerNorm.weight"),
            w("attention.output.LayerNorm.bias"),
        )
        up = g.dense(
            x, prefix + "intermediate.dense", w("intermediate.dense.weight"), w("intermediate.dense.bias")
        )
        gelu = g.add(
            "Mul", g.add("Mul", up, half), g.add("Add", g.add("Erf", g.add("Div", up, root_two)), one)
        )  # exact GELU, as BERT's
        down = g.dense(gelu, prefix + "output.dense", w("output.dense.weight"), w("output.dense.bias"))
        x = g.layer_norm(
            g.add("Add", down, x),
            prefix + "output.LayerNorm",
            w("output.LayerNorm.weight"),
            w("output.LayerNorm.bias"),
        )
        number += 1

    # mean over the real tokens, then unit length
    mask3 = g.add("Unsqueeze", mask, g.constant("axis_2", np.array([2], np.int64)))
    token_axis = g.constant("axis_1", np.array([1], np.int64))
    summed = g.add("ReduceSum", g.add("Mul", x, mask3), token_axis, keepdims=0)
    counted = g.add(
        "Max",
        g.add("ReduceSum", mask3, token_axis, keepdims=0),
        g.constant("tiny", np.array(1e-9, np.float32)),
    )
    pooled = g.add("Div", summed, counted)
    norm = g.add(
        "Max",
        g.add("ReduceL2", pooled, axes=[1], keepdims=1),
        g.constant("tinier", np.array(1e-12, np.float32)),
    )
    g.nodes.append(helper.make_node("Div", [pooled, norm], [OUTPUT], name="normalise"))

    graph = helper.make_graph(
        g.nodes,
        "all-MiniLM-L6-v2",
        [
            helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "tokens"])
            for name in ("input_ids", "attention_mask")
        ],
        [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ["batch", width])],
        g.constants,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="ollm-recall"
    )
    model.ir_version = 8
    return model


def write_model(model_dir: Path, target: Path, *, int8: bool = False) -> None:
    """Write the graph of ``model_dir`` to ``target`` (not atomically: the caller writes a temporary
    name and renames it); ``int8`` quantises its weights dynamically with ONNX Runtime's own tool."""
    import onnx

    model = build_model(model_dir)
    if not int8:
        onnx.save(model, str(target))
        return
    import_onnxruntime()
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory(prefix="ollm-quantise-", dir=target.parent) as scratch:
        plain = Path(scratch) / "fp32.onnx"
        onnx.save(model, str(plain))
        logging.disable(logging.WARNING)  # its advice to pre-process, on the root logger, for images
        try:
            # the dense layers' weights, per output channel (per tensor: cosine 0.94 to fp32 at
            # worst, against 0.98); the embedding tables stay float
            quantize_dynamic(
                str(plain),
                str(target),
                weight_type=QuantType.QInt8,
                per_channel=True,
                op_types_to_quantize=["MatMul"],
            )
        finally:
            logging.disable(logging.NOTSET)
