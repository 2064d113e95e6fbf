"""Number formats (fp32, fp16, bf16) and the error estimators rules call.

Estimators simulate the arithmetic with numpy (every operation rounded to the format) instead of quoting
worst-case bounds, so an estimate is what that computation really does for this model's sizes.  Results are cached:
a model with a hundred GridSample nodes of one size pays once.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Dict, List, Optional, Tuple

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


def stored(value: float, fmt: str, saturate: bool = False) -> float:
    """The value after storage in ``fmt`` (inf beyond the range, 0 or subnormal below it); ``saturate``: clamped at
    the largest finite value instead (MNN's fp32 -> fp16 conversion on ARMv8.2 CPUs)."""
    if saturate:
        return stored_saturating(value, fmt)
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


# Coordinate errors are computed at every output position up to this many; beyond, at a bounded sample (a declared
# output width of 2^28 took 16 GB and 200 s).
MAX_POSITIONS = 1 << 16


def _positions(n: int) -> np.ndarray:
    """Output positions 0..n-1: all of them when few, else the top 4096 (where a coordinate's rounding error is
    largest) and an even spread below, MAX_POSITIONS in all."""
    if n <= MAX_POSITIONS:
        return np.arange(n, dtype=np.float64)
    top = np.arange(n - 4096, n, dtype=np.float64)
    spread = np.floor(np.linspace(0, n - 4097, MAX_POSITIONS - 4096))
    return np.concatenate([spread, top])


@lru_cache(maxsize=256)
def resize_coordinate_error(in_size: int, out_size: int, mode: str, fmt: str) -> float:
    """Max error, in input pixels, of the source coordinate Resize computes for each output position in fmt."""
    if not in_size or not out_size or in_size <= 0 or out_size <= 0:
        return 0.0
    f = get_format(fmt)
    r = f.round
    x = _positions(out_size)
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


# ----- accumulation ---------------------------------------------------------------------------------------------
# Which accumulator a backend running in a format uses.  fp16 kernels on the targets this linter serves do accumulate
# in fp16 (ARMv8.2 NEON `fmla .8h` in MNN's ARM82 GEMM/conv, OpenCL and Metal reductions below Precision_High, the
# ANE, Mali); every bf16 kernel known accumulates in fp32 (MNN's BF16 build, CUDA, oneDNN, PyTorch), so a bf16
# estimate of an accumulation is the error of bf16 *terms* summed in fp32.  Rules can pass ``acc`` to override.
ACCUMULATOR: Dict[str, str] = {"fp32": "fp32", "fp16": "fp16", "bf16": "fp32"}


def accumulator_for(fmt: str) -> str:
    get_format(fmt)
    return ACCUMULATOR[fmt]


def numpy_dtype(fmt: str):
    """A numpy dtype whose arithmetic rounds to fmt after every operation (None if there is none)."""
    if fmt == "fp16":
        return np.float16
    if fmt == "fp32":
        return np.float32
    if fmt == "bf16":
        try:
            import ml_dtypes  # installed with onnx >= 1.15; optional

            return ml_dtypes.bfloat16
        except ImportError:  # pragma: no cover - exercised only without ml_dtypes
            return None
    return None


def lane_sums(terms: np.ndarray, lanes: int, acc: str, start: Optional[np.ndarray] = None) -> np.ndarray:
    """The ``lanes`` running sums of each row of ``terms`` (shape (S, n)) held in ``acc``: lane j adds every lanes-th
    term (j, j+lanes, ...) one after another, each addition rounded to ``acc`` (lanes=1: one sequential sum).
    ``start`` (S, lanes) continues earlier partial sums, so a long sum can be fed in chunks.  Each term is rounded
    to ``acc`` before it is added (no fused multiply-add).  Returns (S, lanes), in ``acc``'s numpy dtype when
    there is one, else float64 rounded to ``acc``."""
    s, n = terms.shape
    pad = (-n) % lanes
    if pad:
        terms = np.concatenate([terms, np.zeros((s, pad), terms.dtype)], axis=1)
    blocks = terms.reshape(s, -1, lanes)
    dt = numpy_dtype(acc)
    with np.errstate(over="ignore", invalid="ignore"):
        if dt is not None:
            blocks = blocks.astype(dt)
            if start is not None:
                blocks = np.concatenate([start.astype(dt)[:, None, :], blocks], axis=1)
            return np.add.accumulate(blocks, axis=1, dtype=dt)[:, -1, :]
        r = get_format(acc).round  # pragma: no cover - slow path without ml_dtypes
        part = np.zeros((s, lanes)) if start is None else start.astype(np.float64)
        for i in range(blocks.shape[1]):
            part = r(part + r(blocks[:, i, :].astype(np.float64)))
        return part


def combine_lanes(part: np.ndarray, acc: str) -> np.ndarray:
    """Lane partial sums (S, lanes) combined pairwise (a tree, each addition rounded to ``acc``): float64 (S,)."""
    dt = numpy_dtype(acc)
    r = (lambda x: x.astype(dt)) if dt is not None else get_format(acc).round
    with np.errstate(over="ignore", invalid="ignore"):
        while part.shape[1] > 1:
            if part.shape[1] % 2:
                part = np.concatenate([part, np.zeros((part.shape[0], 1), part.dtype)], axis=1)
            part = r(part[:, 0::2] + part[:, 1::2])
    return part[:, 0].astype(np.float64)


def _running_sums(terms: np.ndarray, lanes: int, acc: str) -> np.ndarray:
    """Sequential sums of each row of ``terms`` (shape (S, n)) held in ``acc``: ``lanes`` running sums take every
    lanes-th term (SIMD style), then are combined pairwise in ``acc``.  Returns float64 of shape (S,)."""
    return combine_lanes(lane_sums(terms, lanes, acc), acc)


def _terms(kind: str, shape, rng: np.random.Generator) -> np.ndarray:
    if kind == "ones":
        return np.ones(shape)
    if kind == "squares":  # squares of N(0,1) activations: the sum in a variance or an L2 norm
        return rng.standard_normal(shape) ** 2
    return 1.0 - rng.uniform(0.0, 1.0, shape)  # "positive": (0, 1], softmax numerators, means of activations


# Simulations stay below this many simulated terms (all rows together): a few milliseconds each.  The series the
# shipped rules use are precomputed with a 64x larger budget (more rows, steadier RMS) into data/estimates.json
# by tools/gen_estimator_tables.py; the tests check that table against fresh simulations.
_SIM_BUDGET = 1 << 18
_TABLE_BUDGET = 1 << 24
_TABLE_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "estimates.json")
_table: Optional[Dict[str, Dict[str, list]]] = None


def _tables() -> Dict[str, Dict[str, list]]:
    global _table
    if _table is None:
        try:
            with open(_TABLE_PATH, encoding="utf-8") as fh:
                _table = json.load(fh)
        except (OSError, ValueError):
            _table = {}
    return _table


def _tabled(series: str, key: str, b: int) -> Optional[float]:
    values = _tables().get(series, {}).get(key)
    if values is not None and 1 <= b <= len(values):
        return float(values[b - 1])
    return None
_SUM_MAX_LOG2 = 21  # sums up to 2**21 terms are simulated; longer ones extrapolated
_DOT_MAX_LOG2 = 16  # dot products up to 2**16 (enough rows for a stable RMS); longer ones scaled by sqrt(k)


def _log_interpolate(n: int, grid: Callable[[int], float], max_log2: int) -> float:
    """Value at n from the values at powers of two (a non-decreasing series), linear in log2(n): monotone in n."""
    b = int(n - 1).bit_length() - 1  # 2**b < n <= 2**(b+1)
    if n == 1 << (b + 1):
        return grid(b + 1)
    lo, hi = grid(b), grid(b + 1)
    t = (math.log2(n) - b)
    return lo + (hi - lo) * t


@lru_cache(maxsize=512)
def _sum_grid(b: int, fmt: str, lanes: int, kind: str, acc: str, budget: int = 0) -> float:
    """Relative error (RMS over rows) of a sum of 2**b terms; the running maximum over shorter sums."""
    if not budget:
        hit = _tabled("sum", f"{fmt}|{lanes}|{kind}|{acc}", b)
        if hit is not None:
            return hit
    shorter = _sum_grid(b - 1, fmt, lanes, kind, acc, budget) if b > 1 else 0.0
    n = 1 << b
    f = get_format(fmt)
    rows = 1 if kind == "ones" else max(1, min(256, (budget or _SIM_BUDGET) // n))
    rng = np.random.default_rng(1234 + b)
    terms = f.round(_terms(kind, (rows, n), rng))
    exact = np.sum(terms, axis=1)
    got = _running_sums(terms, lanes, acc)
    if np.isinf(got).any():
        return float("inf")
    rel = (got - exact) / exact
    return max(float(min(np.sqrt(np.mean(rel ** 2)), 1.0)), shorter)


@lru_cache(maxsize=1024)
def sum_relative_error(n: int, fmt: str, lanes: int = 8, kind: str = "positive", acc: Optional[str] = None) -> float:
    """Relative error of a sum of ``n`` terms stored in ``fmt``, accumulated by ``lanes`` running sums (SIMD style,
    combined pairwise at the end) in ``acc`` -- by default the format's usual accumulator (see ACCUMULATOR).  Only
    the accumulation is measured: the reference is the exact sum of the stored terms.

    kind = "positive": terms uniform in (0, 1] (softmax numerators, means of activations);
    kind = "squares": squares of N(0, 1) values (variances, L2 norms);
    kind = "ones": every term 1 (the worst case: the running sum stagnates at 2**(mantissa+1) x term).
    The value is the RMS over up to 64 simulated sums at the powers of two around n, interpolated in log2(n), and
    never smaller than for a shorter sum (monotone).  Beyond 2**21 terms: fp16/bf16 accumulators have stagnated,
    and the part past the simulated length is lost.
    """
    n = int(n)
    if n <= 1:
        return 0.0
    get_format(fmt)
    acc = acc or ACCUMULATOR[fmt]
    if acc == "fp32":  # far from stagnation for any realistic n: a random-walk bound is enough
        return float(min(math.sqrt(n / 3.0) * FP32.unit_roundoff, 1.0))
    max_n = 1 << _SUM_MAX_LOG2
    if n <= max_n:
        return _log_interpolate(n, lambda b: _sum_grid(b, fmt, lanes, kind, acc), _SUM_MAX_LOG2)
    at_max = _sum_grid(_SUM_MAX_LOG2, fmt, lanes, kind, acc)
    return float(min(1.0, max(at_max, 1.0 - (1.0 - at_max) * max_n / n)))


@lru_cache(maxsize=512)
def _dot_grid(b: int, fmt: str, acc: str, budget: int = 0) -> float:
    if not budget:
        hit = _tabled("dot", f"{fmt}|{acc}", b)
        if hit is not None:
            return hit
    shorter = _dot_grid(b - 1, fmt, acc, budget) if b > 1 else 0.0
    k = 1 << b
    f = get_format(fmt)
    rows = max(16, min(1024, (budget or _SIM_BUDGET) // k))
    rng = np.random.default_rng(4321 + b)
    prod = f.round(f.round(rng.standard_normal((rows, k))) * f.round(rng.standard_normal((rows, k))))
    exact = np.sum(prod, axis=1)
    got = _running_sums(prod, 1, acc)
    err = float(np.sqrt(np.mean((got - exact) ** 2)) / math.sqrt(k))
    return max(err, shorter)


@lru_cache(maxsize=1024)
def dot_relative_error(k: int, fmt: str, acc: Optional[str] = None) -> float:
    """Accumulation error of length-k dot products: N(0,1) operands stored in ``fmt``, products rounded to ``fmt``
    and summed sequentially in ``acc`` (one accumulator per output element, as GEMM and convolution kernels do),
    as the RMS error over many outputs divided by the RMS of the outputs (sqrt(k)).

    ``acc`` defaults to the format's usual accumulator (fp16 for fp16, fp32 for bf16: see ACCUMULATOR).  The
    reference is the exact sum of the rounded products, so the value is the accumulation alone; the operands'
    own rounding (about u, whatever k) is not counted.  Fused multiply-add (fmla) skips the product rounding, a
    difference under 3e-4.  Monotone in k; beyond 2**16 scaled by sqrt(k / 2**16), the growth of a random walk.
    """
    k = int(k)
    if k <= 1:
        return 0.0
    get_format(fmt)
    acc = acc or ACCUMULATOR[fmt]
    if acc == "fp32":
        return float(math.sqrt(k / 6.0) * FP32.unit_roundoff)
    max_k = 1 << _DOT_MAX_LOG2
    if k <= max_k:
        return _log_interpolate(k, lambda b: _dot_grid(b, fmt, acc), _DOT_MAX_LOG2)
    return _dot_grid(_DOT_MAX_LOG2, fmt, acc) * math.sqrt(k / max_k)


# The series the shipped rules use: (fmt, lanes, kind, acc) for sums, (fmt, acc) for dot products.
TABLE_SUM_SERIES = [("fp16", 8, "positive", "fp16"), ("fp16", 8, "squares", "fp16"), ("fp16", 8, "ones", "fp16")]
TABLE_DOT_SERIES = [("fp16", "fp16")]


def build_tables(budget: int = _TABLE_BUDGET, max_sum_log2: int = _SUM_MAX_LOG2,
                 max_dot_log2: int = _DOT_MAX_LOG2) -> Dict[str, Dict[str, list]]:
    """Simulate the tabled series with ``budget`` terms per point (tools/gen_estimator_tables.py writes them)."""
    out: Dict[str, Dict[str, list]] = {"sum": {}, "dot": {}}
    for fmt, lanes, kind, acc in TABLE_SUM_SERIES:
        out["sum"][f"{fmt}|{lanes}|{kind}|{acc}"] = [
            float(f"{_sum_grid(b, fmt, lanes, kind, acc, budget):.6g}") for b in range(1, max_sum_log2 + 1)]
    for fmt, acc in TABLE_DOT_SERIES:
        out["dot"][f"{fmt}|{acc}"] = [float(f"{_dot_grid(b, fmt, acc, budget):.6g}")
                                      for b in range(1, max_dot_log2 + 1)]
    return out


def square_sum_overflow_rms(n: int, fmt: str = "fp16") -> float:
    """RMS of x above which a sum of n squares exceeds fmt's range (the accumulator or the stored sum overflows)."""
    return math.sqrt(get_format(fmt).max / max(int(n or 1), 1))


def variance_cancellation_ratio(fmt: str, rel: float = 0.1) -> float:
    """|mean| / std above which E[x^2] - E[x]^2 computed in fmt has a relative error above ``rel``.

    Each of E[x^2] and E[x]^2 carries a rounding of u times its size, so the difference is off by about
    u (2 mean^2 + var): relative to var, u (1 + 2 r^2) with r = |mean| / std."""
    u = get_format(fmt).unit_roundoff
    return math.sqrt(max(rel / u - 1.0, 0.0) / 2.0)


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


# ---------------------------------------------------------------------------------------------------------------
# Positions and phases
# ---------------------------------------------------------------------------------------------------------------

def _phase_positions(max_position: int, n_freqs: int) -> np.ndarray:
    """Integer positions 0..max_position: all of them when small, else the top 4096 (where the error is largest)
    and an even spread below, within about 2**20 phase values."""
    max_position = int(max_position)
    cap = max(1024, (1 << 20) // max(n_freqs, 1))
    if max_position + 1 <= cap:
        return np.arange(max_position + 1, dtype=np.float64)
    top = np.arange(max(0, max_position - 4095), max_position + 1, dtype=np.float64)
    spread = np.floor(np.linspace(0, max_position, cap - top.size))
    return np.unique(np.concatenate([spread, top]))


@lru_cache(maxsize=256)
def phase_error_freqs(max_position: float, freqs: tuple, fmt: str) -> float:
    """Max |sin/cos error| of a position encoding computed in fmt: integer positions up to ``max_position`` stored in
    fmt, times each frequency stored in fmt, the product rounded to fmt, then sin and cos (exact, output rounded to
    fmt) -- against the same table computed exactly.  ``freqs`` are the model's constants (e.g. RoPE inv_freq)."""
    if max_position is None or max_position < 1 or not freqs:
        return 0.0
    f = get_format(fmt)
    fr = np.asarray(freqs, dtype=np.float64)
    pos = _phase_positions(int(math.ceil(max_position)), fr.size)
    exact = pos[:, None] * fr[None, :]
    arg = f.round(f.round(pos)[:, None] * f.round(fr)[None, :])
    err = max(float(np.max(np.abs(f.round(np.sin(arg)) - np.sin(exact)))),
              float(np.max(np.abs(f.round(np.cos(arg)) - np.cos(exact)))))
    return min(err, 2.0)


def freqs_key(values: np.ndarray, limit: int = 256) -> tuple:
    """A hashable, bounded summary of a frequency constant for :func:`phase_error_freqs` (distinct values; at most
    ``limit`` of them, spread evenly and always keeping the largest)."""
    v = np.unique(np.abs(np.asarray(values, dtype=np.float64).ravel()))
    v = v[np.isfinite(v) & (v > 0)]
    if v.size > limit:
        idx = np.unique(np.concatenate([np.linspace(0, v.size - 1, limit - 1).astype(int), [v.size - 1]]))
        v = v[idx]
    return tuple(float(x) for x in v)


MAX_ENCODING_DIM = 1 << 16  # position-encoding widths are a few thousand at most


@lru_cache(maxsize=256)
def phase_error(max_position: int, fmt: str, dim: int = 64, base: float = 10000.0) -> float:
    """Max |sin(phase) error| of sinusoidal / rotary encodings with the standard frequencies base^(-2i/dim)."""
    if not max_position or max_position <= 1:
        return 0.0
    if not 0 < int(dim) <= MAX_ENCODING_DIM:
        raise ValueError(f"encoding dimension {dim} outside 1..{MAX_ENCODING_DIM}")
    inv_freq = 1.0 / base ** (np.arange(0, int(dim), 2, dtype=np.float64) / int(dim))
    return phase_error_freqs(int(max_position), freqs_key(inv_freq), fmt)


@lru_cache(maxsize=256)
def sin_argument_error(max_arg: float, fmt: str) -> float:
    """Max |sin error| when an argument up to ``max_arg`` (radians) is stored in fmt before sin is taken."""
    if max_arg is None or not max_arg > 0:
        return 0.0
    if math.isinf(max_arg):
        return 2.0
    f = get_format(fmt)
    x = np.linspace(max_arg / 2, max_arg, 1 << 16)
    return float(min(2.0, np.max(np.abs(np.sin(f.round(x)) - np.sin(x)))))


# ---------------------------------------------------------------------------------------------------------------
# Absolute coordinates normalised for GridSample
# ---------------------------------------------------------------------------------------------------------------

@lru_cache(maxsize=256)
def absolute_grid_error(max_coord: float, size: int, align_corners: bool, fmt: str, part: str = "chain") -> float:
    """Max sampling-position error, in pixels, of a grid built from absolute pixel coordinates up to ``max_coord``:
    the coordinate stored in fmt and normalised in fmt (2x/(size-1) - 1 with align_corners=1, (2x+1)/size - 1 with 0,
    the forms flow-warping code writes) -- against the exact coordinate.

    part = "chain": GridSample itself unnormalises exactly (the error that stays with an fp32 GridSample);
    part = "total": GridSample also unnormalises in fmt; part = "storage": only the coordinate's own rounding."""
    if max_coord is None or size is None or size <= 1 or not max_coord > 0:
        return 0.0
    f = get_format(fmt)
    r = f.round
    # Every value the stored coordinate can take, and the interval of true coordinates that rounds to it: the error
    # is largest at an end of that interval, so the maximum over them is exact (no sampling).
    cs = _representable(fmt, float(max_coord))
    if cs is None:  # fp32: dense sampling is enough
        cs = r(np.linspace(0.0, float(max_coord), 1 << 17))
        lo_c = hi_c = cs
    else:
        mids = (cs[1:] + cs[:-1]) / 2.0
        lo_c = np.concatenate([[0.0], mids])
        hi_c = np.minimum(np.concatenate([mids, [float(max_coord)]]), float(max_coord))
    if align_corners:
        g = r(r(r(cs * 2.0) / r(np.float64(size - 1))) - 1.0)
    else:
        g = r(r(r(r(cs * 2.0) + 1.0) / r(np.float64(size))) - 1.0)
    if part == "storage":
        got = cs
    else:
        got = _unnormalize(g, int(size), bool(align_corners), r if part == "total" else (lambda v: v))
    return float(max(np.max(np.abs(got - lo_c)), np.max(np.abs(got - hi_c))))


def _representable(fmt: str, top: float) -> Optional[np.ndarray]:
    """All non-negative finite values of fmt up to the first one at or above ``top`` (None for fp32)."""
    if fmt == "fp16":
        v = np.arange(0, 0x7C00, dtype=np.uint16).view(np.float16).astype(np.float64)
    elif fmt == "bf16":
        v = (np.arange(0, 0x7F80, dtype=np.uint32) << 16).view(np.float32).astype(np.float64)
    else:
        return None
    k = int(np.searchsorted(v, top))
    return v[: min(k + 1, v.size)][v[: min(k + 1, v.size)] <= max(top, v[min(k, v.size - 1)])]


# ---------------------------------------------------------------------------------------------------------------
# Approximations: GELU tanh form, ARM reciprocal and reciprocal-square-root estimates
# ---------------------------------------------------------------------------------------------------------------

@lru_cache(maxsize=8)
def gelu_tanh_error() -> float:
    """Max |GELU_tanh(x) - GELU_erf(x)| over x in [-10, 10] (computed in float64): what MNN's converter
    (--useGeluApproximation, on by default) and its ARMv8.2 fp16 kernel change whatever the precision."""
    x = np.linspace(-10.0, 10.0, 40001)
    erf = np.array([math.erf(v / math.sqrt(2.0)) for v in x])
    exact = 0.5 * x * (1.0 + erf)
    approx = 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))
    return float(np.max(np.abs(approx - exact)))


def _recip_estimate_table(a: np.ndarray) -> np.ndarray:
    """ARM RecipEstimate: 9-bit operand a in [256, 511] (0.1xxxxxxxx) -> 9-bit estimate in [256, 511]."""
    a = a * 2 + 1
    b = (1 << 19) // a
    return (b + 1) // 2


def frecpe(x: np.ndarray) -> np.ndarray:
    """ARM FRECPE (vrecpe): the 8-bit reciprocal estimate, for positive normal x."""
    m, e = np.frexp(np.asarray(x, dtype=np.float64))  # x = m * 2**e, m in [0.5, 1)
    a = np.floor(m * 512.0).astype(np.int64)  # the top 9 bits of the significand
    est = _recip_estimate_table(a) / 256.0  # about 1 / (a / 512)
    return np.ldexp(est, -e)


def _rsqrt_estimate_table(a: np.ndarray) -> np.ndarray:
    """ARM RecipSqrtEstimate: 9-bit operand in [128, 511] -> estimate in [256, 511]."""
    a = np.where(a < 256, a * 2 + 1, ((a >> 1) << 1) * 2 + 2)
    b = np.full(a.shape, 512, dtype=np.int64)
    # smallest b with a * (b + 1)^2 >= 2**28 (the architecture's loop, solved directly)
    b = np.maximum(b, np.ceil(np.sqrt((1 << 28) / a) - 1).astype(np.int64))
    b = np.where(a * (b + 1) * (b + 1) < (1 << 28), b + 1, b)
    b = np.where((b > 512) & (a * b * b >= (1 << 28)), b - 1, b)
    return (b + 1) // 2


def frsqrte(x: np.ndarray) -> np.ndarray:
    """ARM FRSQRTE (vrsqrte): the 8-bit reciprocal square root estimate, for positive normal x."""
    m, e = np.frexp(np.asarray(x, dtype=np.float64))  # m in [0.5, 1)
    odd = (e % 2) != 0
    # operand scaled into [0.25, 1): exponent made even
    mm = np.where(odd, m / 2.0, m)
    ee = np.where(odd, e + 1, e)
    a = np.floor(mm * 512.0).astype(np.int64)  # 128..511
    est = _rsqrt_estimate_table(a) / 256.0  # about 1 / sqrt(a / 512)
    return np.ldexp(est, -(ee // 2))


@lru_cache(maxsize=8)
def estimate_relative_error(kind: str) -> float:
    """Max relative error of the ARM reciprocal ('recip') or reciprocal square root ('rsqrt') estimate without a
    Newton-Raphson step, measured over two binades of inputs."""
    x = np.linspace(1.0, 4.0, 1 << 15, endpoint=False)
    if kind == "rsqrt":
        return float(np.max(np.abs(frsqrte(x) * np.sqrt(x) - 1.0)))
    return float(np.max(np.abs(frecpe(x) * x - 1.0)))


@lru_cache(maxsize=8)
def sigmoid_estimate_error(fmt: str = "fp32") -> float:
    """Max |error| of sigmoid(x) computed as FRECPE(1 + exp(-x)) (MNN's Precision_Low CPU path, no Newton step), the
    result stored in fmt -- against the exact sigmoid, for x in [-20, 20]."""
    x = np.linspace(-20.0, 20.0, 1 << 16)
    exact = 1.0 / (1.0 + np.exp(-x))
    got = get_format(fmt).round(frecpe(1.0 + np.exp(-x)))
    return float(np.max(np.abs(got - exact)))


# ---------------------------------------------------------------------------------------------------------------
# Range limits
# ---------------------------------------------------------------------------------------------------------------

def power_overflow_limit(p: float, fmt: str) -> float:
    """|x| at which |x|^p leaves fmt's range: above it for p > 0 (overflow), below it for p < 0 (1/small)."""
    if p == 0:
        return math.inf
    return get_format(fmt).max ** (1.0 / p)


def log_floor(fmt: str) -> float:
    """The most negative finite log of a positive value held in fmt: log of its smallest subnormal (an input
    smaller than that is stored as 0 and its log is -inf)."""
    return math.log(get_format(fmt).min_subnormal)


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
            rounded = ((bits + np.uint32(0x7FFF) + ((bits >> np.uint32(16)) & np.uint32(1))) & np.uint32(0xFFFF0000)) \
                .view(np.float32)
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
