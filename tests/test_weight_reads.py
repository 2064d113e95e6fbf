"""A lint reads each weight of an external-data model from its file once.

Weights above graph.KEEP_VALUE_BYTES are not kept in memory (a lint of a large model would hold every weight
beside the file's own copy); the graph keeps only the value it read last.  So what is computed from a weight must
be taken when it is read: its statistics with the RMS and fp16 subnormal share R005 asks next (engine/constants.py),
and the value-range analysis computes a linear layer's weight norm right after the weight's own range
(engine/bounds.py), before rules that only read statistics (engine/runner.py schedules range rules first).  On the
95 MB benchmark transformer the lint read 268 MB before; the test counts the file opens with an audit hook.
"""

import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from precision_lint.api import Linter
from precision_lint.model.graph import KEEP_VALUE_BYTES

_OPENED = []
_WATCHING = []


def _audit(event, args):
    if _WATCHING and event == "open" and isinstance(args[0], str) and args[0].endswith(".onnx.data"):
        _OPENED.append(args[0])


sys.addaudithook(_audit)  # stays for the process: it only records while a test watches


def _attention_like(path: str) -> int:
    """x -> two linear layers (weights with values below fp16's normal range, as trained weights have) -> a
    decomposed softmax: R001 and R005 read the weights' statistics, R004 and R009 the value ranges through the
    linear layers.  Returns the number of weights stored in the external data file."""
    rng = np.random.default_rng(3)
    hidden = 256
    weights = []
    for i in range(2):
        w = (rng.standard_normal((hidden, hidden)) * 0.02).astype(np.float32)
        w[0, :4] = [3e-6, -2e-7, 1e-5, 0.0]
        assert w.nbytes > KEEP_VALUE_BYTES
        weights.append(numpy_helper.from_array(w, f"w{i}"))
    nodes = [
        helper.make_node("MatMul", ["x", "w0"], ["h0"], name="fc0"),
        helper.make_node("Relu", ["h0"], ["r0"], name="relu"),
        helper.make_node("MatMul", ["r0", "w1"], ["h1"], name="fc1"),
        helper.make_node("ReduceMax", ["h1"], ["m"], name="max", axes=[-1], keepdims=1),
        helper.make_node("Sub", ["h1", "m"], ["d"], name="sub"),
        helper.make_node("Exp", ["d"], ["e"], name="exp"),
        helper.make_node("ReduceSum", ["e", "axes"], ["s"], name="sum", keepdims=1),
        helper.make_node("Div", ["e", "s"], ["y"], name="div"),
    ]
    axes = numpy_helper.from_array(np.array([-1], np.int64), "axes")
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64, hidden])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 64, hidden])],
        weights + [axes],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(
        model,
        path,
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location=os.path.basename(path) + ".data",
        size_threshold=1024,
    )
    return len(weights)


def test_each_external_weight_is_read_once(tmp_path):
    path = str(tmp_path / "attention_like.onnx")
    n_weights = _attention_like(path)
    linter = Linter()
    _WATCHING.append(True)
    try:
        result = linter.lint_file(path)
    finally:
        _WATCHING.clear()
    assert result.error is None and result.metadata["operators"] == 8
    assert len(_OPENED) == n_weights, _OPENED
