"""The functions rule expressions may call (``FUNCTIONS``: name -> callable), over plain values and the views of
:mod:`.views`.  Every one is pure and bounded; a function that gets None returns None (``_none_safe``) so that an
unknown shape or range propagates instead of failing."""

from __future__ import annotations
import math
from typing import Any, Callable, Dict, Optional, Tuple
import numpy as np
from .. import numerics
from .expr import EvalError
from .views import TensorView


def _none_safe(f: Callable[..., Any]) -> Callable[..., Any]:
    def wrapped(*args):
        if any(a is None for a in args):
            return None
        return f(*args)

    wrapped.__name__ = f.__name__
    wrapped.__doc__ = f.__doc__
    return wrapped


def _prod(seq) -> Optional[float]:
    if seq is None or any(d is None for d in seq):
        return None
    out = 1
    for d in seq:
        out *= d
    return out


def _fmt_field(name: str) -> Callable[[str], float]:
    return _none_safe(lambda fmt: getattr(numerics.get_format(fmt), name))


def _as_bool(x: Any) -> bool:
    return bool(x)


FUNCTIONS: Dict[str, Callable[..., Any]] = {
    # general
    "min": _none_safe(lambda *a: min(a[0]) if len(a) == 1 else min(a)),
    "max": _none_safe(lambda *a: max(a[0]) if len(a) == 1 else max(a)),
    "abs": _none_safe(abs),
    "len": _none_safe(len),
    "log2": _none_safe(lambda x: math.log2(x) if x > 0 else -math.inf),
    "log": _none_safe(lambda x: math.log(x) if x > 0 else -math.inf),
    "sqrt": _none_safe(lambda x: math.sqrt(x)),
    "floor": _none_safe(lambda x: x if isinstance(x, float) and not math.isfinite(x) else math.floor(x)),
    "ceil": _none_safe(lambda x: x if isinstance(x, float) and not math.isfinite(x) else math.ceil(x)),
    "prod": _prod,
    "sum": _none_safe(lambda seq: sum(seq) if all(s is not None for s in seq) else None),
    "known": lambda x: x is not None,
    "default": lambda x, d: d if x is None else x,
    "bool": _as_bool,
    "any_of": lambda *xs: any(bool(x) for x in xs if x is not None),
    "isinf": _none_safe(lambda x: math.isinf(x)),
    "int": _none_safe(int),
    "float": _none_safe(float),
    # number formats
    "fmt_max": _fmt_field("max"),
    "fmt_min_normal": _fmt_field("min_normal"),
    "fmt_min_subnormal": _fmt_field("min_subnormal"),
    "fmt_eps": _fmt_field("eps"),
    "int_exact": _fmt_field("int_exact_limit"),
    "exp_overflow": _none_safe(numerics.exp_overflow),
    "ulp": _none_safe(lambda x, fmt: numerics.get_format(fmt).ulp(x)),
    "stored": _none_safe(numerics.stored),
    "stored_saturating": _none_safe(numerics.stored_saturating),
    "eps_fate": _none_safe(numerics.eps_fate),
    "relative_rounding": _none_safe(numerics.relative_rounding),
    # estimators
    "gridsample_error": _none_safe(
        lambda size, align, fmt, part="total": numerics.gridsample_pixel_error(int(size), bool(align), fmt, part)
    ),
    "coordinate_error": _none_safe(lambda m, fmt: numerics.coordinate_error(float(m), fmt)),
    "resize_error": _none_safe(lambda i, o, mode, fmt: numerics.resize_coordinate_error(int(i), int(o), mode, fmt)),
    "sum_error": _none_safe(
        lambda n, fmt, kind="positive", acc=None, lanes=8: numerics.sum_relative_error(
            int(n), fmt, int(lanes), kind, acc
        )
    ),
    "dot_error": _none_safe(lambda k, fmt, acc=None: numerics.dot_relative_error(int(k), fmt, acc)),
    "acc_format": _none_safe(numerics.accumulator_for),
    "phase_error": _none_safe(lambda n, fmt, dim=64: numerics.phase_error(int(n), fmt, int(dim))),
    "phase_error_table": lambda n, freqs, fmt: _phase_table(n, freqs, fmt),
    "sin_error": _none_safe(lambda m, fmt: numerics.sin_argument_error(float(m), fmt)),
    "absolute_grid_error": _none_safe(
        lambda m, size, align, fmt, part="chain": numerics.absolute_grid_error(
            float(m), int(size), bool(align), fmt, part
        )
    ),
    "square_overflow_rms": _none_safe(lambda n, fmt: numerics.square_sum_overflow_rms(int(n), fmt)),
    "variance_ratio": _none_safe(lambda fmt, rel=0.1: numerics.variance_cancellation_ratio(fmt, float(rel))),
    "pow_limit": _none_safe(lambda p, fmt: numerics.power_overflow_limit(float(p), fmt)),
    "log_floor": _none_safe(numerics.log_floor),
    "gelu_approx_error": lambda: numerics.gelu_tanh_error(),
    "sigmoid_estimate_error": _none_safe(lambda fmt="fp32": numerics.sigmoid_estimate_error(fmt)),
    "estimate_error": _none_safe(numerics.estimate_relative_error),
    "integer_error": _none_safe(numerics.integer_error),
    "exp_arg_error": _none_safe(lambda m, fmt: numerics.exp_argument_error(float(m), fmt)),
}


def _phase_table(max_position: Any, freqs: Any, fmt: Any) -> Optional[float]:
    """Phase error of a position table with the frequencies of a constant tensor (a TensorView)."""
    if max_position is None or freqs is None or fmt is None:
        return None
    if not isinstance(freqs, TensorView):
        raise EvalError("phase_error_table() takes a constant tensor of frequencies")
    t = freqs._t
    if not t.is_const or t.value is None or not np.asarray(t.value).size:
        return None
    return numerics.phase_error_freqs(float(max_position), numerics.freqs_key(t.value), fmt)


def normalize_axis(axis: Optional[int], rank: Optional[int]) -> Optional[int]:
    if axis is None or rank is None:
        return None
    return axis + rank if axis < 0 else axis


FUNCTIONS["axis_len"] = lambda tensor, axis: _axis_len(tensor, axis)


FUNCTIONS["tuple_range"] = _none_safe(lambda lo, hi: tuple(range(int(lo), min(int(hi), int(lo) + 64))))


def _axis_len(tensor: Optional[TensorView], axis: Any) -> Optional[int]:
    """Length of the product of ``axis`` (an int or a tuple of ints) in ``tensor``'s shape."""
    if tensor is None or axis is None:
        return None
    shape = tensor.f_shape()
    if shape is None:
        return None
    axes: Tuple[int, ...] = tuple(axis) if isinstance(axis, tuple) else (axis,)
    total = 1
    for a in axes:
        a = normalize_axis(int(a), len(shape))
        if a is None or not 0 <= a < len(shape) or shape[a] is None:
            return None
        total *= shape[a]
    return total
