"""fp16 / bf16 *storage* emulation with ONNX Runtime, per node.

Method (``precision_lint.verify.emulated.emulated_model``, the emulation `verify` uses for GPU targets, here with
every float tensor in the plan): the model runs once in fp32 with every node output as a graph output (the
reference).  Then a copy runs in which every float tensor is rounded to the format where it is stored: fp16
initializers are rounded in numpy (round to nearest even; overflow gives inf), and after every float graph input,
bf16 initializer and node output a pair ``Cast(to=FLOAT16 or BFLOAT16) -> Cast(to=FLOAT)`` is inserted, so each op computes in fp32 from rounded inputs
and its result is rounded before the next op reads it.  ONNX Runtime's casts round to nearest even (checked
against numpy for bf16).  This sees range (overflow to inf, flush of tiny values) and storage rounding; it does
not see fp16 *arithmetic* inside a kernel (sequential fp16 accumulation, Winograd transforms): those only show on
the real kernels (the ``arm82-low`` measurements).
"""

from __future__ import annotations

from typing import Dict

import numpy as np

from precision_lint.verify import ort_run
from precision_lint.verify.emulated import emulated_model  # the Cast-pair storage emulation verify uses
from precision_lint.verify.metrics import TensorError, compare


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


def _plan(model, fmt: str, floats: Dict[str, bool]) -> Dict[str, str]:
    """Every float tensor (graph inputs, initializers, node outputs) stored in ``fmt``."""
    names = [i.name for i in model.graph.input] + [i.name for i in model.graph.initializer]
    names += [out for node in model.graph.node for out in node.output]
    return {n: fmt for n in names if n and floats.get(n)}


def _session(model):
    return ort_run.session(model, optimize=False)  # no fusion across the casts


def measure(model, feeds: Dict[str, np.ndarray], formats=("fp16", "bf16"), tolerance: float = 1e-2):
    """Per format: {node name: TensorError of its worst float output} and the graph outputs' errors."""
    floats = _float_tensors(model)
    produced = {out: node.name for node in model.graph.node for out in node.output if out and floats.get(out)}
    names = list(produced)
    ref_sess = _session(emulated_model(model, {}, names)[0])
    feeds = {i.name: feeds[i.name] for i in ref_sess.get_inputs()}
    out_names = [o.name for o in ref_sess.get_outputs()]
    ref = dict(zip(out_names, ref_sess.run(out_names, feeds)))
    graph_outputs = [o.name for o in model.graph.output]
    ops = {node.name: node.op_type for node in model.graph.node}
    result = {}
    for fmt in formats:
        rounded, renamed = emulated_model(model, _plan(model, fmt, floats), names)
        sess = _session(rounded)
        with np.errstate(all="ignore"):
            got = ort_run.run(sess, feeds, renamed)  # the rounded graph inputs are renamed
        per_tensor: Dict[str, TensorError] = {}
        with np.errstate(all="ignore"):
            for t in out_names:
                if t in ref and floats.get(t, True) and ref[t].dtype.kind == "f":
                    node = produced.get(t, "")
                    per_tensor[t] = compare(t, got[t], ref[t], tolerance, ops.get(node, ""), node)
        result[fmt] = per_tensor
    return result, graph_outputs
