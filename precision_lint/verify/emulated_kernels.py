"""Numpy kernels that compute with a platform's reduced *arithmetic* and *accumulation* formats, for verify's
emulated runs of targets whose kernels cannot run here (verify/emulated.py runs them inside ONNX's reference
evaluator).

What is modelled, per op whose platform-table formats are below fp32:

- **Accumulation** (the partial sums of a reducing op, each addition rounded to the accumulation format): MatMul,
  Gemm, Conv and ConvTranspose (im2col: each output's K = C/group x kernel products, in (channel, kernel row,
  kernel column) order), ReduceSum / ReduceMean / ReduceL1 / ReduceL2 / ReduceSumSquare / ReduceLogSum /
  ReduceLogSumExp, n-ary Sum, Softmax / LogSoftmax (the denominator), LayerNormalization and InstanceNormalization
  (mean and variance), GlobalAveragePool and AveragePool (the window sum).  The sums are
  numerics.accumulation.lane_sums, the estimators' own: ``lanes`` running sums each take every lanes-th term, then are added pairwise; lanes=1 is one
  sequential sum.  Each term (a product, a square) is rounded to the accumulation format before it is added: no
  fused multiply-add (numerics.dot_relative_error: a difference under 3e-4).
- **Arithmetic** (the format of each elementary step): float inputs are rounded to the arithmetic format, and so is
  the result of each step: a single-step op (Add, Mul, Exp, Sqrt, Div, Pow, Tanh, Erf...) is computed in fp32 and
  its result rounded (correct rounding of the exact result, which fp16 hardware may miss by an ulp); Sigmoid,
  Softplus and Gelu round each of their steps; the reducing ops above round their element-wise steps (the
  subtraction of the max, exp, the division, x - mean, the scale and bias).
- Not modelled: kernel algorithms (Winograd convolution, Strassen), approximations (exp clamps, reciprocal
  estimates, fast-math), and the reducing ops without a kernel here (ACCUMULATING minus EMULATED: their
  accumulation stays fp32, and the report names them).

Every array is float32 in and out; values are exactly representable in the formats they were rounded to.
"""

from __future__ import annotations

from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..numerics.accumulation import combine_lanes, lane_sums
from ..numerics.formats import get_format, numpy_dtype

# Ops that sum many terms (the table's accumulation format applies to them).  Those in EMULATED have a kernel here.
ACCUMULATING = frozenset(
    {
        "MatMul",
        "Gemm",
        "Conv",
        "ConvTranspose",
        "Einsum",
        "ReduceSum",
        "ReduceMean",
        "ReduceL1",
        "ReduceL2",
        "ReduceSumSquare",
        "ReduceLogSum",
        "ReduceLogSumExp",
        "ReduceProd",
        "Sum",
        "Mean",
        "Softmax",
        "LogSoftmax",
        "LayerNormalization",
        "InstanceNormalization",
        "GroupNormalization",
        "RMSNormalization",
        "MeanVarianceNormalization",
        "GlobalAveragePool",
        "AveragePool",
        "LpPool",
        "GlobalLpPool",
        "LpNormalization",
        "CumSum",
        "Attention",
        "LSTM",
        "GRU",
        "RNN",
        "MatMulInteger",
        "QLinearMatMul",
        "QLinearConv",
        "ConvInteger",
    }
)
# Ops that only move or select values: reduced arithmetic does not round them (their inputs were stored already).
MOVING = frozenset(
    {
        "Reshape",
        "Transpose",
        "Concat",
        "Slice",
        "Gather",
        "GatherElements",
        "GatherND",
        "Squeeze",
        "Unsqueeze",
        "Flatten",
        "Identity",
        "Expand",
        "Tile",
        "Split",
        "Pad",
        "Shape",
        "Size",
        "Cast",
        "CastLike",
        "Where",
        "ScatterND",
        "ScatterElements",
        "DepthToSpace",
        "SpaceToDepth",
        "Constant",
        "ConstantOfShape",
        "Range",
        "NonZero",
        "TopK",
        "ArgMax",
        "ArgMin",
        "Equal",
        "Greater",
        "Less",
        "GreaterOrEqual",
        "LessOrEqual",
        "Not",
        "And",
        "Or",
        "Xor",
        "IsNaN",
        "IsInf",
        "Dropout",
        "MaxPool",
        "GlobalMaxPool",
        "ReduceMax",
        "ReduceMin",
        "Max",
        "Min",
        "Relu",
        "Trilu",
        "OneHot",
    }
)
_CHUNK = 1 << 22  # terms per chunk of a long dot product: bounds the memory of a big GEMM or convolution


class Formats:
    """What one node computes with: arithmetic and accumulation formats, and the lanes of its sums."""

    __slots__ = ("arithmetic", "accumulation", "lanes")

    def __init__(self, arithmetic: str, accumulation: str, lanes: int):
        self.arithmetic, self.accumulation, self.lanes = arithmetic, accumulation, lanes

    def r(self, x):
        """``x`` rounded to the arithmetic format (float32)."""
        return round_to(x, self.arithmetic)


def round_to(x, fmt: str) -> np.ndarray:
    """float32 copy of ``x`` rounded to ``fmt`` (beyond the range: inf, as a computation in that format gives)."""
    x = np.asarray(x, dtype=np.float32)
    if fmt == "fp32":
        return x
    dt = numpy_dtype(fmt)
    with np.errstate(over="ignore", invalid="ignore"):
        if dt is not None:
            return x.astype(dt).astype(np.float32)
        return get_format(fmt).round(x).astype(np.float32)  # pragma: no cover - without ml_dtypes


def sum_along(x: np.ndarray, axes: Sequence[int], f: Formats) -> np.ndarray:
    """Sum of ``x`` over ``axes`` (kept as size-1 dims) accumulated in f.accumulation with f.lanes."""
    x = np.asarray(x, dtype=np.float32)
    axes = sorted(a % x.ndim for a in axes)
    if f.accumulation == "fp32":
        return np.sum(x, axis=tuple(axes), keepdims=True, dtype=np.float32)
    rest = [a for a in range(x.ndim) if a not in axes]
    moved = np.transpose(x, rest + axes)
    kept = [x.shape[a] for a in rest]
    n = int(np.prod([x.shape[a] for a in axes], dtype=np.int64))
    terms = moved.reshape(-1, n)
    if terms.shape[0] == 0 or n == 0:
        return np.sum(x, axis=tuple(axes), keepdims=True, dtype=np.float32)
    sums = combine_lanes(lane_sums(terms, f.lanes, f.accumulation), f.accumulation)
    out = sums.astype(np.float32).reshape(kept)
    for a in axes:
        out = np.expand_dims(out, a)
    return out


def dot(a: np.ndarray, b: np.ndarray, f: Formats) -> np.ndarray:
    """``a @ b`` (numpy matmul broadcasting, both at least 2-D) with products rounded to the accumulation format and
    summed over K in f.accumulation with f.lanes: one vectorised step per product over every output (term-major
    lane_sums), fed in chunks of K so memory stays bounded."""
    a = np.asarray(a, dtype=np.float32)
    b = np.asarray(b, dtype=np.float32)
    if f.accumulation == "fp32":
        return np.matmul(a, b)
    k = a.shape[-1]
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    m, n = a.shape[-2], b.shape[-1]
    ak = np.moveaxis(np.broadcast_to(a, batch + a.shape[-2:]), -1, 0)  # (K, ..., M)
    bk = np.moveaxis(np.broadcast_to(b, batch + b.shape[-2:]), -2, 0)  # (K, ..., N)
    s = int(np.prod(batch, dtype=np.int64)) * m * n
    if s == 0 or k == 0:
        return np.matmul(a, b)
    step = max(1, _CHUNK // s)
    part = None
    with np.errstate(over="ignore", invalid="ignore"):
        for k0 in range(0, k, step):
            terms = ak[k0 : k0 + step, ..., :, None] * bk[k0 : k0 + step, ..., None, :]  # (chunk, ..., M, N), fp32
            part = lane_sums(terms.reshape(-1, s), f.lanes, f.accumulation, part, by_term=True)
    sums = combine_lanes(part, f.accumulation)
    return sums.astype(np.float32).reshape(batch + (m, n))


# --------------------------------------------------------------------------------------------- the ops' kernels


def _matmul(f: Formats, a, b, **_):
    a, b = f.r(a), f.r(b)
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    y = dot(a2, b2, f)
    if a.ndim == 1:
        y = y[..., 0, :]
    if b.ndim == 1:
        y = y[..., 0]
    return (y,)


def _gemm(f: Formats, a, b, c=None, alpha=1.0, beta=1.0, transA=0, transB=0, **_):
    a, b = f.r(a), f.r(b)
    y = dot(a.T if transA else a, b.T if transB else b, f)
    if alpha != 1.0:
        y = f.r(np.float32(alpha) * y)
    if c is not None:
        y = f.r(y + f.r(np.float32(beta) * f.r(c)))
    return (y,)


def _conv_pads(auto_pad: str, pads, in_shape, kernel, strides, dilations) -> List[int]:
    nd = len(kernel)
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        begin, end = [], []
        for size, k, s, d in zip(in_shape, kernel, strides, dilations):
            total = max((-(-size // s) - 1) * s + (k - 1) * d + 1 - size, 0)
            small = total // 2
            begin.append(small if auto_pad == "SAME_UPPER" else total - small)
            end.append(total - begin[-1])
        return begin + end
    if auto_pad == "VALID":
        return [0] * (2 * nd)
    return list(pads) if pads else [0] * (2 * nd)


def conv_nd(x, w, f: Formats, group: int = 1, strides=None, pads=None, dilations=None) -> np.ndarray:
    """N-d convolution by im2col: per group, (N x output positions, C/group x kernel) @ (C/group x kernel, M/group),
    accumulated by :func:`dot` (vectorised over output positions and channels; K one step at a time), in blocks of
    output rows so that the im2col copy stays small."""
    from numpy.lib.stride_tricks import sliding_window_view

    nd = x.ndim - 2
    n, c = x.shape[:2]
    m, kernel = w.shape[0], w.shape[2:]
    strides = list(strides or [1] * nd)
    dilations = list(dilations or [1] * nd)
    pads = list(pads or [0] * (2 * nd))
    xp = np.pad(x, [(0, 0), (0, 0)] + [(pads[i], pads[i + nd]) for i in range(nd)])
    span = [(k - 1) * d + 1 for k, d in zip(kernel, dilations)]
    win = sliding_window_view(xp, span, axis=tuple(range(2, 2 + nd)))  # (N, C, *positions, *span)
    win = win[
        (slice(None), slice(None))
        + tuple(slice(None, None, s) for s in strides)
        + tuple(slice(None, None, d) for d in dilations)
    ]  # (N, C, *out, *kernel)
    out = win.shape[2 : 2 + nd]
    kprod = int(np.prod(kernel, dtype=np.int64))
    cg, mg = c // group, m // group
    wg = np.swapaxes(w.reshape(group, mg, cg * kprod), -1, -2)  # (G, K, Mg)
    row = n * c * kprod * int(np.prod(out[1:], dtype=np.int64))  # im2col values per output row
    rows = max(1, _CHUNK // max(row, 1)) if out else 1
    blocks = []
    for r0 in range(0, out[0] if out else 1, rows):
        part = win[:, :, r0 : r0 + rows] if out else win
        sub = part.shape[2 : 2 + nd]
        positions = int(np.prod(sub, dtype=np.int64))
        cols = part.reshape((n, group, cg) + sub + tuple(kernel))
        cols = np.moveaxis(cols, 2, 2 + nd)  # (N, G, *sub, Cg, *kernel): K in (channel, kernel...) order
        cols = np.moveaxis(cols, 1, 0).reshape(group, n * positions, cg * kprod)
        y = dot(cols, wg, f).reshape((group, n) + sub + (mg,))  # (G, N, *sub, Mg)
        blocks.append(np.moveaxis(np.moveaxis(y, -1, 2), 0, 1))  # (N, G, Mg, *sub)
    y = np.concatenate(blocks, axis=3) if out else blocks[0]
    return y.reshape((n, m) + out)


def _conv(
    f: Formats,
    x,
    w,
    b=None,
    auto_pad="NOTSET",
    dilations=None,
    group=1,
    kernel_shape=None,
    pads=None,
    strides=None,
    **_,
):
    x, w = f.r(x), f.r(w)
    nd = x.ndim - 2
    strides = list(strides or [1] * nd)
    dilations = list(dilations or [1] * nd)
    pads = _conv_pads(auto_pad, pads, x.shape[2:], w.shape[2:], strides, dilations)
    y = conv_nd(x, w, f, group, strides, pads, dilations)
    if b is not None:
        y = f.r(y + f.r(b).reshape((1, -1) + (1,) * nd))
    return (y,)


def _conv_transpose(
    f: Formats,
    x,
    w,
    b=None,
    auto_pad="NOTSET",
    dilations=None,
    group=1,
    kernel_shape=None,
    output_padding=None,
    output_shape=None,
    pads=None,
    strides=None,
    **_,
):
    """ConvTranspose as the convolution it equals: the input with stride-1 zeros inserted between its values, padded
    by dilation x (kernel - 1) - pad, convolved with the flipped kernel (the zeros add exactly)."""
    if (auto_pad or "NOTSET") != "NOTSET" or output_shape:
        return None  # only explicit pads are emulated; the caller keeps fp32 accumulation and says so
    x, w = f.r(x), f.r(w)
    nd = x.ndim - 2
    n, cin = x.shape[:2]
    kernel = w.shape[2:]
    strides = list(strides or [1] * nd)
    dilations = list(dilations or [1] * nd)
    pads = list(pads or [0] * (2 * nd))
    extra = list(output_padding or [0] * nd)
    spread = np.zeros((n, cin) + tuple((s_ - 1) * st + 1 for s_, st in zip(x.shape[2:], strides)), np.float32)
    spread[(slice(None), slice(None)) + tuple(slice(None, None, st) for st in strides)] = x
    widths = []
    for i in range(nd):
        full = dilations[i] * (kernel[i] - 1)
        widths.append((full - pads[i], full - pads[i + nd] + extra[i]))
    crop = tuple(slice(max(-lo, 0), spread.shape[2 + i] - max(-hi, 0)) for i, (lo, hi) in enumerate(widths))
    spread = spread[(slice(None), slice(None)) + crop]
    spread = np.pad(spread, [(0, 0), (0, 0)] + [(max(lo, 0), max(hi, 0)) for lo, hi in widths])
    cout_g = w.shape[1]
    wt = w.reshape((group, cin // group, cout_g) + tuple(kernel))
    wt = np.swapaxes(wt, 1, 2).reshape((group * cout_g, cin // group) + tuple(kernel))
    wt = np.ascontiguousarray(wt[(slice(None), slice(None)) + (slice(None, None, -1),) * nd])
    y = conv_nd(spread, wt, f, group, [1] * nd, [0] * (2 * nd), dilations)
    if b is not None:
        y = f.r(y + f.r(b).reshape((1, -1) + (1,) * nd))
    return (y,)


def _axes(x, rest, attrs) -> Optional[List[int]]:
    """The reduction axes of a Reduce* node (input in newer opsets, attribute in older); None: keep the input."""
    axes = rest[0] if rest and rest[0] is not None else attrs.get("axes")
    if axes is None or len(axes) == 0:
        return None if attrs.get("noop_with_empty_axes") else list(range(x.ndim))
    return [int(a) for a in np.asarray(axes).ravel()]


def _reduce(kind: str):
    def run(f: Formats, x, *rest, **attrs):
        x = f.r(x)
        axes = _axes(x, rest, attrs)
        if axes is None:
            return (x,)
        if kind in ("ReduceL2", "ReduceSumSquare"):
            terms = f.r(x * x)
        elif kind == "ReduceL1":
            terms = np.abs(x)
        elif kind == "ReduceLogSumExp":
            top = np.max(x, axis=tuple(axes), keepdims=True)
            top = np.where(np.isfinite(top), top, 0).astype(np.float32)
            terms = f.r(np.exp(f.r(x - top)))
        else:
            terms = x
        y = sum_along(terms, axes, f)
        if kind == "ReduceMean":
            y = f.r(y / np.float32(np.prod([x.shape[a] for a in axes])))
        elif kind == "ReduceL2":
            y = f.r(np.sqrt(y))
        elif kind == "ReduceLogSum":
            y = f.r(np.log(y))
        elif kind == "ReduceLogSumExp":
            y = f.r(f.r(np.log(y)) + top)
        if not attrs.get("keepdims", 1):
            y = np.squeeze(y, axis=tuple(a % x.ndim for a in axes))
        return (y,)

    return run


def _sum(f: Formats, *xs, **_):
    acc = f.r(xs[0])
    for x in xs[1:]:
        acc = round_to(acc + f.r(x), f.accumulation)
    return (f.r(acc),)


def _softmax(log: bool):
    def run(f: Formats, x, axis=-1, _opset=13, **_):
        x = f.r(x)
        shape = x.shape
        if _opset < 13:  # axis..end flattened into one row
            axis = axis % x.ndim
            x = x.reshape(int(np.prod(shape[:axis], dtype=np.int64)), -1)
            axis = 1
        top = np.max(x, axis=axis, keepdims=True)
        shifted = f.r(x - top)
        e = f.r(np.exp(shifted))
        total = sum_along(e, [axis], f)
        with np.errstate(divide="ignore", invalid="ignore"):
            y = f.r(shifted - f.r(np.log(total))) if log else f.r(e / total)
        return (y.reshape(shape),)

    return run


def _normalise(x, axes, f: Formats, epsilon: float):
    """(x - mean) * 1/sqrt(var + eps) with the mean and the variance's sum accumulated in f.accumulation."""
    count = np.float32(np.prod([x.shape[a] for a in axes]))
    mean = f.r(sum_along(x, axes, f) / count)
    d = f.r(x - mean)
    var = f.r(sum_along(f.r(d * d), axes, f) / count)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = f.r(np.float32(1.0) / f.r(np.sqrt(f.r(var + np.float32(epsilon)))))
    return f.r(d * inv), mean, inv


def _layer_norm(f: Formats, x, scale, b=None, axis=-1, epsilon=1e-5, **_):
    x = f.r(x)
    axes = list(range(axis % x.ndim, x.ndim))
    y, mean, inv = _normalise(x, axes, f, epsilon)
    y = f.r(y * f.r(scale))
    if b is not None:
        y = f.r(y + f.r(b))
    return y, mean, inv


def _instance_norm(f: Formats, x, scale, b, epsilon=1e-5, **_):
    x = f.r(x)
    y, _, _ = _normalise(x, list(range(2, x.ndim)), f, epsilon)
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return (f.r(f.r(y * f.r(scale).reshape(shape)) + f.r(b).reshape(shape)),)


def _global_average_pool(f: Formats, x, **_):
    x = f.r(x)
    axes = list(range(2, x.ndim))
    return (f.r(sum_along(x, axes, f) / np.float32(np.prod(x.shape[2:]))),)


def _average_pool(
    f: Formats,
    x,
    auto_pad="NOTSET",
    ceil_mode=0,
    count_include_pad=0,
    dilations=None,
    kernel_shape=None,
    pads=None,
    strides=None,
    **_,
):
    if ceil_mode or (auto_pad or "NOTSET") != "NOTSET" or any(d != 1 for d in (dilations or [])):
        return None
    x = f.r(x)
    n, c = x.shape[:2]
    ones = np.ones((1, 1) + tuple(kernel_shape), np.float32)
    flat = x.reshape((n * c, 1) + x.shape[2:])
    summed = conv_nd(flat, ones, f, 1, strides, pads)  # the window sum, in (kernel...) order
    if count_include_pad:
        count = np.float32(np.prod(kernel_shape))
    else:  # the number of real (unpadded) values in each window
        count = conv_nd(np.ones((1, 1) + x.shape[2:], np.float32), ones, Formats("fp32", "fp32", 1), 1, strides, pads)
    y = f.r(summed / count)
    return (y.reshape((n, c) + y.shape[2:]),)


def _steps(body: Callable):
    def run(f: Formats, x, **attrs):
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            return (body(f, f.r(x), attrs),)

    return run


def _gelu_steps(f: Formats, x, attrs):
    if attrs.get("approximate", "none") == "tanh":
        inner = f.r(np.float32(0.7978845608) * f.r(x + f.r(np.float32(0.044715) * f.r(x * f.r(x * x)))))
        return f.r(f.r(np.float32(0.5) * x) * f.r(np.float32(1.0) + f.r(np.tanh(inner))))
    from math import erf

    erf_v = np.vectorize(erf, otypes=[np.float64])
    return f.r(f.r(np.float32(0.5) * x) * f.r(np.float32(1.0) + f.r(erf_v(f.r(x * np.float32(0.70710678))))))


def _grid_sample(f: Formats, x, grid, align_corners=0, mode="linear", padding_mode="zeros", **_):
    """4-D GridSample, bilinear or nearest, zeros or border padding, vectorised (the evaluator's own loops over
    every output pixel in Python); each step of the coordinate arithmetic and of the interpolation is rounded to
    the arithmetic format (the seed case's fp16 coordinates).  None for other cases."""
    mode = {"bilinear": "linear"}.get(mode, mode)
    if x.ndim != 4 or mode not in ("linear", "nearest") or padding_mode not in ("zeros", "border"):
        return None
    x, grid = f.r(x), f.r(grid)
    n, c, h, w = x.shape
    one, half = np.float32(1.0), np.float32(0.5)

    def unnormalise(g, size: int):
        if align_corners:
            return f.r(f.r(f.r(g + one) * half) * np.float32(size - 1))
        return f.r(f.r(f.r(f.r(g + one) * np.float32(size)) - one) * half)

    gx, gy = unnormalise(grid[..., 0], w), unnormalise(grid[..., 1], h)  # (N, Ho, Wo)
    if padding_mode == "border":
        gx, gy = np.clip(gx, 0, w - 1), np.clip(gy, 0, h - 1)
    batch = np.arange(n)[:, None, None]

    def tap(yi, xi):
        """x at integer positions (N, C, Ho, Wo); 0 outside the image."""
        inside = (yi >= 0) & (yi < h) & (xi >= 0) & (xi < w)
        vals = x[batch, :, np.clip(yi, 0, h - 1), np.clip(xi, 0, w - 1)]  # (N, Ho, Wo, C)
        return np.moveaxis(np.where(inside[..., None], vals, np.float32(0)), -1, 1)

    with np.errstate(invalid="ignore"):
        if mode == "nearest":
            return (tap(np.rint(gy).astype(np.int64), np.rint(gx).astype(np.int64)),)
        x0, y0 = np.floor(gx), np.floor(gy)
        wx, wy = f.r(gx - x0)[:, None], f.r(gy - y0)[:, None]
        x0, y0 = x0.astype(np.int64), y0.astype(np.int64)
        top = f.r(f.r(tap(y0, x0) * f.r(one - wx)) + f.r(tap(y0, x0 + 1) * wx))
        bottom = f.r(f.r(tap(y0 + 1, x0) * f.r(one - wx)) + f.r(tap(y0 + 1, x0 + 1) * wx))
        return (f.r(f.r(top * f.r(one - wy)) + f.r(bottom * wy)),)


# op type -> kernel(formats, *inputs, **attributes) -> outputs (None: not emulated for these attributes)
EMULATED: Dict[str, Callable] = {
    "MatMul": _matmul,
    "Gemm": _gemm,
    "Conv": _conv,
    "ConvTranspose": _conv_transpose,
    "Sum": _sum,
    "Softmax": _softmax(False),
    "LogSoftmax": _softmax(True),
    "LayerNormalization": _layer_norm,
    "InstanceNormalization": _instance_norm,
    "GlobalAveragePool": _global_average_pool,
    "AveragePool": _average_pool,
    "GridSample": _grid_sample,
    "Sigmoid": _steps(lambda f, x, a: f.r(np.float32(1.0) / f.r(np.float32(1.0) + f.r(np.exp(-x))))),
    "Softplus": _steps(lambda f, x, a: f.r(np.log(f.r(np.float32(1.0) + f.r(np.exp(x)))))),
    "Gelu": _steps(_gelu_steps),
    **{
        k: _reduce(k)
        for k in (
            "ReduceSum",
            "ReduceMean",
            "ReduceL1",
            "ReduceL2",
            "ReduceSumSquare",
            "ReduceLogSum",
            "ReduceLogSumExp",
        )
    },
}


def round_floats(values: Sequence, fmt: str) -> Tuple:
    """Float arrays of ``values`` rounded to ``fmt`` (others, e.g. int64 indices, unchanged)."""
    return tuple(
        round_to(v, fmt).astype(v.dtype, copy=False) if isinstance(v, np.ndarray) and v.dtype.kind == "f" else v
        for v in values
    )
