"""Emulated runs for targets whose kernels cannot run here (GPUs, NPUs): ONNX Runtime with the platform table's
*storage* format applied per op.

For each operator of the ONNX graph, the platform table says which format its outputs are stored in on the target
at that mode (per-op facts and CPU fallbacks included).  Every float output stored in fp16/bf16 is rounded through a
Cast pair inserted after the op; graph inputs and float initializers are rounded the same way when their first reader
stores in a reduced format.  Arithmetic and accumulation inside an op stay fp32: this is a lower bound of the error,
labelled "emulated from the platform table (storage only)", never "measured".  ONNX Runtime's Cast overflows to inf
above 65504; how each GPU converts was not measured.
"""
from __future__ import annotations

from typing import Dict, List, Tuple

REDUCED = {"fp16": 10, "bf16": 16}  # onnx.TensorProto.FLOAT16, BFLOAT16
_RAW = "__before_storage"


def storage_plan(graph, platform, mode: str) -> Dict[str, str]:
    """{tensor name: reduced storage format} for the op outputs, inputs and initializers the target stores reduced."""
    plan: Dict[str, str] = {}
    for op in graph.operators():
        if op.scope:
            continue
        fmt = platform.formats_for(mode, op).storage
        if fmt not in REDUCED:
            continue
        for name in op.outputs:
            t = graph.tensors.get(name)
            if name and t is not None and (t.dtype or "").startswith("float"):
                plan[name] = fmt
        for name in op.inputs:
            t = graph.tensors.get(name)
            if name and t is not None and (t.is_input or t.is_const) and (t.dtype or "float32") == "float32":
                plan.setdefault(name, fmt)
    return plan


def emulated_model(source, plan: Dict[str, str], extra_outputs: List[str]):
    """The ONNX model ``source`` (a path, or a ModelProto left unchanged) with Cast round trips after every tensor in
    ``plan``, and ``extra_outputs`` (intermediate tensors) added as graph outputs."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    if isinstance(source, str):
        model = onnx.load(source)
    else:
        model = onnx.ModelProto()
        model.CopyFrom(source)
    g = model.graph
    inits = {i.name: i for i in g.initializer}
    inputs = {i.name for i in g.input} - set(inits)
    casts: Dict[str, List] = {}
    for name, fmt in plan.items():
        if name in inits and fmt == "fp16":  # a weight stored in fp16: round its values once
            arr = numpy_helper.to_array(inits[name]).astype(np.float32)
            with np.errstate(over="ignore"):  # beyond 65504 becomes inf, as fp16 storage makes it
                stored = arr.astype(np.float16).astype(np.float32)
            inits[name].CopyFrom(numpy_helper.from_array(stored, name))
            continue
        raw = f"{name}{_RAW}"
        casts[name] = [helper.make_node("Cast", [raw], [f"{name}__stored"], to=REDUCED[fmt], name=f"{name}__to_{fmt}"),
                       helper.make_node("Cast", [f"{name}__stored"], [name], to=TensorProto.FLOAT,
                                        name=f"{name}__from_{fmt}")]
    renamed = {}
    nodes = []
    for name in list(casts):  # graph inputs and bf16 weights: the pair reads the renamed tensor, first of all
        if name in inputs or name in inits:
            for inp in list(g.input) + list(g.initializer):
                if inp.name == name:
                    inp.name = f"{name}{_RAW}"
            renamed[f"{name}{_RAW}"] = name
            nodes += casts.pop(name)
    for node in g.node:
        for i, out in enumerate(node.output):
            if out in casts:
                node.output[i] = f"{out}{_RAW}"
        nodes.append(node)
        for out in node.output:
            if out.endswith(_RAW) and out[:-len(_RAW)] in casts:
                nodes += casts[out[:-len(_RAW)]]
    del g.node[:]
    g.node.extend(nodes)
    known = {o.name for o in g.output}
    for name in extra_outputs:
        if name not in known:
            g.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
    return model, renamed


def run(path: str, graph, platform, mode: str, feeds, outputs: List[str], inter: List[str]
        ) -> Tuple[Dict[str, object], Dict[str, object], int]:
    """(emulated arrays, fp32 arrays, number of tensors stored reduced), by tensor name, from ONNX Runtime."""
    from . import ort_run

    plan = storage_plan(graph, platform, mode)
    floats = [n for n in inter if (graph.tensors[n].dtype or "") == "float32"]
    emulated, renamed = emulated_model(path, plan, floats)
    reference, _ = emulated_model(path, {}, floats)
    # without graph optimisation: the Cast pairs must not be fused away
    return (ort_run.run(ort_run.session(emulated, optimize=False), feeds, renamed),
            ort_run.run(ort_run.session(reference, optimize=False), feeds), len(plan))
