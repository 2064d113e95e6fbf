"""Error of sums and dot products accumulated in a reduced format, simulated with numpy (every partial sum rounded) and
tabulated for large sizes (data/estimates.json, tools/gen_estimator_tables.py)."""

from __future__ import annotations

import json
import math
from functools import lru_cache
from typing import Callable, Dict, Optional

import numpy as np

from ..resources import data_path
from .formats import ACCUMULATOR, FP32, get_format, numpy_dtype


def lane_sums(
    terms: np.ndarray, lanes: int, acc: str, start: Optional[np.ndarray] = None, by_term: bool = False
) -> np.ndarray:
    """The ``lanes`` running sums of each row of ``terms`` (shape (S, n)) held in ``acc``: lane j adds every lanes-th
    term (j, j+lanes, ...) one after another, each addition rounded to ``acc`` (lanes=1: one sequential sum).
    ``start`` (S, lanes) continues earlier partial sums, so a long sum can be fed in chunks.  Each term is rounded
    to ``acc`` before it is added (no fused multiply-add).  ``by_term``: ``terms`` is laid out (n, S), term-major
    (many sums of few terms: one vectorised step per term, 4x faster than numpy's half-precision accumulate).
    Returns (S, lanes), in ``acc``'s numpy dtype when there is one, else float64 rounded to ``acc``."""
    dt = numpy_dtype(acc)
    if by_term and dt is not None:
        n, s = terms.shape
        part = np.zeros((lanes, s), np.float32) if start is None else np.ascontiguousarray(start.T, np.float32)
        stored = np.empty(s, dt)
        with np.errstate(over="ignore", invalid="ignore"):
            for i in range(n):
                lane = part[i % lanes]
                stored[...] = terms[i]  # the term in acc
                np.add(lane, stored, out=lane, dtype=np.float32)
                stored[...] = lane  # fp32 addition of two acc values, rounded to acc: acc's own addition
                lane[...] = stored
        return part.T.astype(dt)
    if by_term:
        terms = terms.T  # pragma: no cover - slow path without ml_dtypes
    s, n = terms.shape
    pad = (-n) % lanes
    if pad:
        terms = np.concatenate([terms, np.zeros((s, pad), terms.dtype)], axis=1)
    blocks = terms.reshape(s, -1, lanes)
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
_TABLE_PATH = str(data_path("estimates.json"))
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
    if math.isinf(hi):  # the longer sum overflows (squares past 65504 in fp16): inf, not inf - inf = NaN
        return hi
    t = math.log2(n) - b
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
    return max(float(min(np.sqrt(np.mean(rel**2)), 1.0)), shorter)


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
    if math.isinf(at_max):  # already overflowed at 2**21: longer sums overflow too
        return at_max
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
TABLE_SUM_SERIES = [
    ("fp16", 8, "positive", "fp16"),
    ("fp16", 8, "squares", "fp16"),
    ("fp16", 8, "ones", "fp16"),
    (
        "fp16",
        1,
        "positive",
        "fp16",
    ),  # A002 on GlobalAveragePool: one running sum per channel (MNN's lanes hold channels)
]
TABLE_DOT_SERIES = [("fp16", "fp16")]


def build_tables(
    budget: int = _TABLE_BUDGET, max_sum_log2: int = _SUM_MAX_LOG2, max_dot_log2: int = _DOT_MAX_LOG2
) -> Dict[str, Dict[str, list]]:
    """Simulate the tabled series with ``budget`` terms per point (tools/gen_estimator_tables.py writes them)."""
    out: Dict[str, Dict[str, list]] = {"sum": {}, "dot": {}}
    for fmt, lanes, kind, acc in TABLE_SUM_SERIES:
        out["sum"][f"{fmt}|{lanes}|{kind}|{acc}"] = [
            float(f"{_sum_grid(b, fmt, lanes, kind, acc, budget):.6g}") for b in range(1, max_sum_log2 + 1)
        ]
    for fmt, acc in TABLE_DOT_SERIES:
        out["dot"][f"{fmt}|{acc}"] = [
            float(f"{_dot_grid(b, fmt, acc, budget):.6g}") for b in range(1, max_dot_log2 + 1)
        ]
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
