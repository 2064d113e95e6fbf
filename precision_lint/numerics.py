"""Number formats (fp32, fp16, bf16) and the error estimators rules call.

Estimators simulate the arithmetic with numpy (every operation rounded to the format) instead of quoting
worst-case bounds, so an estimate is what that computation really does for this model's sizes.  Results are cached:
a model with a hundred GridSample nodes of one size pays once.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Dict, Optional

import numpy as np


@dataclass(frozen=True)
class FloatFormat:
    name: str
    exponent_bits: int
    mantissa_bits: int  # explicit fraction bits
    max: float
    min_normal: float
    min_subnormal: float

    @property
    def eps(self) -> float:
        """Spacing of representable numbers at 1.0."""
        return 2.0 ** -self.mantissa_bits

    @property
    def unit_roundoff(self) -> float:
        return 2.0 ** -(self.mantissa_bits + 1)

    @property
    def int_exact_limit(self) -> int:
        """Every integer up to this is exact; the next one is not."""
        return 2 ** (self.mantissa_bits + 1)

    @property
    def exp_overflow(self) -> float:
        """exp(x) overflows to inf above this."""
        return math.log(self.max)

    def ulp(self, x: float) -> float:
        """Spacing of representable numbers around |x| (the subnormal spacing below min_normal)."""
        ax = abs(float(x))
        if ax < self.min_normal or ax == 0.0:
            return self.min_subnormal
        return 2.0 ** (math.floor(math.log2(ax)) - self.mantissa_bits)

    def round(self, x):
        return ROUNDERS[self.name](np.asarray(x, dtype=np.float64))


FP32 = FloatFormat("fp32", 8, 23, float(np.finfo(np.float32).max), 2.0 ** -126, 2.0 ** -149)
FP16 = FloatFormat("fp16", 5, 10, 65504.0, 2.0 ** -14, 2.0 ** -24)
BF16 = FloatFormat("bf16", 8, 7, float.fromhex("0x1.fep127"), 2.0 ** -126, 2.0 ** -133)
FORMATS: Dict[str, FloatFormat] = {f.name: f for f in (FP32, FP16, BF16)}


def get_format(name: str) -> FloatFormat:
    try:
        return FORMATS[name]
    except KeyError:
        raise ValueError(f"unknown number format {name!r} (known: {', '.join(FORMATS)})") from None


def _round_fp32(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return x.astype(np.float32).astype(np.float64)


def _round_fp16(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return x.astype(np.float16).astype(np.float64)


def _round_bf16(x: np.ndarray) -> np.ndarray:
    """Round to nearest even on the top 16 bits of the fp32 pattern (what hardware conversion does)."""
    with np.errstate(over="ignore"):
        f = np.atleast_1d(x.astype(np.float32))
    bits = f.view(np.uint32).astype(np.uint64)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000).astype(np.uint32)
    out = rounded.view(np.float32).astype(np.float64)
    out = np.where(np.isnan(f), np.nan, out)
    return out.reshape(np.shape(x))


ROUNDERS: Dict[str, Callable[[np.ndarray], np.ndarray]] = {"fp32": _round_fp32, "fp16": _round_fp16,
                                                             "bf16": _round_bf16}


def stored(value: float, fmt: str) -> float:
    """The value after storage in ``fmt`` (inf beyond the range, 0 or subnormal below it)."""
    return float(get_format(fmt).round(np.float64(value)))


def stored_saturating(value: float, fmt: str) -> float:
    """As :func:`stored`, but clamped at the largest finite value (MNN's fp32->fp16 conversion on ARM)."""
    f = get_format(fmt)
    return float(f.round(np.clip(np.float64(value), -f.max, f.max)))


# ---------------------------------------------------------------------------------------------------------------
# Estimators.  Each returns a plain float; None means "cannot say" and is handled by the caller.
# ---------------------------------------------------------------------------------------------------------------

@lru_cache(maxsize=256)
def gridsample_pixel_error(size: int, align_corners: bool, fmt: str, part: str = "total") -> float:
    """Max error, in pixels, of the sampling position GridSample derives from a grid value along an axis of ``size``.

    part = "grid": only the grid tensor is stored in ``fmt`` (position computed exactly);
    part = "arith": the grid is exact but the unnormalisation is computed in ``fmt``;
    part = "total": both (an fp16 backend stores the grid and computes in fp16).
    Unnormalisation as in ONNX/PyTorch: align_corners=1: (g + 1) / 2 * (size - 1); else ((g + 1) * size - 1) / 2.
    """
    if size is None or size <= 1:
        return 0.0
    f = get_format(fmt)
    r = f.round
    # Dense grid values over [-1, 1] plus the values just around each representable fmt number.
    g = np.linspace(-1.0, 1.0, 1 << 17)
    exact = _unnormalize(g, size, align_corners, lambda v: v)
    if part in ("grid", "total"):
        g_in = r(g)
    else:
        g_in = g
    if part in ("arith", "total"):
        got = _unnormalize(g_in, size, align_corners, r)
    else:
        got = _unnormalize(g_in, size, align_corners, lambda v: v)
    return float(np.max(np.abs(got - exact)))


def _unnormalize(g: np.ndarray, size: int, align: bool, r: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    if align:
        return r(r(r(g + 1.0) * 0.5) * r(np.float64(size - 1)))
    return r(r(r(r(g + 1.0) * r(np.float64(size))) - 1.0) * 0.5)


@lru_cache(maxsize=256)
def coordinate_error(max_value: float, fmt: str) -> float:
    """Max rounding error of an absolute coordinate (pixel index, position) up to ``max_value`` stored in fmt."""
    if max_value is None or max_value <= 0:
        return 0.0
    return get_format(fmt).ulp(max_value) / 2.0


@lru_cache(maxsize=256)
def resize_coordinate_error(in_size: int, out_size: int, mode: str, fmt: str) -> float:
    """Max error, in input pixels, of the source coordinate Resize computes for each output position in fmt."""
    if not in_size or not out_size or in_size <= 0 or out_size <= 0:
        return 0.0
    f = get_format(fmt)
    r = f.round
    x = np.arange(out_size, dtype=np.float64)
    scale = out_size / in_size
    if mode == "align_corners":
        s = (in_size - 1) / (out_size - 1) if out_size > 1 else 0.0
        exact = x * s
        got = r(r(x) * r(np.float64(s)))
    elif mode == "asymmetric":
        exact = x / scale
        got = r(r(x) / r(np.float64(scale)))
    else:  # half_pixel, pytorch_half_pixel and friends
        exact = (x + 0.5) / scale - 0.5
        got = r(r(r(r(x) + 0.5) / r(np.float64(scale))) - 0.5)
    return float(np.max(np.abs(got - exact)))


@lru_cache(maxsize=512)
def sum_relative_error(n: int, fmt: str, lanes: int = 8, kind: str = "positive") -> float:
    """Relative error of a sum of ``n`` terms accumulated in fmt by ``lanes`` running sums (SIMD style).

    kind = "positive": terms uniform in (0, 1] (softmax numerators, means of activations, squares);
    kind = "ones": every term 1 (the worst case: the running sum stagnates at 2**(mantissa+1) x term).
    Simulated for n up to 2**18; longer sums are extrapolated from the stagnation point, which they are past.
    """
    if n is None or n <= 1:
        return 0.0
    f = get_format(fmt)
    if fmt == "fp32" and n < (1 << 20):
        return float(n) * f.unit_roundoff * 0.5  # fp32 is the reference; a small statistical bound is enough
    n_sim = min(int(n), 1 << 18)
    rng = np.random.default_rng(1234)
    terms = np.ones(n_sim) if kind == "ones" else rng.uniform(0.0, 1.0, n_sim)
    terms = f.round(terms)
    pad = (-n_sim) % lanes
    block = np.concatenate([terms, np.zeros(pad)]).reshape(-1, lanes)
    acc = np.zeros(lanes)
    r = f.round
    for row in block:
        acc = r(acc + row)
        if np.isinf(acc).any():
            return float("inf")
    got = float(np.sum(acc))  # lanes are combined in fp32
    exact = float(np.sum(block))
    rel = abs(got - exact) / exact
    if n > n_sim:  # past stagnation the sum stops growing: the missing part is lost
        rel = 1.0 - (got / (exact * (n / n_sim)))
    return float(min(max(rel, 0.0), 1.0))


@lru_cache(maxsize=512)
def dot_relative_error(k: int, fmt: str, lanes: int = 8) -> float:
    """Error of a length-k dot product of N(0,1) data with products and accumulation in fmt, relative to the
    typical magnitude of the result (sqrt(k)).  fp32-accumulating backends see only the operand rounding."""
    if k is None or k <= 1:
        return 0.0
    f = get_format(fmt)
    k_sim = min(int(k), 1 << 18)
    rng = np.random.default_rng(4321)
    x0 = rng.standard_normal(k_sim)
    y0 = rng.standard_normal(k_sim)
    prod = f.round(f.round(x0) * f.round(y0))
    pad = (-k_sim) % lanes
    block = np.concatenate([prod, np.zeros(pad)]).reshape(-1, lanes)
    acc = np.zeros(lanes)
    for row in block:
        acc = f.round(acc + row)
    got = float(np.sum(acc))
    exact = float(np.dot(x0, y0))
    err = abs(got - exact) / math.sqrt(k_sim)
    return float(err * math.sqrt(k / k_sim))


@lru_cache(maxsize=256)
def phase_error(max_position: int, fmt: str, dim: int = 64, base: float = 10000.0) -> float:
    """Max |sin(phase) error| of sinusoidal / rotary encodings computed as position x inv_freq in fmt."""
    if not max_position or max_position <= 1:
        return 0.0
    f = get_format(fmt)
    pos = np.arange(int(min(max_position, 1 << 16)), dtype=np.float64)
    inv_freq = 1.0 / base ** (np.arange(0, dim, 2, dtype=np.float64) / dim)
    exact = np.sin(pos[:, None] * inv_freq[None, :])
    got = np.sin(f.round(f.round(pos)[:, None] * f.round(inv_freq)[None, :]))
    return float(np.max(np.abs(got - exact)))


def square_overflow_rms(n: int, fmt: str = "fp16") -> float:
    """RMS of x above which a sum of n squares overflows fmt."""
    return math.sqrt(get_format(fmt).max / max(int(n or 1), 1))


def exp_overflow(fmt: str) -> float:
    return get_format(fmt).exp_overflow


def eps_fate(value: float, fmt: str) -> str:
    """What storage in fmt does to a small constant: 'zero', 'subnormal', 'rounded' or 'exact'."""
    f = get_format(fmt)
    if value == 0:
        return "exact"
    s = stored(value, fmt)
    if s == 0.0:
        return "zero"
    if abs(s) < f.min_normal:
        return "subnormal"
    return "exact" if s == value else "rounded"


def relative_rounding(value: float, fmt: str) -> float:
    s = stored(value, fmt)
    if value == 0:
        return 0.0
    if math.isinf(s):
        return float("inf")
    return abs(s - value) / abs(value)


def integer_error(max_value: float, fmt: str) -> float:
    """Largest error of an integer-valued float up to max_value held in fmt (0 below the exact limit)."""
    f = get_format(fmt)
    if max_value is None or abs(max_value) <= f.int_exact_limit:
        return 0.0
    return f.ulp(max_value) / 2.0


def tie_flip_fraction(gap: Optional[float], fmt: str) -> float:
    """Rough chance that rounding to fmt swaps two values whose relative gap is ``gap``."""
    if gap is None:
        return 1.0
    u = get_format(fmt).unit_roundoff
    return float(min(1.0, 2 * u / max(gap, 1e-300)))
