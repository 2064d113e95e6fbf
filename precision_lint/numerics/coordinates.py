"""Errors of computed coordinates and phases: GridSample and Resize sampling positions, absolute pixel grids,
positional encodings and Sin/Cos arguments."""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Callable

import numpy as np

from .formats import _representable, get_format


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
    with np.errstate(over="ignore", invalid="ignore"):
        if part in ("arith", "total"):
            got = _unnormalize(g_in, size, align_corners, r)
        else:
            got = _unnormalize(g_in, size, align_corners, lambda v: v)
    if not np.all(np.isfinite(got)):  # positions past the format's range (65520 in fp16): inf, not inf * 0 = NaN
        return math.inf
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
    if math.isinf(float(get_format(fmt).round(np.float64(max_value)))):  # beyond the range: the coordinate is lost
        return math.inf
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
    err = max(
        float(np.max(np.abs(f.round(np.sin(arg)) - np.sin(exact)))),
        float(np.max(np.abs(f.round(np.cos(arg)) - np.cos(exact)))),
    )
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
        reached = lo_c <= hi_c  # the value above the top is stored only if the top rounds up to it
        cs, lo_c, hi_c = cs[reached], lo_c[reached], hi_c[reached]
    if align_corners:
        g = r(r(r(cs * 2.0) / r(np.float64(size - 1))) - 1.0)
    else:
        g = r(r(r(r(cs * 2.0) + 1.0) / r(np.float64(size))) - 1.0)
    if part == "storage":
        got = cs
    else:
        got = _unnormalize(g, int(size), bool(align_corners), r if part == "total" else (lambda v: v))
    return float(max(np.max(np.abs(got - lo_c)), np.max(np.abs(got - hi_c))))
