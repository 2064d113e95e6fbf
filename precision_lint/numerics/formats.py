"""Number formats (fp32, fp16, bf16): their constants, how a value is stored in each, and the limits that follow
(overflow of exp and powers, the log floor, eps and integers that vanish)."""

from __future__ import annotations

import math
from dataclasses import dataclass
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
        return 2.0**-self.mantissa_bits

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


FP32 = FloatFormat("fp32", 8, 23, float(np.finfo(np.float32).max), 2.0**-126, 2.0**-149)
FP16 = FloatFormat("fp16", 5, 10, 65504.0, 2.0**-14, 2.0**-24)
BF16 = FloatFormat("bf16", 8, 7, float.fromhex("0x1.fep127"), 2.0**-126, 2.0**-133)
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


ROUNDERS: Dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "fp32": _round_fp32,
    "fp16": _round_fp16,
    "bf16": _round_bf16,
}


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


def exp_overflow(fmt: str) -> float:
    return get_format(fmt).exp_overflow


def exp_argument_error(max_operand: float, fmt: str) -> float:
    """RMS relative error of exp(a - b) when a and b, of magnitude up to ``max_operand``, are stored in fmt: the
    argument carries d = u1 + u2, two roundings uniform within half the spacing h at that magnitude, and the result
    is off by exp(d) - 1.  Its mean square, from the uniform's moment generating function sinh(t h/2) / (t h/2):
    E[exp(2d)] - 2 E[exp(d)] + 1.  For small h that is h / sqrt(6) (0.408 h); past h of about 1 it grows like
    exp(h / 2)."""
    f = get_format(fmt)
    if not max_operand > 0:
        return 0.0
    if math.isinf(stored(max_operand, fmt)):  # the operand itself overflows
        return math.inf
    a = f.ulp(max_operand) / 2.0
    if a > 300.0:  # sinh overflows: so does the error
        return math.inf

    def mgf(t: float) -> float:  # E[exp(t u)] for u uniform in [-a, a]
        return math.sinh(t * a) / (t * a)

    if a < 1e-3:  # the closed form cancels in floating point: its series, 2 a^2 / 3 (1 + 14 a^2 / 15)
        return math.sqrt(2.0 * a * a / 3.0 * (1.0 + 14.0 * a * a / 15.0))
    return math.sqrt(max(mgf(2.0) ** 2 - 2.0 * mgf(1.0) ** 2 + 1.0, 0.0))


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
    if math.isinf(stored(max_value, fmt)):  # beyond the range: the value itself is lost
        return math.inf
    return f.ulp(max_value) / 2.0


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


def power_overflow_limit(p: float, fmt: str) -> float:
    """|x| at which |x|^p leaves fmt's range: above it for p > 0 (overflow), below it for p < 0 (1/small)."""
    if p == 0:
        return math.inf
    return get_format(fmt).max ** (1.0 / p)


def log_floor(fmt: str) -> float:
    """The most negative finite log of a positive value held in fmt: log of its smallest subnormal (an input
    smaller than that is stored as 0 and its log is -inf)."""
    return math.log(get_format(fmt).min_subnormal)
