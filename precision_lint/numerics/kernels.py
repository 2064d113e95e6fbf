"""Errors of the approximations kernels use: tanh-GELU, the ARM reciprocal and reciprocal-square-root estimates
(FRECPE/FRSQRTE), fast sigmoid."""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from .formats import get_format


@lru_cache(maxsize=8)
def gelu_tanh_error() -> float:
    """Max |GELU_tanh(x) - GELU_erf(x)| over x in [-10, 10] (computed in float64): what MNN's converter
    (--useGeluApproximation, on by default) and its ARMv8.2 fp16 kernel change whatever the precision."""
    x = np.linspace(-10.0, 10.0, 40001)
    erf = np.array([math.erf(v / math.sqrt(2.0)) for v in x])
    exact = 0.5 * x * (1.0 + erf)
    approx = 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))
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
