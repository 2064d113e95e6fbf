"""fp16 / bf16 *storage* emulation with ONNX Runtime, per node.

Method: the model runs once in fp32 with every node output as a graph output (the reference).  Then a copy runs in
which every float tensor is rounded to the format where it is stored: float initializers are rounded in numpy
(round to nearest even; fp16 overflow gives inf), and after every float graph input and every node output a pair
``Cast(to=FLOAT16 or BFLOAT16) -> Cast(to=FLOAT)`` is inserted, so each op computes in fp32 from rounded inputs
and its result is rounded before the next op reads it.  ONNX Runtime's casts round to nearest even (checked
against numpy for bf16).  This sees range (overflow to inf, flush of tiny values) and storage rounding; it does
not see fp16 *arithmetic* inside a kernel (sequential fp16 accumulation, Winograd transforms): those only show on
the real kernels (the ``arm82-low`` measurements).
"""
from __future__ import annotations

from typing import Dict, List, Tuple

import numpy as np

from precision_lint.verify_metrics import TensorError, compare

FORMATS = {"fp16": 10, "bf16": 16}  # onnx.TensorProto.FLOAT16 / BFLOAT16


def _float_tensors(model) -> Dict[str, bool]:
    """Tensor name -> is float32, from shape inference (the graph's declared types)."""
    import onnx

    inferred = onnx.shape_inference.infer_shapes(model)
    g = inferred.graph
    types = {}
    for vi in list(g.input) + list(g.value_info) + list(g.output):
        types[vi.name] = vi.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    for init in g.initializer:
        types[init.name] = init.data_type == onnx.TensorProto.FLOAT
    return types


def _with_outputs(model, names: List[str], floats: Dict[str, bool]):
    import onnx
    from onnx import helper

    m = onnx.ModelProto()
    m.CopyFrom(model)
    have = {o.name for o in m.graph.output}
    for n in names:
        if n not in have:
            m.graph.output.append(helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, None))
    return m


def _rounded(model, fmt: str, floats: Dict[str, bool]):
    """A copy of ``model`` that stores every float tensor in ``fmt`` (see the module docstring)."""
    import onnx
    from onnx import helper, numpy_helper

    from precision_lint.numerics import get_format

    fmt_round = get_format(fmt).round
    to = FORMATS[fmt]
    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    inits = []
    for init in g.initializer:
        if init.data_type == onnx.TensorProto.FLOAT:
            with np.errstate(over="ignore"):
                a = np.asarray(fmt_round(numpy_helper.to_array(init).astype(np.float32)), np.float32)
            init = numpy_helper.from_array(a, init.name)
        inits.append(init)
    del g.initializer[:]
    g.initializer.extend(inits)
    nodes = []
    graph_inputs = {i.name for i in g.input} - {i.name for i in inits}

    def cast_pair(name: str) -> Tuple[str, list]:
        raw, low = f"{name}__fp32", f"{name}__{fmt}"
        return raw, [helper.make_node("Cast", [raw], [low], to=to, name=f"{name}__to_{fmt}"),
                     helper.make_node("Cast", [low], [name], to=onnx.TensorProto.FLOAT, name=f"{name}__back")]

    for name in sorted(graph_inputs):
        if floats.get(name):  # x -> Cast -> Cast -> x__rounded, which every consumer reads instead of x
            rounded = f"{name}__rounded"
            for node in g.node:
                node.input[:] = [rounded if i == name else i for i in node.input]
            _, pair = cast_pair(name)
            pair[0].input[0], pair[1].output[0] = name, rounded
            nodes.extend(pair)
    for node in g.node:
        pairs = []
        for k, out in enumerate(node.output):
            if out and floats.get(out):
                raw, pair = cast_pair(out)
                node.output[k] = raw
                pairs.extend(pair)
        nodes.append(node)
        nodes.extend(pairs)
    del g.node[:]
    g.node.extend(nodes)
    return m


def _session(model):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # no fusion across the casts
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def measure(model, feeds: Dict[str, np.ndarray], formats=("fp16", "bf16"), tolerance: float = 1e-2):
    """Per format: {node name: TensorError of its worst float output} and the graph outputs' errors."""
    floats = _float_tensors(model)
    produced = {out: node.name for node in model.graph.node for out in node.output if out and floats.get(out)}
    names = list(produced)
    ref_sess = _session(_with_outputs(model, names, floats))
    feeds = {i.name: feeds[i.name] for i in ref_sess.get_inputs()}
    out_names = [o.name for o in ref_sess.get_outputs()]
    ref = dict(zip(out_names, ref_sess.run(out_names, feeds)))
    graph_outputs = [o.name for o in model.graph.output]
    ops = {node.name: node.op_type for node in model.graph.node}
    result = {}
    for fmt in formats:
        sess = _session(_with_outputs(_rounded(model, fmt, floats), names, floats))
        with np.errstate(all="ignore"):
            got = dict(zip(out_names, sess.run(out_names, feeds)))
        per_tensor: Dict[str, TensorError] = {}
        with np.errstate(all="ignore"):
            for t in out_names:
                if t in ref and floats.get(t, True) and ref[t].dtype.kind == "f":
                    node = produced.get(t, "")
                    per_tensor[t] = compare(t, got[t], ref[t], tolerance, ops.get(node, ""), node)
        result[fmt] = per_tensor
    return result, graph_outputs
