"""Error of storing constants (weights, eps, scales) in a reduced format, with and without subnormal flushing."""

from __future__ import annotations

import math
from typing import List, Optional, Tuple

import numpy as np

from .formats import get_format


def _storage_error_f32(v: np.ndarray, fmt: str, f, flush_subnormals: bool) -> Tuple[float, float]:
    return _storage_errors_f32(v, fmt, f, (flush_subnormals,))[0]


def _storage_errors_f32(v: np.ndarray, fmt: str, f, flush_modes: Tuple[bool, ...]) -> List[Tuple[float, float]]:
    """constant_storage_error for fp16/fp32 weights, in float32 and without float64 copies (a model's weights are
    hundreds of MB).  Rounding to fp16 is numpy's float16 conversion and to bf16 round-to-nearest-even on the top 16
    bits, both exact; s - v is exact in float32 (s and v are within a factor of 2, or s is 0); sums are pairwise, on
    values scaled by the largest magnitude so that squares neither overflow nor underflow.  One result per entry of
    ``flush_modes``: the rounding, the scaling and the constant's norm are shared (R005 asks for fp16 with and
    without flushed subnormals)."""
    if v.size == 0:
        return [(0.0, 0.0) for _ in flush_modes]
    lo, hi = float(np.min(v)), float(np.max(v))
    if not (math.isfinite(lo) and math.isfinite(hi)):  # NaN shows in min/max: filter only when needed
        v = v[np.isfinite(v)]
        if v.size == 0:
            return [(0.0, 0.0) for _ in flush_modes]
        lo, hi = float(np.min(v)), float(np.max(v))
    m = max(-lo, hi)  # max |v| without an |v| array (v is finite here)
    if m == 0.0:
        return [(0.0, 0.0) for _ in flush_modes]
    with np.errstate(over="ignore", invalid="ignore"):
        if fmt == "fp16":
            rounded = v.astype(np.float16).astype(np.float32)
        else:
            bits = v.view(np.uint32)
            rounded = (
                (bits + np.uint32(0x7FFF) + ((bits >> np.uint32(16)) & np.uint32(1))) & np.uint32(0xFFFF0000)
            ).view(np.float32)
    if m < 2.0**-100:  # 1/m overflows float32 (a constant of fp32 subnormals): the sums in float64
        v, rounded, scale = v.astype(np.float64), rounded.astype(np.float64), 1.0 / m
    else:
        scale = np.float32(1.0 / m) if m < 1e38 else np.float32(1.0)
    nz = None
    norm2 = None
    out: List[Tuple[float, float]] = []
    for flush_subnormals in flush_modes:
        with np.errstate(over="ignore", invalid="ignore"):
            s = np.where(np.abs(rounded) < f.min_normal, np.float32(0.0), rounded) if flush_subnormals else rounded
            diff = s - v
        # values lost: stored as 0 but not 0 (diff == -v exactly then), counted without three boolean arrays
        if nz is None:
            nz = np.count_nonzero(v)
        zero_lost = np.count_nonzero(s == 0) - (v.size - nz)
        if not np.isfinite(diff).all():
            out.append((math.inf, float(zero_lost / v.size)))
            continue
        lost = float(zero_lost / nz) if nz else 0.0
        if norm2 is None:
            u = v * scale
            np.multiply(u, u, out=u)  # in place: the same products, one array fewer
            norm2 = float(np.sum(u))
            del u
        if norm2 == 0.0:
            out.append((0.0, lost))
            continue
        np.multiply(diff, scale, out=diff)
        np.multiply(diff, diff, out=diff)
        out.append((float(math.sqrt(float(np.sum(diff)) / norm2)), lost))
    return out


def subnormal_share(values: np.ndarray, fmt: str, rms: Optional[float] = None) -> Optional[float]:
    """Relative L2 norm of the finite values below fmt's normal range: what flushing them to zero loses.  Every
    other value is stored within the unit roundoff u, and a subnormal one is off by at most itself, so
    ``constant_storage_error`` (with or without flushing) is at most sqrt(share^2 + u^2); this costs an |v| pass
    and a comparison instead of the rounding simulation.  ``rms`` (of the same values) saves a pass when known."""
    v = np.asarray(values).ravel()
    if v.size == 0:
        return 0.0
    count = v.size  # the values rms is taken over: all of them when the caller passes it (every value finite)
    if rms is None:
        finite = v[np.isfinite(v)].astype(np.float64)
        count = finite.size
        rms = float(np.sqrt(np.mean(finite * finite))) if finite.size else 0.0
    if not rms or not math.isfinite(rms):
        return None
    small = v[np.abs(v) < get_format(fmt).min_normal].astype(np.float64)  # NaN compares False: left out
    return float(math.sqrt(float(np.dot(small, small)) / count) / rms)


def constant_storage_errors(values: np.ndarray, fmt: str, flush_modes: Tuple[bool, ...]) -> List[Tuple[float, float]]:
    """constant_storage_error for each entry of ``flush_modes``, sharing the rounding where it can."""
    v = np.asarray(values).ravel()
    if fmt in ("fp16", "bf16") and v.dtype in (np.float16, np.float32):
        return _storage_errors_f32(v.astype(np.float32, copy=False), fmt, get_format(fmt), tuple(flush_modes))
    return [constant_storage_error(v, fmt, ftz) for ftz in flush_modes]


def constant_storage_error(values: np.ndarray, fmt: str, flush_subnormals: bool = False) -> Tuple[float, float]:
    """(relative L2 error, fraction of non-zero values lost) of a constant after storage in fmt.

    ``flush_subnormals``: hardware that flushes subnormal results to zero (many GPUs, NPUs) also loses values below
    fmt's smallest normal number."""
    f = get_format(fmt)
    v = np.asarray(values).ravel()
    if fmt in ("fp16", "bf16") and v.dtype in (np.float16, np.float32):
        return _storage_error_f32(v.astype(np.float32, copy=False), fmt, f, flush_subnormals)
    v = v.astype(np.float64, copy=False)
    v = v[np.isfinite(v)]
    norm = float(np.sqrt(np.sum(v * v)))
    if v.size == 0 or norm == 0.0:
        return 0.0, 0.0
    s = f.round(v)
    if flush_subnormals:
        s = np.where(np.abs(s) < f.min_normal, 0.0, s)
    with np.errstate(invalid="ignore", over="ignore"):
        diff = s - v
    if not np.all(np.isfinite(diff)):
        return math.inf, float(np.count_nonzero((s == 0) & (v != 0)) / v.size)
    nz = np.count_nonzero(v)
    lost = float(np.count_nonzero((s == 0) & (v != 0)) / nz) if nz else 0.0
    return float(np.sqrt(np.sum(diff * diff)) / norm), lost
