"""What the graph proves about value ranges: interval propagation from constants, declared input ranges and ops
whose output is bounded whatever their input (Sigmoid, Tanh, Softmax, Clip...).

Rules use it to tell "Exp of a value the graph bounds to [-8, 0]" (safe) from "Exp of an activation" (conditional).
Unknown is None; the analysis never guesses.
"""
from __future__ import annotations

import math
from typing import Dict, Mapping, Optional, Tuple

import numpy as np

from ..graph import ModelGraph, Operator

Interval = Tuple[float, float]

_FIXED: Dict[str, Interval] = {
    "Sigmoid": (0.0, 1.0), "HardSigmoid": (0.0, 1.0), "Softmax": (0.0, 1.0), "Tanh": (-1.0, 1.0),
    "Sin": (-1.0, 1.0), "Cos": (-1.0, 1.0), "Erf": (-1.0, 1.0), "Relu6": (0.0, 6.0), "Sign": (-1.0, 1.0),
    "LogSoftmax": (-math.inf, 0.0), "Softsign": (-1.0, 1.0), "Shape": (0.0, math.inf), "Size": (0.0, math.inf),
    "Equal": (0.0, 1.0), "Greater": (0.0, 1.0), "Less": (0.0, 1.0), "Not": (0.0, 1.0),
}
_PASS = frozenset({"Cast", "Reshape", "Transpose", "Squeeze", "Unsqueeze", "Flatten", "Identity", "Expand",
                   "ConvertTensor", "Slice", "Gather", "Tile", "MaxPool", "GlobalMaxPool", "Dropout", "Split",
                   "ReduceMax", "ReduceMin", "ReduceMean", "AveragePool", "GlobalAveragePool", "Resize",
                   "DepthToSpace", "SpaceToDepth", "Pad", "GatherElements", "GatherND"})
_MONOTONE = {"Exp": math.exp, "Log": lambda v: math.log(v) if v > 0 else -math.inf,
             "Sqrt": lambda v: math.sqrt(max(v, 0.0)), "Floor": math.floor, "Ceil": math.ceil,
             "Softplus": lambda v: math.log1p(math.exp(min(v, 700))), "Round": round,
             "Relu": lambda v: max(v, 0.0), "Atan": math.atan}


def _safe(f, v: float) -> float:
    try:
        return float(f(v))
    except (OverflowError, ValueError):
        return math.inf if v > 0 else -math.inf


def _mul(a: Interval, b: Interval) -> Interval:
    prods = []
    for x in a:
        for y in b:
            if (x == 0 and math.isinf(y)) or (y == 0 and math.isinf(x)):
                prods.append(0.0)
            else:
                prods.append(x * y)
    return (min(prods), max(prods))


class Bounds:
    """Interval per tensor, computed on demand and memoised; ``input_ranges`` are the user's declarations."""

    def __init__(self, graph: ModelGraph, input_ranges: Optional[Mapping[str, Interval]] = None):
        self.graph = graph
        self.input_ranges = dict(input_ranges or {})
        self._memo: Dict[str, Optional[Interval]] = {}

    def of(self, tensor_name: str, _depth: int = 0) -> Optional[Interval]:
        if tensor_name in self._memo:
            return self._memo[tensor_name]
        self._memo[tensor_name] = None  # cycle guard
        result = self._compute(tensor_name, _depth)
        self._memo[tensor_name] = result
        return result

    def _compute(self, name: str, depth: int) -> Optional[Interval]:
        g = self.graph
        t = g.tensors.get(name)
        if t is None:
            return None
        if name in self.input_ranges:
            return self.input_ranges[name]
        if t.is_const:
            v = t.value
            if v is None or v.size == 0 or not np.issubdtype(v.dtype, np.number):
                return None
            v = v.astype(np.float64, copy=False)
            return (float(np.min(v)), float(np.max(v)))
        if t.producer is None or depth > 200:
            return None
        op = g.ops[t.producer]
        return self._through(op, depth + 1)

    def _in(self, op: Operator, i: int, depth: int) -> Optional[Interval]:
        if i >= len(op.inputs) or not op.inputs[i]:
            return None
        return self.of(op.inputs[i], depth)

    def _through(self, op: Operator, depth: int) -> Optional[Interval]:  # noqa: C901 - a table of op semantics
        kind = op.op
        if kind in _FIXED:
            return _FIXED[kind]
        if kind == "Clip":
            lo = self._in(op, 1, depth) if len(op.inputs) > 1 else None
            hi = self._in(op, 2, depth) if len(op.inputs) > 2 else None
            lo_v = lo[0] if lo else op.attrs.get("min", -math.inf)
            hi_v = hi[1] if hi else op.attrs.get("max", math.inf)
            x = self._in(op, 0, depth)
            if x is not None:
                lo_v, hi_v = max(lo_v, x[0]), min(hi_v, x[1])
            return (float(lo_v), float(hi_v)) if (lo_v, hi_v) != (-math.inf, math.inf) else None
        x = self._in(op, 0, depth)
        if kind in _PASS:
            return x
        if kind in _MONOTONE:
            if kind == "Relu":
                return (0.0, x[1]) if x is not None else (0.0, math.inf)
            return None if x is None else (_safe(_MONOTONE[kind], x[0]), _safe(_MONOTONE[kind], x[1]))
        if kind == "Neg":
            return None if x is None else (-x[1], -x[0])
        if kind == "Abs":
            return None if x is None else (0.0 if x[0] <= 0 <= x[1] else min(abs(x[0]), abs(x[1])),
                                           max(abs(x[0]), abs(x[1])))
        if kind in ("Add", "Sub", "Mul", "Div", "Max", "Min", "Pow"):
            y = self._in(op, 1, depth)
            if kind == "Sub" and x is None and self._is_minus_own_max(op):
                return (-math.inf, 0.0)  # x - max(x): the softmax-stable form
            if x is None or y is None:
                return None
            if kind == "Add":
                return (x[0] + y[0], x[1] + y[1])
            if kind == "Sub":
                return (x[0] - y[1], x[1] - y[0])
            if kind == "Mul":
                return _mul(x, y)
            if kind == "Max":
                return (max(x[0], y[0]), max(x[1], y[1]))
            if kind == "Min":
                return (min(x[0], y[0]), min(x[1], y[1]))
            if kind == "Div" and (y[0] > 0 or y[1] < 0):
                return _mul(x, (1.0 / y[1], 1.0 / y[0]) if y[0] != 0 and y[1] != 0 else (-math.inf, math.inf))
            if kind == "Pow" and y[0] == y[1] and y[0] == 2.0:
                m = max(abs(x[0]), abs(x[1]))
                return (0.0, m * m)
            return None
        if kind == "Concat":
            parts = [self._in(op, i, depth) for i in range(len(op.inputs))]
            if any(p is None for p in parts) or not parts:
                return None
            return (min(p[0] for p in parts), max(p[1] for p in parts))
        if kind == "Where" and len(op.inputs) == 3:
            a, b = self._in(op, 1, depth), self._in(op, 2, depth)
            return None if a is None or b is None else (min(a[0], b[0]), max(a[1], b[1]))
        if kind == "Range":
            start, limit = self._in(op, 0, depth), self._in(op, 1, depth)
            return None if start is None or limit is None else (min(start[0], limit[0]), max(start[1], limit[1]))
        return None

    def _is_minus_own_max(self, op: Operator) -> bool:
        """Sub(x, ReduceMax(x)): the usual guard in front of Exp."""
        g = self.graph
        if len(op.inputs) < 2:
            return False
        rhs = g.tensors.get(op.inputs[1])
        if rhs is None or rhs.producer is None:
            return False
        p = g.ops[rhs.producer]
        return p.op in ("ReduceMax", "ArgMax") and bool(p.inputs) and \
            g.source_of(p.inputs[0]).name == g.source_of(op.inputs[0]).name
