"""Summary statistics of constant tensors, computed once per tensor and shared by the rule views and the bounds.

Weights can be hundreds of MB and may be re-read from disk on each use (graph.KEEP_VALUE_BYTES), so the statistics
are taken in the constant's own float type, in as few passes as possible, and cached on the tensor."""

from __future__ import annotations

import math
from typing import Any, Dict, List, Optional

import numpy as np

from .. import numerics
from ..model.graph import Tensor

_CACHE_ATTR = "_pl_stats"
# Constants up to this many values (Slice bounds, axes, scalars: thousands per transformer) are summarised in
# plain Python: a dozen numpy calls on a one-element array cost more than the whole computation.
_SMALL = 16


def flat_values(v: np.ndarray) -> np.ndarray:
    """The values as a flat float array: floats in their own type (no float64 copy of a weight), others float64
    (complex: the real part)."""
    if v.dtype.kind == "f":
        return v.ravel()
    return (v.real if v.dtype.kind == "c" else v).astype(np.float64).ravel()


def abs_values(t: Tensor) -> np.ndarray:
    """|values| of a constant, recomputed on demand (not kept: memory)."""
    return np.abs(flat_values(t.value))


def constant_stats(t: Tensor) -> Optional[Dict[str, Any]]:
    """min, max (NaN propagates), nan_min/nan_max (NaN ignored), max_abs, min_abs_nonzero, extreme (signed value
    of largest magnitude), scalar, all_integer and _size; {} for empty or non-numeric constants, None for
    activations.  Raises what reading the value raises."""
    if not t.is_const:
        return None
    cached = getattr(t, _CACHE_ATTR, None)
    if cached is not None:
        return cached
    v = t.value
    stats: Dict[str, Any] = {}
    if v is not None and 0 < v.size <= _SMALL and v.dtype.kind in "iuf":  # complex: the numpy path (real part)
        stats = _small_stats([float(x) for x in v.ravel().tolist()])
    elif v is not None and v.size and np.issubdtype(v.dtype, np.number):
        stats = _array_stats(flat_values(v))
    setattr(t, _CACHE_ATTR, stats)
    return stats


def _small_stats(values: List[float]) -> Dict[str, Any]:
    """constant_stats of a few values, with the same results as the numpy path (NaN propagates into min and max,
    the extreme is the first value of largest magnitude)."""
    has_nan = any(math.isnan(x) for x in values)
    clean = [x for x in values if not math.isnan(x)]
    finite = [x for x in values if math.isfinite(x)]
    mags = [abs(x) for x in values]
    nonzero = [m for m in mags if m > 0]  # NaN > 0 is False: NaNs drop out, as in the numpy path
    if has_nan:
        max_abs, extreme = math.nan, math.nan
    else:
        max_abs = max(mags)
        extreme = values[mags.index(max_abs)]
    return {
        "min": math.nan if has_nan else min(values),
        "max": math.nan if has_nan else max(values),
        "nan_min": min(clean) if clean else math.nan,
        "nan_max": max(clean) if clean else math.nan,
        "max_abs": max_abs,
        "min_abs_nonzero": min(nonzero) if nonzero else None,
        "scalar": values[0] if len(values) == 1 else None,
        "extreme": extreme,
        "all_integer": len(finite) == len(values) and all(math.floor(x) == x for x in values),
        "_size": len(values),
    }


def square_safe(f: np.ndarray, max_abs: float) -> np.ndarray:
    """``f`` in a type whose squares cannot overflow: float16 squares overflow from 256 on (MNN ``--fp16``
    constants), float32 squares from 1.8e19."""
    if f.dtype.itemsize < 4 or (f.dtype.itemsize == 4 and not max_abs < 1e18):
        return f.astype(np.float64)
    return f


def finite_rms(f: np.ndarray, max_abs: float) -> float:
    """The RMS of values that are all finite: v * v equals |v| * |v| exactly, without the |v| array."""
    sq = square_safe(f, max_abs)
    return float(np.sqrt(np.mean(sq * sq)))


def subnormal_share_given(stats: Dict[str, Any], f: np.ndarray, fmt: str) -> Optional[float]:
    """The relative L2 norm of the values below fmt's normal range (numerics.subnormal_share), with the stats
    already known: 0.0 when no non-zero value is that small, None when there is no finite norm to compare with."""
    min_nz = stats["min_abs_nonzero"]
    if min_nz is None or min_nz >= numerics.get_format(fmt).min_normal:
        return 0.0
    rms = stats["_rms"]
    if not (rms and math.isfinite(stats["min"]) and math.isfinite(stats["max"])):
        return None
    return numerics.subnormal_share(f, fmt, rms)


def _array_stats(f: np.ndarray) -> Dict[str, Any]:
    """constant_stats of a flat float array, in its own type and in as few passes as possible."""
    lo, hi = float(np.min(f)), float(np.max(f))
    # min and max are finite only when every value is (NaN propagates): then no filtered copy is needed,
    # and max |v| and the extreme value follow from them without more passes
    all_finite = bool(np.isfinite(lo) and np.isfinite(hi))
    if all_finite:
        max_abs = max(abs(lo), abs(hi))  # abs: 0.0, never -0.0, for an all-zero constant
        # on a tie (-x and x both present) the first in file order, as the general case below
        extreme = (lo if -lo > hi else hi) if -lo != hi else float(f[int(np.argmax(np.abs(f)))])
        nan_lo, nan_hi = lo, hi
        a = np.abs(f)
        min_nz = float(np.min(a))
        if min_nz == 0.0:  # zeros present: the smallest non-zero needs a filtered copy (most weights have none)
            nz = a[a > 0]
            min_nz = float(np.min(nz)) if nz.size else None
        # a non-integer among the first values decides without a pass over the whole constant
        head = f[:256]
        all_integer = bool(np.all(np.floor(head) == head)) and bool(np.all(np.floor(f) == f))
    else:
        a = np.abs(f)
        max_abs = float(np.max(a))
        extreme = float(f[int(np.argmax(a))])
        nan_lo, nan_hi = float(np.fmin.reduce(f)), float(np.fmax.reduce(f))
        nz = a[a > 0]
        min_nz = float(np.min(nz)) if nz.size else None
        finite = f[np.isfinite(f)]
        all_integer = bool(finite.size == f.size and np.all(np.floor(finite) == finite))
    stats = {
        "min": lo,
        "max": hi,
        "nan_min": nan_lo,
        "nan_max": nan_hi,
        "max_abs": max_abs,
        "min_abs_nonzero": min_nz,
        "scalar": float(f[0]) if f.size == 1 else None,
        "extreme": extreme,
        "all_integer": all_integer,
        "_size": f.size,
    }
    a = nz = finite = None  # not held while the squares below are (a float16 weight's are float64: 4x its size)
    if all_finite and f.dtype.kind == "f" and min_nz is not None and min_nz < numerics.get_format("fp16").min_normal:
        # What R005 asks next of a weight with values below fp16's normal range (most trained weights), taken
        # while the values are at hand: reading a large weight again from its file cost as much as the statistics
        stats["_rms"] = finite_rms(f, max_abs)
        stats["_subnormal_fp16"] = subnormal_share_given(stats, f, "fp16")
    return stats
