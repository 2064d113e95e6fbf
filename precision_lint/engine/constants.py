"""Summary statistics of constant tensors, computed once per tensor and shared by the rule views and the bounds.

Weights can be hundreds of MB and may be re-read from disk on each use (graph.KEEP_VALUE_BYTES), so the statistics
are taken in the constant's own float type, in as few passes as possible, and cached on the tensor."""
from __future__ import annotations

from typing import Any, Dict, Optional

import numpy as np

from ..graph import Tensor

_CACHE_ATTR = "_pl_stats"


def flat_values(v: np.ndarray) -> np.ndarray:
    """The values as a flat float array: floats in their own type (no float64 copy of a weight), others float64."""
    return v.ravel() if v.dtype.kind == "f" else v.astype(np.float64).ravel()


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
    if v is not None and v.size and np.issubdtype(v.dtype, np.number):
        f = flat_values(v)
        lo, hi = float(np.min(f)), float(np.max(f))
        # min and max are finite only when every value is (NaN propagates): then no filtered copy is needed,
        # and max |v| and the extreme value follow from them without more passes
        all_finite = bool(np.isfinite(lo) and np.isfinite(hi))
        if all_finite:
            max_abs = max(-lo, hi)
            # on a tie (-x and x both present) the first in file order, as the general case below
            extreme = (lo if -lo > hi else hi) if -lo != hi else float(f[int(np.argmax(np.abs(f)))])
            nan_lo, nan_hi = lo, hi
            zeros = f.size - int(np.count_nonzero(f))
            if zeros == 0:  # most weights: min |value| without a filtered copy
                min_nz = float(np.min(np.abs(f)))
            else:
                a = np.abs(f)
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
            "min": lo, "max": hi, "nan_min": nan_lo, "nan_max": nan_hi, "max_abs": max_abs,
            "min_abs_nonzero": min_nz, "scalar": float(f[0]) if f.size == 1 else None, "extreme": extreme,
            "all_integer": all_integer, "_size": f.size,
        }
    setattr(t, _CACHE_ATTR, stats)
    return stats
