"""Shape propagation for MNN graphs, which store shapes only for inputs and constants.

Rules need input shapes of GridSample, softmax axis lengths, reduction lengths, MatMul K...  MNN's converter
replaces many static ONNX shapes by runtime shape arithmetic (Shape -> Slice -> Concat -> Reshape), so besides
shapes this pass also evaluates small integer tensors (``values``: at most 64 elements) through that arithmetic.
Those values are never turned into graph constants: the file does not hold them.

Each op either gets exact output shapes or stays unknown; nothing is guessed.  A dim that the file leaves open
(-1 input dims) is None and stays None through the ops that keep it.
"""

from __future__ import annotations

import functools
import math
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

from ..graph import ModelGraph, Operator, Tensor

Shape = Tuple[Optional[int], ...]
MAX_VALUE_SIZE = 64


class _Unknown(Exception):
    """This op's output shape cannot be computed from what is known."""


class _Ctx:
    def __init__(self, g: ModelGraph):
        self.g = g
        self.tensors = g.tensors
        self.values: Dict[str, np.ndarray] = {}
        # ints() by tensor name: slices read the same few constant begin/end/stride tensors thousands of times.
        # Forgotten when propagation gives the name a value (value() then reads that first).
        self._ints: Dict[str, List[int]] = {}

    def _input(self, op: Operator, i: int) -> Optional[Tensor]:
        """g.input_tensor, without the method lookups: called several times per op."""
        ins = op.inputs
        if i < 0:
            i += len(ins)
        return self.tensors.get(ins[i]) if 0 <= i < len(ins) and ins[i] else None

    def shape(self, op: Operator, i: int) -> Shape:
        t = self._input(op, i)
        if t is None or t.shape is None:
            raise _Unknown()
        return tuple(t.shape)

    def has(self, op: Operator, i: int) -> bool:
        return self._input(op, i) is not None

    def value(self, op: Operator, i: int) -> np.ndarray:
        """A small integer/float tensor's value, from the file's constants or from propagated shape arithmetic."""
        v = self.known(op, i)
        if v is None:
            raise _Unknown()
        return v

    def known(self, op: Operator, i: int) -> Optional[np.ndarray]:
        """``value``, or None where it is unknown: most tensors' are, and raising costs more than the look-up."""
        t = self._input(op, i)
        if t is None:
            return None
        v = self.values.get(t.name)
        if v is not None:
            return v
        if t.is_const and t.shape is not None and _size(t.shape) is not None and _size(t.shape) <= MAX_VALUE_SIZE:
            v = t.value
            if v is not None:
                return np.asarray(v)
        return None

    def ints(self, op: Operator, i: int) -> List[int]:
        t = self._input(op, i)
        v = self._ints.get(t.name) if t is not None else None
        if v is None:
            v = [int(x) for x in self.value(op, i).ravel().tolist()]
            if t is not None:
                self._ints[t.name] = v
        return list(v)  # the caller's own copy


def _size(shape: Shape) -> Optional[int]:
    n = 1
    for d in shape:
        if d is None:
            return None
        n *= d
    return n


def _axis(a: int, rank: int) -> int:
    a = a + rank if a < 0 else a
    if not 0 <= a < rank:
        raise _Unknown()
    return a


@functools.lru_cache(maxsize=4096)  # a graph repeats a few shape pairs thousands of times (dims compare as numbers)
def _broadcast(*shapes: Shape) -> Shape:
    first = shapes[0]
    if all(s == first for s in shapes):  # the common case, and what the loop below gives for it
        return tuple(first)
    rank = max(len(s) for s in shapes)
    out: List[Optional[int]] = []
    for k in range(rank):
        dims = [s[len(s) - rank + k] for s in shapes if len(s) - rank + k >= 0]
        known = {d for d in dims if d is not None and d != 1}
        if len(known) > 1:
            raise _Unknown()
        if known:
            out.append(known.pop())
        elif any(d is None for d in dims):
            out.append(None)
        else:
            out.append(1)
    return tuple(out)


# ----- op families ---------------------------------------------------------------------------------------------
Result = List[Tuple[Shape, Optional[np.ndarray]]]


def _same(c: _Ctx, op: Operator) -> Result:
    s = c.shape(op, 0)
    v = None
    if op.op in ("Identity", "Cast", "Neg", "Abs") and op.outputs:
        try:
            v = c.value(op, 0)
            v = -v if op.op == "Neg" else (np.abs(v) if op.op == "Abs" else v)
        except _Unknown:
            v = None
    return [(s, v)]


_INT_BINARY: Dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "Add": np.add,
    "Sub": np.subtract,
    "Mul": np.multiply,
    "Min": np.minimum,
    "Max": np.maximum,
    "Div": lambda a, b: np.trunc(a / b).astype(np.int64) if not (b == 0).any() else None,
    "FloorDiv": lambda a, b: np.floor_divide(a, b) if not (b == 0).any() else None,
    "Mod": lambda a, b: np.mod(a, b) if not (b == 0).any() else None,
    "Mod/fmod": lambda a, b: np.fmod(a, b) if not (b == 0).any() else None,
}


def _binary(c: _Ctx, op: Operator) -> Result:
    n = sum(1 for i in op.inputs if i)
    shapes = [c.shape(op, i) for i in range(n)]
    out = _broadcast(*shapes)
    v = None
    f = _INT_BINARY.get("Mod/fmod" if op.op == "Mod" and op.attrs.get("fmod") else op.op)
    a = c.known(op, 0) if f is not None and n == 2 else None
    b = c.known(op, 1) if a is not None else None
    if b is not None and np.issubdtype(a.dtype, np.integer) and np.issubdtype(b.dtype, np.integer):
        v = f(a.astype(np.int64), b.astype(np.int64))
    return [(out, v)]


def _shape_op(c: _Ctx, op: Operator) -> Result:
    s = c.shape(op, 0)
    v = np.asarray(s, dtype=np.int64) if all(d is not None for d in s) else None
    return [((len(s),), v)]


def _rank(c: _Ctx, op: Operator) -> Result:
    return [((), np.asarray(len(c.shape(op, 0)), dtype=np.int64))]


def _size_op(c: _Ctx, op: Operator) -> Result:
    n = _size(c.shape(op, 0))
    return [((), None if n is None else np.asarray(n, dtype=np.int64))]


def _reshape(c: _Ctx, op: Operator) -> Result:
    src = c.shape(op, 0)
    target = c.ints(op, 1) if c.has(op, 1) else list(op.attrs.get("dims") or [])
    if not target and not c.has(op, 1):
        raise _Unknown()
    out: List[Optional[int]] = []
    infer = -1
    for k, d in enumerate(target):
        if d == 0:
            if k >= len(src):
                raise _Unknown()
            out.append(src[k])
        elif d == -1:
            infer = k
            out.append(None)
        else:
            out.append(d)
    total, known = _size(src), _size(tuple(d for d in out if d is not None))
    if infer >= 0 and total is not None and known:
        out[infer] = total // known
    return [(tuple(out), _reshaped(c, op, tuple(out)))]


def _reshaped(c: _Ctx, op: Operator, shape: Shape) -> Optional[np.ndarray]:
    try:
        v = c.value(op, 0)
        return v.reshape(shape) if None not in shape else None
    except (_Unknown, ValueError):
        return None


def _transpose(c: _Ctx, op: Operator) -> Result:
    s = c.shape(op, 0)
    perm = list(op.attrs.get("perm") or reversed(range(len(s))))
    if sorted(perm) != list(range(len(s))):
        raise _Unknown()
    v = None
    try:
        v = np.transpose(c.value(op, 0), perm)
    except _Unknown:
        pass
    return [(tuple(s[p] for p in perm), v)]


def _flatten(c: _Ctx, op: Operator) -> Result:
    s = c.shape(op, 0)
    axis = _axis(op.attrs.get("axis", 1), len(s)) if s else 0
    end = op.attrs.get("end_axis", 0)
    if end == 0:
        return [((_size(s[:axis]), _size(s[axis:])), None)]
    end = _axis(end, len(s))
    return [(s[:axis] + (_size(s[axis : end + 1]),) + s[end + 1 :], None)]


def _squeeze(c: _Ctx, op: Operator) -> Result:
    s = c.shape(op, 0)
    axes = op.attrs.get("axes") or []
    if axes:
        drop = {_axis(a, len(s)) for a in axes}
    else:
        if any(d is None for d in s):
            raise _Unknown()
        drop = {k for k, d in enumerate(s) if d == 1}
    out = tuple(d for k, d in enumerate(s) if k not in drop)
    return [(out, _reshaped(c, op, out))]


def _unsqueeze(c: _Ctx, op: Operator) -> Result:
    s = c.shape(op, 0)
    axes = op.attrs.get("axes")
    if axes is None and "axis" in op.attrs:
        axes = [op.attrs["axis"]]
    if not axes:
        raise _Unknown()
    rank = len(s) + len(axes)
    pos = sorted(_axis(a, rank) for a in axes)
    out = list(s)
    for p in pos:
        out.insert(p, 1)
    return [(tuple(out), _reshaped(c, op, tuple(out)))]


def _concat(c: _Ctx, op: Operator) -> Result:
    n = sum(1 for i in op.inputs if i)
    shapes = [c.shape(op, i) for i in range(n)]
    rank = len(shapes[0])
    axis = _axis(op.attrs.get("axis", 0), rank)
    if any(len(s) != rank for s in shapes):
        raise _Unknown()
    out = list(shapes[0])
    dims = [s[axis] for s in shapes]
    out[axis] = None if None in dims else sum(dims)  # type: ignore[arg-type]
    for k in range(rank):
        if k != axis and out[k] is None:
            out[k] = next((s[k] for s in shapes if s[k] is not None), None)
    v = None
    try:
        v = np.concatenate([c.value(op, i).reshape(shapes[i]) for i in range(n)], axis=axis)
    except (_Unknown, ValueError):
        pass
    return [(tuple(out), v)]


def _slice(c: _Ctx, op: Operator) -> Result:
    s = c.shape(op, 0)
    begin = c.ints(op, 1)
    if op.source_op == "SliceTf":
        size = c.ints(op, 2)
        slices = []
        for k in range(len(s)):
            if k >= len(begin):
                slices.append(slice(None))
            else:
                end = None if size[k] < 0 else begin[k] + size[k]
                slices.append(slice(begin[k], end))
    else:
        slices = _strided(c, op, s, begin)
    out: List[Optional[int]] = []
    for k, d in enumerate(s):
        sl = slices[k] if k < len(slices) else slice(None)
        if sl is None:
            continue  # shrunk axis
        out.append(None if d is None else len(range(*sl.indices(d))))
    v = None
    val = c.known(op, 0)
    if val is not None:
        try:
            v = val[tuple(sl if sl is not None else 0 for sl in slices)]
        except (IndexError, ValueError):
            pass
    return [(tuple(out), v)]


def _strided(c: _Ctx, op: Operator, s: Shape, begin: List[int]) -> List[Optional[slice]]:
    end = c.ints(op, 2)
    a = op.attrs
    slices: List[Optional[slice]] = [slice(None)] * len(s)
    if a.get("from_type", 0) == 1:  # ONNX semantics: (begin, end, axes, steps)
        axes = c.ints(op, 3) if c.has(op, 3) else list(range(len(begin)))
        steps = c.ints(op, 4) if c.has(op, 4) else [1] * len(begin)
        for k, ax in enumerate(axes):
            slices[_axis(ax, len(s))] = slice(begin[k], end[k], steps[k] or None)
        return slices
    if a.get("ellipsis_mask") or a.get("new_axis_mask"):
        raise _Unknown()
    strides = c.ints(op, 3) if c.has(op, 3) else [1] * len(begin)
    for k in range(min(len(begin), len(s))):
        b = None if a.get("begin_mask", 0) >> k & 1 else begin[k]
        e = None if a.get("end_mask", 0) >> k & 1 else end[k]
        if a.get("shrink_axis_mask", 0) >> k & 1:
            slices[k] = None
        else:
            slices[k] = slice(b, e, strides[k] or None)
    return slices


def _gather(c: _Ctx, op: Operator) -> Result:
    data, idx = c.shape(op, 0), c.shape(op, 1)
    if "axis" not in op.attrs:  # GatherV2 with a computed axis input
        op.attrs["axis"] = c.ints(op, 2)[0]
    axis = _axis(op.attrs["axis"], len(data))
    v = None
    try:
        v = np.take(c.value(op, 0), c.value(op, 1).astype(np.int64), axis=axis)
    except (_Unknown, IndexError):
        pass
    return [(data[:axis] + idx + data[axis + 1 :], v)]


def _matmul(c: _Ctx, op: Operator) -> Result:
    a, b = list(c.shape(op, 0)), list(c.shape(op, 1))
    if op.attrs.get("transA") and len(a) >= 2:
        a[-1], a[-2] = a[-2], a[-1]
    if op.attrs.get("transB") and len(b) >= 2:
        b[-1], b[-2] = b[-2], b[-1]
    if len(a) == 1 and len(b) == 1:
        return [((), None)]
    if len(a) == 1:
        return [(tuple(b[:-2]) + (b[-1],), None)]
    if len(b) == 1:
        return [(tuple(a[:-1]), None)]
    batch = _broadcast(tuple(a[:-2]), tuple(b[:-2]))
    return [(batch + (a[-2], b[-1]), None)]


def _gemm(c: _Ctx, op: Operator) -> Result:
    a = c.shape(op, 0)
    n = op.attrs.get("out_channels")
    if not n:
        raise _Unknown()
    return [((a[0], n) if a else (None, n), None)]


def _window(size: Optional[int], k: int, stride: int, dil: int, pad: int, ceil: bool, same: bool) -> Optional[int]:
    if size is None:
        return None
    if same:
        return -(-size // stride)
    span = dil * (k - 1) + 1
    num = size + pad - span
    return (-(-num // stride) if ceil else num // stride) + 1


def _conv(c: _Ctx, op: Operator) -> Result:
    x = c.shape(op, 0)
    a = op.attrs
    spatial = len(x) - 2
    if spatial < 1:
        raise _Unknown()
    k = list(a.get("kernel_shape") or [])
    if len(k) != spatial:
        if len(k) == 2 and spatial == 1 and k[0] == 1:
            k = k[1:]  # a 1-D conv MNN stores as 2-D with kernel height 1
        else:
            raise _Unknown()
    strides = list(a.get("strides") or [1] * spatial)[-spatial:]
    dil = list(a.get("dilations") or [1] * spatial)[-spatial:]
    pads = list(a.get("pads") or [0] * 2 * spatial)
    if len(pads) != 2 * spatial:
        pads = [0] * 2 * spatial
    same = a.get("auto_pad", "NOTSET").startswith("SAME")
    out_c = a.get("out_channels") or None
    if op.op == "ConvTranspose":
        dims = []
        outpad = list(a.get("output_padding") or [0] * spatial)[-spatial:]
        for i in range(spatial):
            n = x[2 + i]
            dims.append(
                None
                if n is None
                else (n - 1) * strides[i] - pads[i] - pads[i + spatial] + dil[i] * (k[i] - 1) + 1 + outpad[i]
            )
    else:
        dims = [
            _window(x[2 + i], k[i], strides[i], dil[i], pads[i] + pads[i + spatial], False, same)
            for i in range(spatial)
        ]
    return [((x[0], out_c) + tuple(dims), None)]


def _pool(c: _Ctx, op: Operator) -> Result:
    x = c.shape(op, 0)
    if op.op.startswith("Global"):
        return [(x[:2] + (1,) * (len(x) - 2), None)]
    a = op.attrs
    spatial = len(x) - 2
    k = list(a.get("kernel_shape") or [])
    if len(k) != spatial or spatial < 1:
        raise _Unknown()
    strides = list(a.get("strides") or [1] * spatial)
    pads = list(a.get("pads") or [0] * 2 * spatial)
    if len(pads) != 2 * spatial:
        pads = [0] * 2 * spatial
    same = a.get("auto_pad", "NOTSET").startswith("SAME")
    dims = [
        _window(x[2 + i], k[i], strides[i] or 1, 1, pads[i] + pads[i + spatial], bool(a.get("ceil_mode")), same)
        for i in range(spatial)
    ]
    return [(x[:2] + tuple(dims), None)]


def _resize(c: _Ctx, op: Operator) -> Result:
    x = c.shape(op, 0)
    a = op.attrs
    if c.has(op, 1):
        v = c.value(op, 1)
        if v.size == len(x):
            if np.issubdtype(v.dtype, np.floating):
                return [
                    (tuple(None if d is None else int(math.floor(d * float(s))) for d, s in zip(x, v.ravel())), None)
                ]
            return [(tuple(int(s) for s in v.ravel()), None)]
        raise _Unknown()
    if a.get("output_height") and a.get("output_width") and len(x) == 4:
        return [(x[:2] + (a["output_height"], a["output_width"]), None)]
    if a.get("height_scale") and a.get("width_scale") and len(x) == 4:
        h, w = x[2], x[3]
        return [
            (
                x[:2]
                + (None if h is None else int(h * a["height_scale"]), None if w is None else int(w * a["width_scale"])),
                None,
            )
        ]
    raise _Unknown()


def _reduce(c: _Ctx, op: Operator) -> Result:
    x = c.shape(op, 0)
    axes = op.attrs.get("axes")
    axes = {_axis(a, len(x)) for a in axes} if axes else set(range(len(x)))
    keep = op.attrs.get("keepdims", 1)
    out = tuple((1 if k in axes else d) for k, d in enumerate(x) if keep or k not in axes)
    return [(out, None)]


def _arg(c: _Ctx, op: Operator) -> Result:
    x = c.shape(op, 0)
    axis = _axis(op.attrs.get("axis", 0), len(x))
    keep = op.attrs.get("keepdims", 0)
    return [(tuple((1 if k == axis else d) for k, d in enumerate(x) if keep or k != axis), None)]


def _topk(c: _Ctx, op: Operator) -> Result:
    x = c.shape(op, 0)
    k = c.ints(op, 1)[0]
    if c.has(op, 2):  # TopKV2 takes the axis as a third input
        op.attrs["axis"] = c.ints(op, 2)[0]
    axis = _axis(op.attrs.get("axis", -1), len(x))
    out = tuple(k if i == axis else d for i, d in enumerate(x))
    return [(out, None), (out, None)]


def _grid_sample(c: _Ctx, op: Operator) -> Result:
    x, grid = c.shape(op, 0), c.shape(op, 1)
    return [(x[:2] + grid[1:-1], None)]


def _range(c: _Ctx, op: Operator) -> Result:
    start, limit, delta = (float(c.value(op, i).ravel()[0]) for i in range(3))
    if delta == 0:
        raise _Unknown()
    n = max(int(math.ceil((limit - start) / delta)), 0)
    v = np.arange(start, limit, delta) if n <= MAX_VALUE_SIZE else None
    return [((n,), v)]


def _fill(c: _Ctx, op: Operator) -> Result:
    return [(tuple(c.ints(op, 0)), None)]


def _tile(c: _Ctx, op: Operator) -> Result:
    x = c.shape(op, 0)
    reps = c.ints(op, 1)
    if len(reps) != len(x):
        raise _Unknown()
    return [(tuple(None if d is None else d * r for d, r in zip(x, reps)), None)]


def _expand(c: _Ctx, op: Operator) -> Result:
    return [(_broadcast(c.shape(op, 0), tuple(c.ints(op, 1))), None)]


def _split(c: _Ctx, op: Operator) -> Result:
    x = c.shape(op, 0)
    axis = _axis(op.attrs.get("axis", 0), len(x))
    n_out = len(op.outputs)
    points = list(op.attrs.get("split_points") or [])
    d = x[axis]
    if d is None:
        raise _Unknown()
    if points and len(points) == n_out - 1:
        bounds = [0] + points + [d]
        sizes = [bounds[i + 1] - bounds[i] for i in range(n_out)]
    elif d % max(n_out, 1) == 0:
        sizes = [d // n_out] * n_out
    else:
        raise _Unknown()
    return [(x[:axis] + (s,) + x[axis + 1 :], None) for s in sizes]


def _pack(c: _Ctx, op: Operator) -> Result:
    n = sum(1 for i in op.inputs if i)
    x = c.shape(op, 0)
    axis = _axis(op.attrs.get("axis", 0), len(x) + 1)
    return [(x[:axis] + (n,) + x[axis:], None)]


def _pad(c: _Ctx, op: Operator) -> Result:
    x = c.shape(op, 0)
    pads = c.ints(op, 1)
    if len(pads) != 2 * len(x):
        raise _Unknown()
    # MNN's Padding takes pads as (begin, end) pairs per axis, TensorFlow style.
    return [(tuple(None if d is None else d + pads[2 * k] + pads[2 * k + 1] for k, d in enumerate(x)), None)]


def _depth_space(c: _Ctx, op: Operator) -> Result:
    x = c.shape(op, 0)
    b = op.attrs.get("blocksize") or 0
    if len(x) != 4 or not b:
        raise _Unknown()
    n, ch, h, w = x
    if op.op == "DepthToSpace":
        return [
            (
                (n, None if ch is None else ch // (b * b), None if h is None else h * b, None if w is None else w * b),
                None,
            )
        ]
    return [
        ((n, None if ch is None else ch * b * b, None if h is None else h // b, None if w is None else w // b), None)
    ]


_SAME = frozenset(
    {
        "Relu",
        "LeakyRelu",
        "Sigmoid",
        "Tanh",
        "Exp",
        "Log",
        "Sqrt",
        "Neg",
        "Abs",
        "Gelu",
        "Swish",
        "Erf",
        "Sin",
        "Cos",
        "Tan",
        "Asin",
        "Acos",
        "Atan",
        "Sinh",
        "Cosh",
        "Asinh",
        "Acosh",
        "Atanh",
        "Clip",
        "Softmax",
        "LogSoftmax",
        "LayerNormalization",
        "GroupNormalization",
        "InstanceNormalization",
        "BatchNormalization",
        "Identity",
        "Dropout",
        "Elu",
        "Selu",
        "HardSwish",
        "Reciprocal",
        "Floor",
        "Ceil",
        "Round",
        "Sign",
        "PRelu",
        "CumSum",
        "CumProd",
        "Softplus",
        "Scale",
        "LRN",
        "Normalize",
        "Cast",
        "ZerosLike",
        "Not",
        "Rsqrt",
        "Square",
        "Log1p",
        "Expm1",
        "Erfc",
        "Erfinv",
    }
)
_BINARY = frozenset(
    {
        "Add",
        "Sub",
        "Mul",
        "Div",
        "Pow",
        "Min",
        "Max",
        "Mod",
        "Equal",
        "Greater",
        "GreaterOrEqual",
        "Less",
        "LessOrEqual",
        "And",
        "Or",
        "Xor",
        "BitShift",
        "BitwiseAnd",
        "BitwiseOr",
        "BitwiseXor",
        "Sum",
        "Where",
        "FloorDiv",
        "SquaredDifference",
        "Atan2",
        "NotEqual",
    }
)
_RULES: Dict[str, Callable[[_Ctx, Operator], Result]] = {
    "Shape": _shape_op,
    "Rank": _rank,
    "Size": _size_op,
    "Reshape": _reshape,
    "Transpose": _transpose,
    "Flatten": _flatten,
    "Squeeze": _squeeze,
    "Unsqueeze": _unsqueeze,
    "Concat": _concat,
    "Slice": _slice,
    "Gather": _gather,
    "MatMul": _matmul,
    "Gemm": _gemm,
    "Conv": _conv,
    "ConvTranspose": _conv,
    "MaxPool": _pool,
    "AveragePool": _pool,
    "GlobalAveragePool": _pool,
    "GlobalMaxPool": _pool,
    "Resize": _resize,
    "ReduceSum": _reduce,
    "ReduceMean": _reduce,
    "ReduceMax": _reduce,
    "ReduceMin": _reduce,
    "ReduceProd": _reduce,
    "ReduceL1": _reduce,
    "ReduceSumSquare": _reduce,
    "ArgMax": _arg,
    "ArgMin": _arg,
    "TopK": _topk,
    "GridSample": _grid_sample,
    "Range": _range,
    "Fill": _fill,
    "Tile": _tile,
    "Expand": _expand,
    "Split": _split,
    "Pack": _pack,
    "Pad": _pad,
    "DepthToSpace": _depth_space,
    "SpaceToDepth": _depth_space,
}
_INT_OUT = frozenset({"Shape", "Rank", "Size", "ArgMax", "ArgMin"})
_BOOL_OUT = frozenset(
    {"Equal", "Greater", "GreaterOrEqual", "Less", "LessOrEqual", "And", "Or", "Xor", "Not", "NotEqual"}
)


def _rule(op: Operator) -> Optional[Callable[[_Ctx, Operator], Result]]:
    if op.op in _RULES:
        return _RULES[op.op]
    if op.op in _SAME or op.op.startswith("UnaryOp/"):
        return _same
    if op.op in _BINARY or op.op.startswith("BinaryOp/"):
        return _binary
    return None


def propagate(g: ModelGraph) -> None:
    """Fill in tensor shapes (and dtypes) in file order, which is topological in MNN files."""
    c = _Ctx(g)
    tensors = g.tensors
    unknown: Dict[str, int] = {}
    rules: Dict[str, Optional[Callable[[_Ctx, Operator], Result]]] = {}  # _rule per op name, looked up once
    total = 0
    for op in g.operators():
        if not any(op.outputs):
            continue
        total += 1
        rule = rules.get(op.op, _rule)
        if rule is _rule:
            rule = rules[op.op] = _rule(op)
        try:
            if rule is None:
                raise _Unknown()
            results = rule(c, op)
        except (_Unknown, ValueError, TypeError, IndexError, OverflowError, ZeroDivisionError, KeyError):
            results = []
        if not results:
            unknown[op.op] = unknown.get(op.op, 0) + 1
        for name, res in zip(op.outputs, results):
            t = tensors.get(name) if name else None
            if t is None:
                continue
            shape, value = res
            if t.shape is None:
                t.shape = tuple(None if d is None or d < 0 else int(d) for d in shape)
            if value is not None and np.size(value) <= MAX_VALUE_SIZE:
                c.values[name] = np.asarray(value)
                c._ints.pop(name, None)
        _dtype(g, op)
    g.metadata["shape_propagation"] = {"operators": total, "unknown": sum(unknown.values())}
    if unknown:
        kinds = ", ".join(f"{k} x{n}" for k, n in sorted(unknown.items(), key=lambda kv: (-kv[1], kv[0]))[:8])
        g.notes.append(
            f"MNN files store no shapes for intermediate tensors: shapes were propagated from the input dims, but "
            f"{sum(unknown.values())} of {total} operators have outputs of unknown shape ({kinds}); rules that "
            f"need those shapes report conditional findings"
        )


def _dtype(g: ModelGraph, op: Operator) -> None:
    first = g.input_tensor(op, 0)
    if op.op in _INT_OUT:
        dt: Optional[str] = "int32"
    elif op.op in _BOOL_OUT:
        dt = "bool"
    elif op.op == "Cast":
        dt = op.attrs.get("to")
    else:
        dt = first.dtype if first is not None else None
    for name in op.outputs:
        t = g.tensors.get(name) if name else None
        if t is not None and t.dtype is None and dt:
            t.dtype = dt
