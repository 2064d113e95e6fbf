"""What the graph proves about value ranges: interval propagation from constants, declared input ranges and ops
whose output is bounded whatever their input (Sigmoid, Tanh, Softmax, Clip, normalisations...).

Rules use it to tell "Exp of a value the graph bounds to [-8, 0]" (safe) from "Exp of an activation" (conditional).
Unknown is None; the analysis never guesses.  Every interval is sound (the value cannot leave it, given the declared
input ranges).  An interval is also *tight* when its ends are reached or approached for some input in the declared
ranges: constants, declared inputs, Sigmoid of an unbounded value, x * const ...  Worst-case bounds such as a
MatMul's sum of |weights| x max|x| or a LayerNorm's sqrt(N) are sound but not tight: a rule may call a value
"safe" from any bound, but "overflows" only from a tight one.

Bounds are computed on demand per tensor, without recursion (deep graphs are fine), and memoised.
"""

from __future__ import annotations

import math
from typing import Dict, List, Mapping, Optional, Tuple

import numpy as np

from ..model.graph import ModelGraph, Operator
from .constants import constant_stats

Interval = Tuple[float, float]
Bound = Tuple[float, float, bool]  # (lo, hi, tight)

_INF = math.inf

# Ops with an output range whatever the input; for monotone ones the input's range narrows it (see _UNARY).
_FIXED: Dict[str, Interval] = {
    "Sigmoid": (0.0, 1.0),
    "HardSigmoid": (0.0, 1.0),
    "Softmax": (0.0, 1.0),
    "Tanh": (-1.0, 1.0),
    "Sin": (-1.0, 1.0),
    "Cos": (-1.0, 1.0),
    "Erf": (-1.0, 1.0),
    "Relu6": (0.0, 6.0),
    "Sign": (-1.0, 1.0),
    "LogSoftmax": (-_INF, 0.0),
    "Softsign": (-1.0, 1.0),
    "Equal": (0.0, 1.0),
    "Greater": (0.0, 1.0),
    "Less": (0.0, 1.0),
    "GreaterOrEqual": (0.0, 1.0),
    "LessOrEqual": (0.0, 1.0),
    "Not": (0.0, 1.0),
    "And": (0.0, 1.0),
    "Or": (0.0, 1.0),
    "Xor": (0.0, 1.0),
    "IsNaN": (0.0, 1.0),
    "IsInf": (0.0, 1.0),
}
# Data movement and convex combinations: the output stays within the input's range.
_PASS = frozenset(
    {
        "Cast",
        "Reshape",
        "Transpose",
        "Squeeze",
        "Unsqueeze",
        "Flatten",
        "Identity",
        "Expand",
        "ConvertTensor",
        "Slice",
        "Gather",
        "Tile",
        "MaxPool",
        "GlobalMaxPool",
        "Dropout",
        "Split",
        "ReduceMax",
        "ReduceMin",
        "ReduceMean",
        "AveragePool",
        "GlobalAveragePool",
        "Resize",
        "DepthToSpace",
        "SpaceToDepth",
        "GatherElements",
        "GatherND",
        "Upsample",
        "Compress",
        "ReverseSequence",
        "Reverse",
        "MaxUnpool",
        "Col2Im",
        "SequenceAt",
    }
)
# Elementwise arithmetic (Bounds._binary) and ops whose output sums weighted inputs (Bounds._linear).
_ARITHMETIC = frozenset({"Add", "Sub", "Mul", "Div", "Max", "Min", "Pow", "Sum", "Mean", "Mod"})
_LINEAR = frozenset({"MatMul", "Gemm", "Conv", "ConvTranspose", "Einsum"})


def _sigmoid(v: float) -> float:
    if v >= 0:
        return 1.0 / (1.0 + math.exp(-v))
    e = math.exp(v)
    return e / (1.0 + e)


def _softplus(v: float) -> float:
    return v + math.log1p(math.exp(-v)) if v > 0 else math.log1p(math.exp(v))


def _gelu(v: float) -> float:
    return 0.5 * v * (1.0 + math.erf(v / math.sqrt(2.0)))


# Monotone non-decreasing unary functions: the image of [lo, hi] is [f(lo), f(hi)].
_UNARY = {
    "Exp": math.exp,
    "Log": lambda v: math.log(v) if v > 0 else -_INF,
    "Sqrt": lambda v: math.sqrt(max(v, 0.0)),
    "Floor": math.floor,
    "Ceil": math.ceil,
    "Round": round,
    "Softplus": _softplus,
    "Atan": math.atan,
    "Sigmoid": _sigmoid,
    "Tanh": math.tanh,
    "Erf": math.erf,
    "Softsign": lambda v: v / (1.0 + abs(v)),
    "Relu": lambda v: max(v, 0.0),
    "Asinh": math.asinh,
    "Sinh": math.sinh,
}
# Functions with a minimum below zero: the image of [lo, hi] is [max(min_value, f(lo)) or min_value, f(hi)].
_DIP = {
    "Gelu": (-0.170041, _gelu),
    "HardSwish": (-0.375, lambda v: v * min(max(v + 3.0, 0.0), 6.0) / 6.0),
    "Mish": (-0.308754, lambda v: v * math.tanh(_softplus(v))),
    "Swish": (-0.278465, lambda v: v * _sigmoid(v)),
    "Silu": (-0.278465, lambda v: v * _sigmoid(v)),
}
_DIP_ARGMIN = {"Gelu": -0.751791, "HardSwish": -1.5, "Mish": -1.19214, "Swish": -1.27846, "Silu": -1.27846}


def _safe(f, v: float) -> float:
    """f(v) for interval ends, infinities included: overflow gives +-inf, and a limit the formula cannot take at
    infinity (x * 0 forms such as GELU at -inf) is taken at a huge finite value instead."""
    try:
        r = float(f(v))
    except OverflowError:
        if math.isinf(v):
            return v  # floor/ceil/round of an infinity
        return _INF if v > 0 else -_INF
    except ValueError:
        return math.nan
    if math.isnan(r) and math.isinf(v):
        try:
            return float(f(math.copysign(1e300, v)))
        except (OverflowError, ValueError):
            return math.nan
    return r


def _mul(a: Interval, b: Interval) -> Interval:
    prods = []
    for x in a:
        for y in b:
            if (x == 0 and math.isinf(y)) or (y == 0 and math.isinf(x)):
                prods.append(0.0)
            else:
                prods.append(x * y)
    return (min(prods), max(prods))


def _recip(v: float) -> float:
    """1/v for v != 0 of an interval that excludes 0 (1/inf = 0)."""
    return 0.0 if math.isinf(v) else 1.0 / v


def _count(dims) -> int:
    """int(np.prod(dims, dtype=np.float64)): the element count of a shape, exact and without numpy for the usual
    shape (positive integer sizes, a product below 2**53, so every partial product is exact in float64 too)."""
    n = 1
    for d in dims:
        if type(d) is not int or d < 1:
            return int(np.prod(dims, dtype=np.float64))
        n *= d
    return n if n < 2**53 else int(np.prod(dims, dtype=np.float64))


def _abs_max(b: Interval) -> float:
    return max(abs(b[0]), abs(b[1]))


class Bounds:
    """Interval per tensor, computed on demand and memoised; ``input_ranges`` are the user's declarations."""

    def __init__(self, graph: ModelGraph, input_ranges: Optional[Mapping[str, Interval]] = None):
        self.graph = graph
        self.input_ranges = {k: (float(v[0]), float(v[1])) for k, v in dict(input_ranges or {}).items()}
        self._memo: Dict[str, Optional[Bound]] = {}
        self._l1: Dict[tuple, float] = {}
        # Outputs of operators on a cycle (only malformed files have one) are unknown: a range computed around a
        # cycle would depend on which member was asked first, so on which rules run and in what order.
        on_cycles = graph.ops_on_cycles()
        self._cyclic = {o for i in on_cycles for o in graph.ops[i].outputs if o}
        # When file order is topological (ModelGraph.in_file_order: ONNX requires it, MNN writes it), a range
        # whose inputs are not known yet is reached by computing the outputs of the operators before its
        # producer in file order, each with its inputs already known, instead of a depth-first walk from it (which
        # cost a fifth more on a 14k-operator transformer whose first rule asks for Exp inputs).  The ranges are
        # the same: each is a function of its inputs' ranges, and rules ask for almost every output anyway.
        self._order = list(graph.operators()) if graph.in_file_order and not on_cycles else None
        self._position = {o.id: i for i, o in enumerate(self._order)} if self._order is not None else {}
        self._done = 0  # the operators before this position in self._order have their outputs computed
        self._catching_up = False

    # ----- public ---------------------------------------------------------------------------------------------
    def of(self, tensor_name: str) -> Optional[Interval]:
        """(lo, hi) the tensor's values lie in, or None when the graph does not say."""
        b = self.bound(tensor_name)
        return None if b is None else (b[0], b[1])

    def tight(self, tensor_name: str) -> bool:
        """Whether the interval's ends are reached or approached (see the module docstring)."""
        b = self.bound(tensor_name)
        return bool(b is not None and b[2])

    def bound(self, tensor_name: str) -> Optional[Bound]:
        memo = self._memo
        if tensor_name in memo:
            return memo[tensor_name]
        t = self.graph.tensors.get(tensor_name)
        op = None
        if not (
            t is None
            or t.is_const
            or t.producer is None
            or tensor_name in self.input_ranges
            or tensor_name in self._cyclic
        ):
            op = self.graph.ops.get(t.producer)
        if op is None:  # no inputs of its own (a constant, a graph input, a declared range...)
            b = memo[tensor_name] = self._compute(tensor_name)
            return b
        # rules walking operators in file order find the inputs already known, or constants and graph inputs
        # (which have no inputs of their own): no stack needed then
        for d in op.inputs:
            if d and d not in memo:
                if self._deps(d):
                    self._catch_up(tensor_name)
                    self._evaluate(tensor_name)  # its inputs are known now, or the depth-first walk finds them
                    return memo.get(tensor_name)
                memo[d] = self._compute(d)
        b = memo[tensor_name] = self._output_of(op, tensor_name)
        return b

    def _catch_up(self, tensor_name: str) -> None:
        """Compute, in file order, the outputs of the operators before ``tensor_name``'s producer (see __init__)."""
        if self._order is None or self._catching_up:
            return  # a graph not in file order, or a tensor asked for while catching up: the depth-first walk
        t = self.graph.tensors.get(tensor_name)
        end = self._position.get(t.producer) if t is not None and t.producer is not None else None
        if end is None or end <= self._done:
            return
        self._catching_up = True
        try:
            memo, order = self._memo, self._order
            for i in range(self._done, end):
                for name in order[i].outputs:
                    if name and name not in memo:
                        try:
                            self.bound(name)
                        except Exception:  # noqa: BLE001 - left unknown here: computed (and raising) if asked for
                            pass
            self._done = end
        finally:
            self._catching_up = False

    # ----- evaluation without recursion -----------------------------------------------------------------------
    def _deps(self, name: str) -> List[str]:
        t = self.graph.tensors.get(name)
        if t is None or name in self.input_ranges or t.is_const or t.producer is None or name in self._cyclic:
            return []
        op = self.graph.ops.get(t.producer)
        return [i for i in op.inputs if i] if op is not None else []

    def _evaluate(self, root: str) -> None:
        stack = [root]
        visiting = set()
        while stack:
            name = stack[-1]
            if name in self._memo:
                stack.pop()
                continue
            if name not in visiting:
                visiting.add(name)
                pending = [d for d in self._deps(name) if d not in self._memo and d not in visiting]
                if pending:
                    # in input order, so the last input read (a MatMul's weight) is computed right before its
                    # consumer, which reads it again while it is the value the graph keeps at hand
                    stack.extend(reversed(pending))
                    continue
            self._memo[name] = self._compute(name)  # inputs are memoised (or part of a cycle: unknown)
            stack.pop()

    def _compute(self, name: str) -> Optional[Bound]:
        g = self.graph
        t = g.tensors.get(name)
        if t is None:
            return None
        if name in self.input_ranges:
            lo, hi = self.input_ranges[name]
            return (lo, hi, True)
        if t.is_const:
            try:
                stats = constant_stats(t)  # shared with the rule views: one pass set per weight
                if not stats and t.dtype == "bool":
                    v = t.value
                    return (float(np.min(v)), float(np.max(v)), True) if v is not None and v.size else None
            except Exception:  # noqa: BLE001 - a value that cannot be read is unknown, not an error here
                return None
            if not stats or math.isnan(stats["nan_min"]):  # empty, non-numeric or all NaN
                return None
            return (stats["nan_min"], stats["nan_max"], True)
        if t.producer is None:
            return self._gather_indices(t)
        if name in self._cyclic:
            return None
        return self._output_of(g.ops[t.producer], name)

    def _output_of(self, op: Operator, name: str) -> Optional[Bound]:
        """The range of ``name``, an output of ``op`` (not on a cycle), from its inputs' memoised ranges."""
        try:
            out_index = op.outputs.index(name)
        except ValueError:
            out_index = 0
        try:
            b = self._through(op, out_index)
        except (OverflowError, ValueError, ZeroDivisionError, TypeError, IndexError):
            return None
        if b is None:
            return None
        lo, hi, tight = b
        if math.isnan(lo) or math.isnan(hi) or lo > hi:
            return None
        return (float(lo), float(hi), bool(tight))

    def _gather_indices(self, t) -> Optional[Bound]:
        """An integer graph input that indexes a Gather table of N rows (position ids, token ids) lies in
        [-N, N-1]: any other value is out of range for that Gather and the model fails.  Not tight."""
        if not t.is_input or not (t.dtype or "").startswith(("int", "uint")):
            return None
        sizes = []
        for cid in t.consumers:
            op = self.graph.ops.get(cid)
            if op is None or op.op != "Gather" or len(op.inputs) < 2 or op.inputs[1] != t.name:
                continue
            table = self.graph.tensors.get(op.inputs[0])
            axis = int(op.attrs.get("axis", 0) or 0)
            shape = table.shape if table is not None else None
            if shape and -len(shape) <= axis < len(shape) and isinstance(shape[axis], int) and shape[axis] > 0:
                sizes.append(shape[axis])
        if not sizes:
            return None
        n = min(sizes)
        return (-float(n), float(n - 1), False)

    # ----- helpers --------------------------------------------------------------------------------------------
    def _in(self, op: Operator, i: int) -> Optional[Bound]:
        if i >= len(op.inputs) or not op.inputs[i]:
            return None
        return self._memo.get(op.inputs[i])

    def _const_tensor(self, op: Operator, i: int):
        """The constant behind input i, looking through Identity/Cast (exporters wrap shared weights in Identity)."""
        if i >= len(op.inputs) or not op.inputs[i] or op.inputs[i] not in self.graph.tensors:
            return None
        t = self.graph.source_of(op.inputs[i])
        return t if t.is_const else None

    def _is_const(self, op: Operator, i: int) -> bool:
        return self._const_tensor(op, i) is not None

    def _const(self, op: Operator, i: int) -> Optional[np.ndarray]:
        """The constant's values: floats in their own type (a float64 copy of every weight cost more than the rest
        of the analysis), other types as float64."""
        t = self._const_tensor(op, i)
        if t is None:
            return None
        try:
            v = t.value
        except Exception:  # noqa: BLE001
            return None
        if v is None:
            return None
        return v if v.dtype.kind == "f" else np.asarray(v, dtype=np.float64)

    def _shape(self, op: Operator, i: int, output: bool = False):
        return self.graph.shape(op, i, output=output)

    def _reduced_count(self, op: Operator) -> Optional[int]:
        """Elements combined into each output of a reduction: input size / output size."""
        si, so = self._shape(op, 0), self._shape(op, 0, output=True)
        if not si or so is None or any(d is None for d in si) or any(d is None for d in so):
            return None
        n_in = _count(si)
        n_out = _count(so) if so else 1
        return max(1, n_in // max(n_out, 1))

    # ----- op semantics ---------------------------------------------------------------------------------------
    def _through(self, op: Operator, out_index: int) -> Optional[Bound]:  # noqa: C901 - a table of op semantics
        kind = op.op
        # the commonest kinds first (none of them is special-cased below): data movement, arithmetic, linear ops
        if kind in _PASS:
            return self._in(op, 0) if out_index == 0 or kind == "Split" else None
        if kind in _ARITHMETIC:
            return self._binary(op, kind, self._in(op, 0)) if out_index == 0 else None
        if kind in _LINEAR:
            return self._linear(op, kind) if out_index == 0 else None
        x = self._in(op, 0)
        if kind in ("ArgMax", "ArgMin") or (kind == "TopK" and out_index == 1):
            si = self._shape(op, 0)
            axis = int(op.attrs.get("axis", -1))
            if si and -len(si) <= axis < len(si) and si[axis] is not None:
                return (0.0, float(si[axis] - 1), True)
            return (0.0, _INF, True)
        if out_index > 0 and kind not in ("Split",):
            return None
        if kind in _FIXED:
            lo, hi = _FIXED[kind]
            if kind in _UNARY and x is not None:
                f = _UNARY[kind]
                return (_safe(f, x[0]), _safe(f, x[1]), x[2])
            if kind in ("Sin", "Cos") and x is not None and x[1] - x[0] < 2 * math.pi:
                pts = np.linspace(x[0], x[1], 1025)
                vals = np.sin(pts) if kind == "Sin" else np.cos(pts)
                return (float(np.min(vals)), float(np.max(vals)), x[2])
            return (lo, hi, True)
        if kind == "Clip":
            lo_t = self._in(op, 1) if len(op.inputs) > 1 and op.inputs[1] else None
            hi_t = self._in(op, 2) if len(op.inputs) > 2 and op.inputs[2] else None
            lo_v = lo_t[0] if lo_t else float(op.attrs.get("min", -_INF))
            hi_v = hi_t[1] if hi_t else float(op.attrs.get("max", _INF))
            tight = True
            if x is not None:
                lo_v, hi_v = max(lo_v, x[0]), min(hi_v, x[1])
                tight = x[2]
            if (lo_v, hi_v) == (-_INF, _INF):
                return None
            return (min(lo_v, hi_v), hi_v, tight)
        if kind in _PASS:
            return x
        if kind in _UNARY:
            if kind == "Relu" and x is None:
                return (0.0, _INF, True)
            if x is None:
                if kind == "Exp":
                    return (0.0, _INF, True)
                if kind in ("Sqrt", "Softplus"):
                    return (0.0, _INF, True)
                return None
            f = _UNARY[kind]
            return (_safe(f, x[0]), _safe(f, x[1]), x[2])
        if kind in _DIP:
            floor, f = _DIP[kind]
            if x is None:
                return (floor, _INF, True)
            lo = min(_safe(f, x[0]), _safe(f, x[1])) if not (x[0] <= _DIP_ARGMIN[kind] <= x[1]) else floor
            return (lo, max(_safe(f, x[1]), _safe(f, x[0])), x[2])
        if kind in ("LeakyRelu", "Elu", "Selu", "Celu", "ThresholdedRelu"):
            if x is None:
                return None
            alpha = float(op.attrs.get("alpha", 0.01 if kind == "LeakyRelu" else 1.0))
            if kind == "LeakyRelu":
                return (min(x[0], alpha * x[0]), max(x[1], alpha * x[1]), x[2])
            if kind == "ThresholdedRelu":
                return (0.0, max(x[1], 0.0), x[2])
            gamma = float(op.attrs.get("gamma", 1.0507)) if kind == "Selu" else 1.0
            if kind == "Selu":
                alpha = float(op.attrs.get("alpha", 1.67326))
            lo = gamma * (alpha * math.expm1(min(x[0], 0.0)) if x[0] < 0 else x[0])
            return (lo, gamma * max(x[1], alpha * math.expm1(min(x[1], 0.0))), x[2])
        if kind == "Neg":
            return None if x is None else (-x[1], -x[0], x[2])
        if kind == "Square":  # MNN's UnaryOp SQUARE: the converter's spelling of Mul(x, x)
            if x is None:
                return None
            return (0.0 if x[0] <= 0 <= x[1] else min(x[0] * x[0], x[1] * x[1]), max(x[0] * x[0], x[1] * x[1]), x[2])
        if kind == "Abs":
            return None if x is None else (0.0 if x[0] <= 0 <= x[1] else min(abs(x[0]), abs(x[1])), _abs_max(x), x[2])
        if kind == "Square":  # MNN's spelling of x * x and Pow(x, 2)
            if x is None:
                return (0.0, _INF, True)
            return (0.0 if x[0] <= 0 <= x[1] else min(x[0] * x[0], x[1] * x[1]), max(x[0] * x[0], x[1] * x[1]), x[2])
        if kind == "Reciprocal":
            if x is None or x[0] <= 0 <= x[1]:
                return None
            return (_recip(x[1]), _recip(x[0]), x[2])
        if kind == "SquaredDifference":  # MNN's (a - b)^2: its converter's form of a variance's Sub, then Mul
            d = self._binary(op, "Sub", x)
            if d is None:
                return None
            lo = 0.0 if d[0] <= 0 <= d[1] else min(d[0] * d[0], d[1] * d[1])
            return (lo, max(d[0] * d[0], d[1] * d[1]), d[2])
        if kind in ("Concat", "Where"):
            idx = range(len(op.inputs)) if kind == "Concat" else (1, 2)
            parts = [self._in(op, i) for i in idx]
            if not parts or any(p is None for p in parts):
                return None
            return (min(p[0] for p in parts), max(p[1] for p in parts), all(p[2] for p in parts))
        if kind == "Pad":
            value = self._in(op, 2) if len(op.inputs) > 2 and op.inputs[2] else (0.0, 0.0, True)
            mode = op.attrs.get("mode", "constant")
            if x is None or value is None:
                return None
            if mode != "constant":
                return x
            return (min(x[0], value[0]), max(x[1], value[1]), x[2])
        if kind == "Trilu":
            return None if x is None else (min(x[0], 0.0), max(x[1], 0.0), x[2])
        if kind == "Range":
            return self._range(op)
        if kind in ("Shape", "Size"):
            si = self._shape(op, 0)
            if not si or any(d is None for d in si):
                return (0.0, _INF, False)
            if kind == "Size":
                n = float(np.prod(si, dtype=np.float64))
                return (n, n, True)
            return (float(min(si)), float(max(si)), True)
        if kind in (
            "ReduceSum",
            "ReduceL1",
            "ReduceL2",
            "ReduceSumSquare",
            "ReduceLogSumExp",
            "ReduceLogSum",
            "CumSum",
            "ReduceProd",
        ):
            return self._reduction(op, kind, x)
        if kind in (
            "LayerNormalization",
            "SimplifiedLayerNormalization",
            "SkipLayerNormalization",
            "SkipSimplifiedLayerNormalization",
            "InstanceNormalization",
            "GroupNormalization",
            "RMSNormalization",
        ):
            return self._normalization(op, kind)
        if kind == "BatchNormalization":
            return self._batchnorm(op, x)
        if kind == "GridSample":
            return None if x is None else (min(x[0], 0.0), max(x[1], 0.0), False)
        return None

    def _binary(self, op: Operator, kind: str, x: Optional[Bound]) -> Optional[Bound]:
        if kind in ("Sum", "Mean"):
            parts = [self._in(op, i) for i in range(len(op.inputs))]
            if not parts or any(p is None for p in parts):
                return None
            lo, hi = sum(p[0] for p in parts), sum(p[1] for p in parts)
            if kind == "Mean":
                lo, hi = lo / len(parts), hi / len(parts)
            return (lo, hi, len(parts) == 1 and parts[0][2])
        y = self._in(op, 1)
        same = len(op.inputs) > 1 and op.inputs[0] == op.inputs[1]
        if kind == "Sub" and self._is_minus_own_max(op):  # x - max(x): the softmax-stable form, never above 0
            return ((x[0] - x[1]) if x is not None else -_INF, 0.0, True)
        if kind == "Mul" and same and x is not None:  # x * x
            lo = 0.0 if x[0] <= 0 <= x[1] else min(x[0] * x[0], x[1] * x[1])
            return (lo, max(x[0] * x[0], x[1] * x[1]), x[2])
        if kind == "Pow":
            return self._pow(op, x)
        if kind == "Mod":
            d = self._const(op, 1)
            if d is None or d.size == 0:
                return None
            m = float(np.max(np.abs(d)))
            return ((0.0 if np.all(d > 0) else -m), m, False)
        if x is None or y is None:
            return None
        # Tight when both ends are reached: both operands tight and one of them a constant (independent extremes).
        tight = x[2] and y[2] and (self._is_const(op, 0) or self._is_const(op, 1))
        if kind == "Add":
            return (x[0] + y[0], x[1] + y[1], tight)
        if kind == "Sub":
            if same:
                return (0.0, 0.0, True)
            return (x[0] - y[1], x[1] - y[0], tight)
        if kind == "Mul":
            lo, hi = _mul(x[:2], y[:2])
            return (lo, hi, tight)
        if kind == "Max":
            return (max(x[0], y[0]), max(x[1], y[1]), tight or (x[2] and y[2]))
        if kind == "Min":
            return (min(x[0], y[0]), min(x[1], y[1]), tight or (x[2] and y[2]))
        if kind == "Div":
            if y[0] > 0 or y[1] < 0:
                lo, hi = _mul(x[:2], (_recip(y[1]), _recip(y[0])))
                return (lo, hi, tight)
            return None
        return None

    def _pow(self, op: Operator, x: Optional[Bound]) -> Optional[Bound]:
        e = self._const(op, 1)
        if e is None or e.size != 1 or x is None:
            if e is not None and e.size == 1 and x is None:
                p = float(e.ravel()[0])
                if p > 0 and p == int(p) and int(p) % 2 == 0:
                    return (0.0, _INF, True)
            return None
        p = float(e.ravel()[0])
        lo, hi, tight = x
        if p == int(p):
            ip = int(p)
            if ip == 0:
                return (1.0, 1.0, True)
            if ip > 0 and ip % 2 == 0:
                m = _abs_max((lo, hi))
                low = 0.0 if lo <= 0 <= hi else min(abs(lo), abs(hi)) ** ip
                return (low, _safe(lambda v: v**ip, m), tight)
            if ip > 0:
                return (_safe(lambda v: v**ip, lo), _safe(lambda v: v**ip, hi), tight)
            if lo > 0:  # negative integer power of a positive value: decreasing
                return (_safe(lambda v: v**ip, hi), _safe(lambda v: v**ip, lo), tight)
            return None
        if lo < 0:
            return None  # a fractional power of a negative value is NaN
        if p > 0:
            return (lo**p, _safe(lambda v: v**p, hi), tight)
        return (hi**p if hi > 0 else _INF, lo**p if lo > 0 else _INF, tight)

    def _range(self, op: Operator) -> Optional[Bound]:
        start, limit, delta = (self._const(op, i) for i in range(3))
        if (
            start is not None
            and limit is not None
            and delta is not None
            and start.size == limit.size == delta.size == 1
        ):
            s, l, d = float(start.ravel()[0]), float(limit.ravel()[0]), float(delta.ravel()[0])
            if d == 0:
                return None
            n = max(int(math.ceil((l - s) / d)), 0)
            if n == 0:
                return None
            last = s + (n - 1) * d
            return (min(s, last), max(s, last), True)
        a, b = self._in(op, 0), self._in(op, 1)
        if a is None or b is None:
            return None
        return (min(a[0], b[0]), max(a[1], b[1]), False)

    def _reduction(self, op: Operator, kind: str, x: Optional[Bound]) -> Optional[Bound]:
        if x is None:
            if kind in ("ReduceL1", "ReduceL2", "ReduceSumSquare"):
                return (0.0, _INF, True)
            return None
        if kind == "CumSum":
            si = self._shape(op, 0)
            axis = self._const(op, 1)
            if not si or axis is None or axis.size != 1:
                return None
            a = int(axis.ravel()[0])
            n = si[a] if -len(si) <= a < len(si) else None
        else:
            n = self._reduced_count(op)
        if n is None:
            return None
        lo, hi, tight = x
        m = _abs_max((lo, hi))
        if kind in ("ReduceSum", "CumSum"):
            if kind == "CumSum":
                return (min(lo, n * lo), max(hi, n * hi), tight)
            return (n * lo, n * hi, tight)
        if kind == "ReduceL1":
            return (0.0, n * m, tight)
        if kind == "ReduceL2":
            return (0.0, math.sqrt(n) * m, tight)
        if kind == "ReduceSumSquare":
            return (0.0, n * m * m, tight)
        if kind == "ReduceLogSumExp":
            return (lo, hi + math.log(n), False)
        if kind == "ReduceLogSum":
            return (_safe(math.log, n * lo) if lo > 0 else -_INF, _safe(math.log, n * hi), False)
        if kind == "ReduceProd":
            return None
        return None

    def _normalization(self, op: Operator, kind: str) -> Optional[Bound]:
        """Normalised values have mean 0 and variance 1 over N elements, so |z| <= sqrt(N - 1) (sqrt(N) for RMS
        norms); y = z * scale + bias.  Sound, never tight."""
        si = self._shape(op, 0)
        if not si or any(d is None for d in si):
            return None
        if kind in ("InstanceNormalization",):
            n = _count(si[2:]) if len(si) > 2 else 1
        elif kind == "GroupNormalization":
            groups = int(op.attrs.get("num_groups", 1)) or 1
            n = _count(si[1:]) // groups if len(si) > 1 else 1
        else:
            axis = int(op.attrs.get("axis", -1))
            axis = axis + len(si) if axis < 0 else axis
            n = _count(si[axis:])
        rms = kind in ("SimplifiedLayerNormalization", "SkipSimplifiedLayerNormalization", "RMSNormalization")
        z = math.sqrt(n) if rms else math.sqrt(max(n - 1, 0))
        scale_i = 2 if kind.startswith("Skip") else 1
        bias_i = 3 if kind.startswith("Skip") else 2
        scale = self._const(op, scale_i) if len(op.inputs) > scale_i and op.inputs[scale_i] else np.ones(1)
        if scale is None:
            return None
        bias = self._const(op, bias_i) if len(op.inputs) > bias_i and op.inputs[bias_i] else np.zeros(1)
        if bias is None:
            return None
        m = z * float(np.max(np.abs(scale))) + (float(np.max(np.abs(bias))) if bias.size else 0.0)
        return (-m, m, False)

    def _batchnorm(self, op: Operator, x: Optional[Bound]) -> Optional[Bound]:
        if x is None:
            return None
        vals = [self._const(op, i) for i in range(1, 5)]
        if any(v is None for v in vals):
            return None
        scale, bias, mean, var = (np.asarray(v, dtype=np.float64).ravel() for v in vals)  # per-channel vectors
        eps = float(op.attrs.get("epsilon", 1e-5))
        try:
            a = scale / np.sqrt(var + eps)
            b = bias - mean * a
            ends = np.stack([a * x[0] + b, a * x[1] + b])
        except ValueError:
            return None
        return (float(np.min(ends)), float(np.max(ends)), x[2])

    def _l1_max(self, op: Operator, i: int, w: np.ndarray, axis) -> float:
        """Largest sum of |w| over ``axis`` (cached per weight tensor: weights can be large)."""
        key = (op.inputs[i], axis, w.shape)
        v = self._l1.get(key)
        if v is None:
            v = self._l1[key] = float(np.max(np.sum(np.abs(w), axis=axis, dtype=np.float64))) if w.size else 0.0
        return v

    def _linear(self, op: Operator, kind: str) -> Optional[Bound]:
        """|y| <= (largest L1 norm of the weights feeding one output) * max|x| + max|bias|: sound, not tight."""
        a, b = self._in(op, 0), self._in(op, 1)
        if kind == "Einsum":
            return self._einsum(op)
        # a weight is read only for the branch that uses it: with A unknown, B's weights cannot bound the output
        # (and external weights are read from their file on each access)
        wb = self._const(op, 1) if a is not None else None
        if len(op.inputs) <= 2 or not op.inputs[2]:
            bias_m = 0.0  # no bias (most MatMuls): what max|zeros(1)| gave, without three numpy calls per operator
        else:
            bias = self._const(op, 2)
            if bias is None:
                c = self._in(op, 2)
                if c is None:
                    return None
                bias_m = _abs_max(c)
            else:
                bias_m = float(np.max(np.abs(bias))) if bias.size else 0.0
        if kind == "Gemm":
            bias_m *= abs(float(op.attrs.get("beta", 1.0)))
        alpha = abs(float(op.attrs.get("alpha", 1.0))) if kind == "Gemm" else 1.0
        if kind in ("Conv", "ConvTranspose"):
            if a is None or wb is None or wb.ndim < 2:
                return None
            if kind == "Conv":
                l1 = self._l1_max(op, 1, wb.reshape(wb.shape[0], -1), -1)
            else:  # [C_in, C_out/group, k...]: each output sums over input channels and kernel taps
                l1 = self._l1_max(op, 1, np.moveaxis(wb, 1, 0).reshape(wb.shape[1], -1), -1)
            m = l1 * _abs_max(a) + bias_m
            return (-m, m, False)
        # MatMul / Gemm: the L1 norm of a column of B (or a row of A) bounds each output
        if wb is not None and a is not None and wb.ndim >= 1:
            w = wb.T if (kind == "Gemm" and op.attrs.get("transB", 0)) else wb
            l1 = self._l1_max(op, 1, w, -2 if w.ndim > 1 else 0)
            m = alpha * l1 * _abs_max(a) + bias_m
            return (-m, m, False)
        wa = self._const(op, 0) if b is not None else None
        if wa is not None and wa.ndim >= 1:
            w = wa.T if (kind == "Gemm" and op.attrs.get("transA", 0)) else wa
            l1 = self._l1_max(op, 0, w, -1)
            m = alpha * l1 * _abs_max(b) + bias_m
            return (-m, m, False)
        if a is None or b is None:
            return None
        sa = self._shape(op, 0)
        if not sa or sa[-1] is None:
            return None
        k = sa[0] if (kind == "Gemm" and op.attrs.get("transA", 0)) else sa[-1]
        m = alpha * k * _abs_max(a) * _abs_max(b) + bias_m
        return (-m, m, False)

    def _einsum(self, op: Operator) -> Optional[Bound]:
        eq = str(op.attrs.get("equation", "")).replace(" ", "")
        if "->" not in eq or "." in eq or len(op.inputs) != 2:
            return None
        lhs, out = eq.split("->")
        terms = lhs.split(",")
        parts = [self._in(op, i) for i in range(2)]
        if any(p is None for p in parts) or len(terms) != 2:
            return None
        contracted = (set(terms[0]) | set(terms[1])) - set(out)
        k = 1
        for letter in contracted:
            size = None
            for i, term in enumerate(terms):
                s = self._shape(op, i)
                if s and letter in term and len(s) == len(term):
                    size = s[term.index(letter)]
                    break
            if size is None:
                return None
            k *= size
        lo, hi = _mul(parts[0][:2], parts[1][:2])
        if k == 1:
            tight = parts[0][2] and parts[1][2] and (self._is_const(op, 0) or self._is_const(op, 1))
            return (lo, hi, tight)
        m = k * max(abs(lo), abs(hi))
        return (-m, m, False)

    def _is_minus_own_max(self, op: Operator) -> bool:
        """Sub(x, ReduceMax(x)): the usual guard in front of Exp."""
        g = self.graph
        if len(op.inputs) < 2:
            return False
        rhs = g.tensors.get(op.inputs[1])
        if rhs is None or rhs.producer is None:
            return False
        p = g.ops[rhs.producer]
        return (
            p.op in ("ReduceMax", "ArgMax")
            and bool(p.inputs)
            and g.source_of(p.inputs[0]).name == g.source_of(op.inputs[0]).name
        )
