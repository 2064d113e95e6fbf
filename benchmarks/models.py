"""Synthetic benchmark models, generated on demand (never committed): a decomposed transformer in ONNX with its
weights in external data, and its MNN conversion.

Each layer is written the way exporters emit it without fused kernels: per-head Slice -> MatMul -> scale ->
mask Add -> decomposed softmax (ReduceMax, Sub, Exp, ReduceSum, Div) -> MatMul, a decomposed LayerNormalization
(ReduceMean, Sub, Pow, ReduceMean, Add, Sqrt, Div, Mul, Add) and an erf GELU.  The node count is about
``layers * (12 * heads + 40)``.
"""

from __future__ import annotations

import os
from typing import List, Tuple

import numpy as np


def transformer(layers: int, heads: int, hidden: int, seq: int = 128, ffn_mult: int = 4, seed: int = 0):
    """An onnx.ModelProto (weights inline; save it with external data)."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    nodes: List = []
    inits: List = []
    head_dim = hidden // heads
    count = [0]

    def name(kind: str) -> str:
        count[0] += 1
        return f"{kind}_{count[0]}"

    def const(value, label: str) -> str:
        n = name(label)
        inits.append(numpy_helper.from_array(np.asarray(value), n))
        return n

    def weight(shape: Tuple[int, ...], label: str) -> str:
        n = name(label)
        inits.append(numpy_helper.from_array((rng.standard_normal(shape) * 0.02).astype(np.float32), n))
        return n

    def node(op: str, inputs: List[str], **attrs) -> str:
        out = name(op.lower() + "_out")
        nodes.append(helper.make_node(op, inputs, [out], name=name(op), **attrs))
        return out

    axes_last = const(np.array([-1], np.int64), "axes")
    two = const(np.array(2.0, np.float32), "two")
    eps = const(np.array(1e-5, np.float32), "eps")
    sqrt2 = const(np.array(np.sqrt(2.0), np.float32), "sqrt2")
    one = const(np.array(1.0, np.float32), "one")
    half = const(np.array(0.5, np.float32), "half")
    scale = const(np.array(1.0 / np.sqrt(head_dim), np.float32), "scale")

    def layer_norm(x: str) -> str:
        mean = node("ReduceMean", [x], axes=[-1], keepdims=1)
        d = node("Sub", [x, mean])
        sq = node("Pow", [d, two])
        var = node("ReduceMean", [sq], axes=[-1], keepdims=1)
        ve = node("Add", [var, eps])
        sd = node("Sqrt", [ve])
        nrm = node("Div", [d, sd])
        g = node("Mul", [nrm, weight((hidden,), "ln_gamma")])
        return node("Add", [g, weight((hidden,), "ln_beta")])

    def linear(x: str, fan_in: int, fan_out: int) -> str:
        return node("Add", [node("MatMul", [x, weight((fan_in, fan_out), "w")]), weight((fan_out,), "b")])

    def gelu(x: str) -> str:
        e = node("Erf", [node("Div", [x, sqrt2])])
        return node("Mul", [node("Mul", [x, node("Add", [e, one])]), half])

    x = "tokens"
    mask = "mask"
    for _ in range(layers):
        h = layer_norm(x)
        q, k, v = linear(h, hidden, hidden), linear(h, hidden, hidden), linear(h, hidden, hidden)
        outs = []
        for i in range(heads):
            st, en = (
                const(np.array([i * head_dim], np.int64), "st"),
                const(np.array([(i + 1) * head_dim], np.int64), "en"),
            )
            qs, ks, vs = (node("Slice", [t, st, en, axes_last]) for t in (q, k, v))
            kt = node("Transpose", [ks], perm=[0, 2, 1])
            s = node("Add", [node("Mul", [node("MatMul", [qs, kt]), scale]), mask])
            mx = node("ReduceMax", [s], axes=[-1], keepdims=1)
            ex = node("Exp", [node("Sub", [s, mx])])
            p = node("Div", [ex, node("ReduceSum", [ex, axes_last], keepdims=1)])
            outs.append(node("MatMul", [p, vs]))
        att = node("Concat", outs, axis=-1)
        x = node("Add", [x, linear(att, hidden, hidden)])
        h = layer_norm(x)
        f = gelu(linear(h, hidden, hidden * ffn_mult))
        x = node("Add", [x, linear(f, hidden * ffn_mult, hidden)])
    out = node("Identity", [layer_norm(x)])
    graph = helper.make_graph(
        nodes,
        "decomposed_transformer",
        [
            helper.make_tensor_value_info("tokens", TensorProto.FLOAT, [1, seq, hidden]),
            helper.make_tensor_value_info("mask", TensorProto.FLOAT, [1, seq, seq]),
        ],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, [1, seq, hidden])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="pl-bench")
    model.ir_version = 8
    return model


def save_with_external_data(model, path: str) -> str:
    import onnx

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    onnx.save(
        model,
        path,
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location=os.path.basename(path) + ".data",
        size_threshold=1024,
    )
    return path


def save_inline(model, path: str) -> str:
    import onnx

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    onnx.save(model, path)
    return path
