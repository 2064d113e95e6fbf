"""Emulated runs for targets whose kernels cannot run here (GPUs, NPUs; ARMv8.2 CPUs too, on request): the
platform table's storage, arithmetic and accumulation formats applied per op, labelled "emulated from the platform
table", never "measured".

For each operator of the ONNX graph the platform table (``Platform.formats_for``: per-op facts, low-precision op
lists and CPU fallbacks included) gives three formats:

- **storage**: every float output stored in fp16/bf16 is rounded through a Cast pair inserted after its op; graph
  inputs and float initializers are rounded the same way when their first reader stores in a reduced format.
  Where the mode's fp32 -> fp16 conversion saturates (ARMv8.2 CPUs, measured), a value converted from an fp32
  result is clamped to +-65504 first; elsewhere ONNX's Cast overflows to inf (no GPU conversion was measured).
- **arithmetic** and **accumulation**: ops whose arithmetic or accumulation is below fp32 run the numpy kernels of
  emulated_kernels.py (rounded element-wise steps; partial sums rounded to the accumulation format) inside ONNX's
  reference evaluator (``onnx.reference.ReferenceEvaluator`` with those ops overridden); every other op runs the
  evaluator's own fp32 implementation.  The order of the sums: the table's ``accumulation_order`` when it gives one
  (``sequential``: one running sum per output); otherwise GEMM and convolution sum each output's K products
  sequentially (one accumulator per output element, as a shader's multiply-add loop does) and the other reductions
  use 4 lanes added pairwise at the end (a vec4 register): choices, not read from the kernels.

When every op of the target computes in fp32 (arithmetic and accumulation), only storage applies and ONNX Runtime
runs the Cast-paired model (about 10x faster than the reference evaluator).  The reference is the same engine on
the unmodified model, so only the formats differ.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Set, Tuple

REDUCED = {"fp16": 10, "bf16": 16}  # onnx.TensorProto.FLOAT16, BFLOAT16
_RAW = "__before_storage"
FP16_MAX = 65504.0
# Lanes of a sum whose order the table does not give (see the module docstring).
GEMM_LANES_UNKNOWN_ORDER, REDUCTION_LANES_UNKNOWN_ORDER = 1, 4
_GEMM_LIKE = frozenset({"MatMul", "Gemm", "Conv", "ConvTranspose", "Einsum"})


@dataclass(frozen=True)
class OpPlan:
    """The reduced arithmetic / accumulation of one operator (keyed by its first output)."""

    op: str
    arithmetic: str
    accumulation: str
    lanes: int


@dataclass
class Emulation:
    """What one emulated run applied: the label of its result says which formats, with the counts."""

    stored: int = 0  # tensors rounded to a storage format
    saturated: int = 0  # of which converted with saturation (+-65504)
    arithmetic: Dict[str, int] = field(default_factory=dict)  # op type -> nodes computed in a reduced format
    accumulation: Dict[str, int] = field(default_factory=dict)  # op type -> nodes whose sums were reduced
    not_modelled: Dict[str, int] = field(default_factory=dict)  # op type -> reducing nodes summed in fp32 here
    engine: str = ""
    seconds: float = 0.0
    fallback: str = ""  # why the full emulation could not run (then storage only)

    @property
    def applied(self) -> List[str]:
        return [
            k
            for k, on in (
                ("storage", self.stored),
                ("arithmetic", self.arithmetic),
                ("accumulation", self.accumulation),
            )
            if on
        ]

    def label(self) -> str:
        return f"emulated from the platform table ({', '.join(self.applied) or 'nothing reduced'})"

    def to_dict(self) -> Dict:
        return {
            "applied": self.applied,
            "stored_tensors": self.stored,
            "saturated_tensors": self.saturated,
            "arithmetic_ops": dict(sorted(self.arithmetic.items())),
            "accumulation_ops": dict(sorted(self.accumulation.items())),
            "accumulation_not_modelled": dict(sorted(self.not_modelled.items())),
            "engine": self.engine,
            **({"fallback": self.fallback} if self.fallback else {}),
        }


def _saturating(platform, mode: str) -> bool:
    return platform.modes[mode].conversion == "saturate"


@dataclass
class StoragePlan:
    """Where values are rounded to a storage format: after an op (``tensors``), or on one edge only (``edges``:
    (tensor, first output of the reading op) -> format) for the fp32 result of an op that runs on a CPU backup,
    which is converted only where a reduced-precision op reads it; ``saturate``: those converted from fp32 on a
    platform whose conversion saturates at +-65504."""

    tensors: Dict[str, str] = field(default_factory=dict)
    edges: Dict[Tuple[str, str], str] = field(default_factory=dict)
    saturate: Set[str] = field(default_factory=set)

    def __len__(self) -> int:
        return len(self.tensors) + len({t for t, _ in self.edges})


def storage_plan(graph, platform, mode: str) -> StoragePlan:
    """The tensors (op outputs, graph inputs, initializers) and edges the target stores in fp16/bf16."""
    plan = StoragePlan()
    sat = _saturating(platform, mode)
    formats = {}
    producer = {}
    for op in graph.operators():
        if op.scope:
            continue
        formats[op.id] = platform.formats_for(mode, op)
        for name in op.outputs:
            producer[name] = op
    for op in graph.operators():
        if op.scope:
            continue
        f = formats[op.id]
        if f.storage not in REDUCED:
            continue
        from_fp32 = (f.arithmetic, f.accumulation) == ("fp32", "fp32")
        if f.cpu_fallback is None:
            for name in op.outputs:
                t = graph.tensors.get(name)
                if name and t is not None and (t.dtype or "").startswith("float"):
                    plan.tensors[name] = f.storage
                    if sat and from_fp32 and f.storage == "fp16":
                        plan.saturate.add(name)
        for name in op.inputs:
            t = graph.tensors.get(name)
            if not name or t is None or f.cpu_fallback is not None or (t.dtype or "float32") != "float32":
                continue  # an op on the fp32 backup reads what it is given, widened
            src = producer.get(name)
            if (src is not None and formats[src.id].cpu_fallback is not None) or t.is_input or t.is_const:
                plan.edges[(name, op.outputs[0])] = f.storage  # an fp32 value, converted where this op reads it
                if sat and f.storage == "fp16":
                    plan.saturate.add(name)
    return plan


def op_plan(graph, platform, mode: str) -> Dict[str, OpPlan]:
    """{first output: OpPlan} for the operators whose arithmetic or accumulation the table puts below fp32."""
    order = platform.modes[mode].accumulation_order
    plan: Dict[str, OpPlan] = {}
    for op in graph.operators():
        if op.scope or not op.outputs or not op.outputs[0]:
            continue
        f = platform.formats_for(mode, op)
        if (f.arithmetic, f.accumulation) == ("fp32", "fp32"):
            continue
        if order == "sequential":
            lanes = 1
        else:
            lanes = GEMM_LANES_UNKNOWN_ORDER if op.op in _GEMM_LIKE else REDUCTION_LANES_UNKNOWN_ORDER
        plan[op.outputs[0]] = OpPlan(op.op, f.arithmetic, f.accumulation, lanes)
    return plan


def emulated_model(
    source,
    plan: Dict[str, str],
    extra_outputs: List[str],
    saturate: Set[str] = frozenset(),
    edges: Optional[Dict[Tuple[str, str], str]] = None,
):
    """The ONNX model ``source`` (a path, or a ModelProto left unchanged) with Cast round trips after every tensor in
    ``plan`` and before the readers of ``edges`` ((tensor, reader's first output) -> format; see StoragePlan), a
    Clip to +-65504 first for the tensors in ``saturate``, and ``extra_outputs`` (intermediate tensors) added as
    graph outputs."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    if isinstance(source, str):
        model = onnx.load(source)
    else:
        model = onnx.ModelProto()
        model.CopyFrom(source)
    g = model.graph
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 13)
    inits = {i.name: i for i in g.initializer}
    inputs = {i.name for i in g.input} - set(inits)
    casts: Dict[str, List] = {}
    edges = edges or {}
    if saturate and opset >= 11:
        g.initializer.extend(
            [
                numpy_helper.from_array(np.array(-FP16_MAX, np.float32), "__fp16_lowest"),
                numpy_helper.from_array(np.array(FP16_MAX, np.float32), "__fp16_max"),
            ]
        )

    def pair(name: str, raw: str, fmt: str, out: str) -> List:
        nodes = []
        if name in saturate:
            clip_in = ["__fp16_lowest", "__fp16_max"] if opset >= 11 else []
            clip_attrs = {} if opset >= 11 else {"min": -FP16_MAX, "max": FP16_MAX}
            nodes.append(
                helper.make_node("Clip", [raw] + clip_in, [f"{out}__clamped"], name=f"{out}__saturate", **clip_attrs)
            )
            raw = f"{out}__clamped"
        return nodes + [
            helper.make_node("Cast", [raw], [f"{out}__stored"], to=REDUCED[fmt], name=f"{out}__to_{fmt}"),
            helper.make_node("Cast", [f"{out}__stored"], [out], to=TensorProto.FLOAT, name=f"{out}__from_{fmt}"),
        ]

    for name, fmt in plan.items():
        if name in inits and fmt == "fp16":  # a weight stored in fp16: round its values once
            arr = numpy_helper.to_array(inits[name]).astype(np.float32)
            if name in saturate:
                arr = np.clip(arr, -FP16_MAX, FP16_MAX)
            with np.errstate(over="ignore"):  # beyond 65504 becomes inf, as fp16 storage makes it
                stored = arr.astype(np.float16).astype(np.float32)
            inits[name].CopyFrom(numpy_helper.from_array(stored, name))
            continue
        casts[name] = pair(name, f"{name}{_RAW}", fmt, name)
    renamed = {}
    nodes = []
    for name in list(casts):  # graph inputs and bf16 weights: the pair reads the renamed tensor, first of all
        if name in inputs or name in inits:
            for inp in list(g.input) + list(g.initializer):
                if inp.name == name:
                    inp.name = f"{name}{_RAW}"
            renamed[f"{name}{_RAW}"] = name
            nodes += casts.pop(name)
    read_as: Dict[Tuple[str, str], str] = {}
    for node in g.node:
        for i, inp in enumerate(node.input):
            fmt = edges.get((inp, node.output[0] if node.output else ""))
            if fmt is None:
                continue
            if (inp, fmt) not in read_as:  # one conversion per tensor and format, before its first such reader
                read_as[(inp, fmt)] = f"{inp}__read_{fmt}"
                nodes += pair(inp, inp, fmt, read_as[(inp, fmt)])
            node.input[i] = read_as[(inp, fmt)]
        for i, out in enumerate(node.output):
            if out in casts:
                node.output[i] = f"{out}{_RAW}"
        nodes.append(node)
        for out in node.output:
            if out.endswith(_RAW) and out[: -len(_RAW)] in casts:
                nodes += casts[out[: -len(_RAW)]]
    del g.node[:]
    g.node.extend(nodes)
    known = {o.name for o in g.output}
    for name in extra_outputs:
        if name not in known:
            g.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
    return model, renamed


def _opset(model) -> int:
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 13)


def _names(model, extra_outputs: List[str]) -> List[str]:
    return [o.name for o in model.graph.output] + [
        n for n in extra_outputs if n not in {o.name for o in model.graph.output}
    ]


def run(
    path: str, graph, platform, mode: str, feeds, outputs: List[str], inter: List[str], storage_only: bool = False
) -> Tuple[Dict[str, object], Dict[str, object], Emulation]:
    """(emulated arrays, fp32 arrays, what was applied), by tensor name.

    ONNX Runtime when only storage applies (``storage_only``, or every op computes in fp32 on the target), else
    ONNX's reference evaluator with the reduced ops' kernels (falling back to storage only, said in the result,
    when the evaluator cannot run the model)."""
    from . import ort_run

    plan = storage_plan(graph, platform, mode)
    ops = {} if storage_only else op_plan(graph, platform, mode)
    floats = [n for n in inter if (graph.tensors[n].dtype or "") == "float32"]
    emulated, renamed = emulated_model(path, plan.tensors, floats, plan.saturate, plan.edges)
    reference, _ = emulated_model(path, {}, floats)
    info = Emulation(stored=len(plan), saturated=len(plan.saturate))
    t0 = time.monotonic()
    if ops:
        try:
            got = _evaluate(emulated, feeds, ops, info, renamed)
            want = _evaluate(reference, feeds, {}, Emulation())
            info.engine = "ONNX reference evaluator (numpy) with emulated kernels"
            info.seconds = time.monotonic() - t0
            names = _names(reference, floats)
            return ({n: got[n] for n in names if n in got}, {n: want[n] for n in names if n in want}, info)
        except Exception as exc:  # the evaluator lacks an op or an attribute: say so, emulate storage only
            info = Emulation(
                stored=len(plan),
                saturated=len(plan.saturate),
                fallback=f"the reference evaluator could not run the model ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0][:160] if str(exc) else ''}): storage only",
            )
    info.engine = "ONNX Runtime (CPU) with Cast round trips"
    # without graph optimisation: the Cast pairs must not be fused away
    got = ort_run.run(ort_run.session(emulated, optimize=False), feeds, renamed)
    want = ort_run.run(ort_run.session(reference, optimize=False), feeds)
    info.seconds = time.monotonic() - t0
    return got, want, info


def _evaluate(
    model, feeds, ops: Dict[str, OpPlan], info: Emulation, renamed: Optional[Dict[str, str]] = None
) -> Dict[str, object]:
    """Every tensor of ``model`` computed by ONNX's reference evaluator, the ops of ``ops`` with reduced formats.
    ``renamed``: graph input -> the feed's name (as ort_run.run)."""
    import numpy as np
    from onnx.helper import tensor_dtype_to_np_dtype
    from onnx.reference import ReferenceEvaluator

    from . import emulated_kernels as kernels

    opset = _opset(model)
    types = {p.op for p in ops.values()} - kernels.MOVING  # ops that only move values keep the evaluator's own
    classes = [_override(t, opset, ops, info) for t in sorted(types | {"GridSample"})]
    evaluator = ReferenceEvaluator(model, new_ops=[c for c in classes if c is not None])
    inits = {i.name for i in model.graph.initializer}
    inputs = {}
    for i in model.graph.input:
        if i.name not in inits:
            dtype = tensor_dtype_to_np_dtype(i.type.tensor_type.elem_type)
            inputs[i.name] = np.asarray(feeds[(renamed or {}).get(i.name, i.name)]).astype(dtype, copy=False)
    with np.errstate(all="ignore"):
        results = evaluator.run(None, inputs, intermediate=True)
    return {k: v for k, v in results.items() if isinstance(v, np.ndarray)}


def _override(op_type: str, opset: int, ops: Dict[str, OpPlan], info: Emulation):
    """A subclass of the evaluator's ``op_type`` whose nodes in ``ops`` compute with their reduced formats."""
    from onnx.reference.ops import load_op

    from . import emulated_kernels as kernels

    try:
        base = load_op("", op_type, opset)
    except Exception:  # an op the evaluator does not know: evaluating the model will say so
        return None

    def _run(self, *args, **attrs):
        out = self.onnx_node.output[0]
        p = ops.get(out[: -len(_RAW)] if out.endswith(_RAW) else out)
        if op_type == "GridSample":
            if p is None:  # fp32, but vectorised: the evaluator's own loops over every output pixel in Python
                fast = kernels.EMULATED["GridSample"](kernels.Formats("fp32", "fp32", 1), *args, **attrs)
                if fast is not None:
                    return fast
            if attrs.get("mode") in ("bilinear", "bicubic"):
                attrs["mode"] = {"bilinear": "linear", "bicubic": "cubic"}[attrs["mode"]]  # opset < 20 spellings
        if p is None:
            return base._run(self, *args, **attrs)
        f = kernels.Formats(p.arithmetic, p.accumulation, p.lanes)
        kernel = kernels.EMULATED.get(op_type)
        result = None
        if kernel is not None:
            result = (
                kernel(f, *args, _opset=opset, **attrs)
                if op_type in ("Softmax", "LogSoftmax")
                else kernel(f, *args, **attrs)
            )
        reducing = op_type in kernels.ACCUMULATING
        if result is None:
            if op_type in kernels.MOVING:
                return base._run(self, *args, **attrs)
            result = kernels.round_floats(
                base._run(self, *kernels.round_floats(args, p.arithmetic), **attrs), p.arithmetic
            )
            if reducing and p.accumulation != "fp32":
                info.not_modelled[op_type] = info.not_modelled.get(op_type, 0) + 1
        elif reducing and p.accumulation != "fp32":
            info.accumulation[op_type] = info.accumulation.get(op_type, 0) + 1
        if p.arithmetic != "fp32":
            info.arithmetic[op_type] = info.arithmetic.get(op_type, 0) + 1
        first = next((a for a in args if hasattr(a, "dtype") and a.dtype.kind == "f"), None)
        if first is not None:
            result = tuple(
                r.astype(first.dtype, copy=False) if hasattr(r, "dtype") and r.dtype.kind == "f" else r for r in result
            )
        return tuple(result)

    return type(op_type, (base,), {"op_domain": "", "_run": _run})
