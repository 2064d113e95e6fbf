"""What rule expressions see of the model: the per-model :class:`Analysis` (graph, value bounds, tolerances,
declared input ranges) and the views of operators (:class:`NodeView`) and tensors (:class:`TensorView`) with the
fields rules read.  The functions they may call are in :mod:`.functions`."""

from __future__ import annotations
import math
from typing import Any, Dict, Optional
import numpy as np
from .. import numerics
from ..model.graph import ModelGraph, Operator, Tensor
from .bounds import Bounds
from .constants import abs_values, constant_stats, finite_rms, flat_values, square_safe, subnormal_share_given
from .expr import EvalError, View


class Analysis:
    """Per-model state shared by every rule: the graph, bounds, tolerances and declared input ranges."""

    def __init__(self, graph: ModelGraph, tolerances: Dict[str, float], input_ranges=None):
        self.graph = graph
        self.bounds = Bounds(graph, input_ranges)
        self.tolerances = tolerances
        self._node_views: Dict[str, "NodeView"] = {}
        self.op_index: Dict[str, Dict[str, int]] = {}  # op type -> {operator id: position among that op's nodes}
        self._tensor_views: Dict[str, "TensorView"] = {}
        self._with_float_constants: Optional[frozenset] = None  # see ops_with_float_constants

    def release(self) -> None:
        """Drop the views: each refers back to this analysis, and the cycle would keep the whole graph alive
        until the cyclic collector runs (which the linter pauses while it works)."""
        self._node_views.clear()
        self._tensor_views.clear()

    def ops_with_float_constants(self) -> frozenset:
        """Ids of the operators with a float constant input: on every other operator ``node.widest_const`` and
        ``node.max_const_abs`` are none (the rule runner skips those operators for conditions that need one)."""
        if self._with_float_constants is None:
            tensors = self.graph.tensors
            self._with_float_constants = frozenset(
                op.id for op in self.graph.ops.values() if any(_float_constant(tensors.get(i)) for i in op.inputs if i)
            )
        return self._with_float_constants

    def node(self, op: Optional[Operator]) -> Optional["NodeView"]:
        if op is None:
            return None
        v = self._node_views.get(op.id)
        if v is None:
            v = self._node_views[op.id] = NodeView(self, op)
        return v

    def tensor_named(self, name: Optional[str]) -> Optional["TensorView"]:
        """The view of the tensor called ``name`` (None for None or a name the graph does not hold)."""
        v = self._tensor_views.get(name)
        if v is None:
            t = self.graph.tensors.get(name) if name is not None else None
            if t is None:
                return None
            v = self._tensor_views[name] = TensorView(self, t)
        return v

    def tensor(self, t: Optional[Tensor]) -> Optional["TensorView"]:
        if t is None:
            return None
        v = self._tensor_views.get(t.name)
        if v is None:
            v = self._tensor_views[t.name] = TensorView(self, t)
        return v


_UNSET = object()


def _float_constant(t: Optional[Tensor]) -> bool:
    """Whether ``t`` is a constant of a float type: the inputs ``node.widest_const`` looks at."""
    return t is not None and t.is_const and (t.dtype or "").startswith(("float", "bfloat"))


def _position(names, i: Any) -> Optional[str]:
    """The tensor name at index ``i`` (negative from the end) of an operator's inputs or outputs, None when out of
    range or empty (an omitted optional input)."""
    if type(i) is not int:
        i = _int_or_none(i)
    if i < 0:
        i += len(names)
    if 0 <= i < len(names):
        return names[i] or None
    return None


def _int_or_none(i: Any) -> Optional[int]:
    if isinstance(i, bool) or not isinstance(i, (int, float)) or i != int(i):
        raise EvalError(f"index must be an integer, got {i!r}")
    return int(i)


class NodeView(View):
    FIELDS = frozenset(
        {
            "op",
            "source_op",
            "name",
            "domain",
            "scope",
            "n_inputs",
            "n_outputs",
            "attr",
            "has_attr",
            "input",
            "output",
            "producer",
            "consumers",
            "consumer_ops",
            "id",
            "const_inputs",
            "max_const_abs",
            "widest_const",
            "op_index",
            "op_count",
            "feeds",
        }
    )

    def __init__(self, analysis: Analysis, op: Operator):
        self._a = analysis
        self._op = op
        self._widest: Any = _UNSET

    @property
    def operator(self) -> Operator:
        return self._op

    def f_op(self):
        return self._op.op

    def f_source_op(self):
        return self._op.source_op

    def f_name(self):
        return self._op.name

    def f_id(self):
        return self._op.id

    def f_domain(self):
        return self._op.domain

    def f_scope(self):
        return self._op.scope

    def f_n_inputs(self):
        return sum(1 for i in self._op.inputs if i)

    def f_n_outputs(self):
        return sum(1 for o in self._op.outputs if o)

    # Methods: ``f_NAME`` gives the callable a rule calls; compiled expressions call ``m_NAME(view, ...)`` directly.
    def m_attr(self, name: str, default: Any = None) -> Any:
        v = self._op.attrs.get(name, default)
        if isinstance(v, list):
            return tuple(v)
        return v

    def f_attr(self):
        return self.m_attr

    def m_has_attr(self, name):
        return name in self._op.attrs

    def f_has_attr(self):
        return self.m_has_attr

    def m_input(self, i):
        # ModelGraph.input_tensor and Analysis.tensor in one: rules ask for inputs and outputs of every operator
        return self._a.tensor_named(_position(self._op.inputs, i))

    def f_input(self):
        return self.m_input

    def m_output(self, i=0):
        return self._a.tensor_named(_position(self._op.outputs, i))

    def f_output(self):
        return self.m_output

    def m_producer(self, i):
        return self._a.node(self._a.graph.producer(self._op, _int_or_none(i)))

    def f_producer(self):
        return self.m_producer

    def f_consumers(self):
        return lambda: tuple(self._a.node(c) for c in self._a.graph.consumers(self._op))

    def f_const_inputs(self):
        return lambda: tuple(
            self._a.tensor(self._a.graph.tensors[i]) for i in self._op.inputs if i and self._a.graph.tensors[i].is_const
        )

    def f_widest_const(self):
        """The float constant input with the largest magnitude (None if there is none)."""
        widest = self._widest
        if widest is _UNSET:  # R001 asks every operator twice (max_const_abs, widest_const)
            widest = self._widest = self._find_widest_const()
        return widest

    def _find_widest_const(self):
        best, best_m = None, None
        for i in self._op.inputs:
            t = self._a.graph.tensors.get(i) if i else None
            if not _float_constant(t):
                continue
            view = self._a.tensor(t)
            m = view.f_max_abs()
            if m is not None and (best_m is None or m > best_m):
                best, best_m = view, m
        return best

    def f_max_const_abs(self):
        """Largest magnitude among the float constant inputs (None if there are none)."""
        w = self.f_widest_const()
        return None if w is None else w.f_max_abs()

    def f_consumer_ops(self):
        return lambda: tuple(sorted({c.op for c in self._a.graph.consumers(self._op)}))

    def f_op_index(self):
        """Position of this node among the nodes of the same op, in file order (0 for the first)."""
        index = self._a.op_index.get(self._op.op)
        if index is None:
            index = self._a.op_index[self._op.op] = {o.id: i for i, o in enumerate(self._a.graph.by_op(self._op.op))}
        return index.get(self._op.id, 0)

    def f_op_count(self):
        """How many nodes of this op the model has."""
        return len(self._a.graph.by_op(self._op.op))

    def f_feeds(self):
        """``node.feeds(target, i)``: whether this node's output reaches input ``i`` of node ``target`` within
        ``depth`` operators (default 16), e.g. whether an Add ends up in a GridSample's grid."""

        def feeds(target, i, depth=16):
            if target is None:
                return None
            if not isinstance(target, NodeView):
                raise EvalError("feeds() takes a node")
            g = self._a.graph
            t = g.input_tensor(target.operator, _int_or_none(i))
            if t is None:
                return False
            if t.producer == self._op.id:
                return True
            start = g.ops.get(t.producer) if t.producer else None
            if start is None:
                return False
            for o, _ in g.walk(start, "up", int(depth), limit=20000):
                if o.id == self._op.id:
                    return True
            return False

        return feeds


class TensorView(View):
    # the fields that read the value-range analysis (engine/bounds.py): rules reading them run first (runner.py)
    RANGE_FIELDS = frozenset({"lo", "hi", "hi_abs", "tight", "bounded"})
    FIELDS = frozenset(
        {
            "name",
            "shape",
            "rank",
            "dtype",
            "stored_dtype",
            "is_const",
            "is_input",
            "size",
            "dim",
            "min",
            "max",
            "max_abs",
            "min_abs_nonzero",
            "scalar",
            "producer",
            "n_consumers",
            "lo",
            "hi",
            "bounded",
            "frac_outside",
            "count_below",
            "all_integer",
            "extreme",
            "tight",
            "hi_abs",
            "is_float",
            "is_int",
            "source",
            "storage_error",
            "lost_fraction",
            "rms",
            "subnormal_share",
        }
    )

    def __init__(self, analysis: Analysis, t: Tensor):
        self._a = analysis
        self._t = t

    def f_name(self):
        return self._t.name

    def f_shape(self):
        return None if self._t.shape is None else tuple(self._t.shape)

    def f_rank(self):
        return self._t.rank

    def f_dtype(self):
        return self._t.dtype

    def f_stored_dtype(self):
        return self._t.stored_dtype or self._t.dtype

    def f_is_const(self):
        return self._t.is_const

    def f_is_input(self):
        return self._t.is_input

    def f_n_consumers(self):
        return len(self._t.consumers)

    def f_size(self):
        s = self._t.shape
        if s is None or any(d is None for d in s):
            return None
        return int(np.prod(s, dtype=np.float64)) if s else 1

    def f_dim(self):
        def dim(i):
            s = self._t.shape
            i = _int_or_none(i)
            if s is None or not (-len(s) <= i < len(s)):
                return None
            return s[i]

        return dim

    def f_producer(self):
        return self._a.node(self._a.graph.ops.get(self._t.producer)) if self._t.producer else None

    # constant statistics (computed once per tensor, shared with the bounds)
    def _stats(self) -> Optional[Dict[str, Any]]:
        return constant_stats(self._t)

    def _absvals(self) -> np.ndarray:
        return abs_values(self._t)

    def _stat(self, key: str) -> Any:
        s = self._stats()
        return None if not s else s.get(key)

    def f_min(self):
        return self._stat("min")

    def f_max(self):
        return self._stat("max")

    def f_max_abs(self):
        return self._stat("max_abs")

    def f_min_abs_nonzero(self):
        return self._stat("min_abs_nonzero")

    def f_scalar(self):
        return self._stat("scalar")

    def f_all_integer(self):
        return self._stat("all_integer")

    def f_extreme(self):
        return self._stat("extreme")

    def f_frac_outside(self):
        """Fraction of a constant's values whose magnitude exceeds ``limit``."""

        def frac(limit):
            s = self._stats()
            if not s:
                return None
            return float(np.count_nonzero(self._absvals() > limit)) / s["_size"]

        return frac

    def f_count_below(self):
        """Number of non-zero values whose magnitude is below ``limit``."""

        def count(limit):
            s = self._stats()
            if not s:
                return None
            a = self._absvals()
            return int(np.count_nonzero((a > 0) & (a < limit)))

        return count

    def f_lo(self):
        b = self._a.bounds.of(self._t.name)
        return None if b is None else b[0]

    def f_hi(self):
        b = self._a.bounds.of(self._t.name)
        return None if b is None else b[1]

    def f_bounded(self):
        b = self._a.bounds.of(self._t.name)
        return b is not None and math.isfinite(b[0]) and math.isfinite(b[1])

    def f_tight(self):
        """Whether the bounds are reached for some input (constants, declared ranges, Sigmoid...), not only a
        worst case (a MatMul's sum of |weights|, a LayerNorm's sqrt(N)): only a tight bound proves an overflow."""
        return self._a.bounds.tight(self._t.name)

    def f_hi_abs(self):
        """The largest magnitude the graph allows (None when unbounded on either side)."""
        b = self._a.bounds.of(self._t.name)
        if b is None or not (math.isfinite(b[0]) and math.isfinite(b[1])):
            return None
        return max(abs(b[0]), abs(b[1]))

    def f_is_float(self):
        d = self._t.dtype
        return None if d is None else d.startswith(("float", "bfloat"))

    def f_is_int(self):
        d = self._t.dtype
        return None if d is None else d.startswith(("int", "uint"))

    def f_source(self):
        """The tensor this one is a relabelling of (through Identity, Cast, ConvertTensor): exporters wrap shared
        weights in Identity, so ``node.input(1).source.is_const`` finds them."""
        return self._a.tensor(self._a.graph.source_of(self._t.name))

    def _storage(self, fmt: str, ftz: bool):
        s = self._stats()
        if not s:
            return None
        key = f"_storage_{fmt}_{bool(ftz)}"
        if key not in s:
            v = np.asarray(self._t.value).ravel()  # its own float type: constant_storage_error handles fp16/fp32
            if v.size > (1 << 22):  # a strided sample of huge tensors is enough for a relative error
                v = v[:: int(math.ceil(v.size / (1 << 22)))]
            # fp16 is asked with and without flushed subnormals (R005): both from one rounding pass
            modes = (False, True) if fmt == "fp16" else (bool(ftz),)
            for flush, r in zip(modes, numerics.constant_storage_errors(v, fmt, modes)):
                s[f"_storage_{fmt}_{flush}"] = r
        return s[key]

    def f_storage_error(self):
        """``t.storage_error(fmt, ftz=False)``: relative L2 error of a constant after storage in fmt (inf when a
        value overflows); ``ftz`` also flushes subnormals to zero, as many GPUs and NPUs do."""

        def err(fmt, ftz=False):
            r = self._storage(fmt, ftz)
            return None if r is None else r[0]

        return err

    def f_lost_fraction(self):
        """``t.lost_fraction(fmt, ftz=False)``: fraction of a constant's non-zero values that become 0 in fmt."""

        def lost(fmt, ftz=False):
            r = self._storage(fmt, ftz)
            return None if r is None else r[1]

        return lost

    def f_subnormal_share(self):
        """``t.subnormal_share(fmt)``: relative L2 norm of a constant's values below fmt's normal range, which is
        what flushing them to zero loses.  Rounding the rest costs at most the format's unit roundoff, so this
        bounds ``storage_error`` from above (within that roundoff) at a fraction of the cost: two passes instead
        of the rounding simulation.  Rules use it to skip the simulation on ordinary weights (R005)."""

        def share(fmt):
            s = self._stats()
            if not s:
                return None
            key = f"_subnormal_{fmt}"
            if key not in s:
                if s["min_abs_nonzero"] is None or s["min_abs_nonzero"] >= numerics.get_format(fmt).min_normal:
                    s[key] = 0.0
                else:
                    self.f_rms()  # None when there is no finite norm: unknown, rules fall back to the simulation
                    s[key] = subnormal_share_given(s, flat_values(self._t.value), fmt)
            return s[key]

        return share

    def f_rms(self):
        s = self._stats()
        if not s:
            return None
        if "_rms" not in s:
            if math.isfinite(s["min"]) and math.isfinite(s["max"]):
                # every value finite (NaN would show in min/max): no |v| array and no filtered copy
                s["_rms"] = finite_rms(flat_values(self._t.value), s["max_abs"])
            else:
                a = self._absvals()
                a = square_safe(a[np.isfinite(a)], s["max_abs"])
                s["_rms"] = float(np.sqrt(np.mean(a * a))) if a.size else None
        return s["_rms"]
