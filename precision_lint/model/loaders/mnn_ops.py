"""MNN op -> canonical op (ONNX spelling) and canonical attributes.

``canonical(type_name, params)`` gets the MNN op type name and its decoded parameter table (MNN field names, enums
as ints) and returns ``(op, source_op, attrs)``.  Ops with no ONNX counterpart keep their MNN name; BinaryOp and
UnaryOp subtypes without one take TensorFlow's spelling (Rsqrt, Square, FloorDiv...), and the rare rest keep
``BinaryOp/NAME``.  The table in docs/mnn.md lists every mapping.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Tuple

from . import mnn_schema as S
from .canonical import opset_defaults

# BinaryOp subtypes: MNN name -> (ONNX op, extra attrs).  Subtypes missing here keep "BinaryOp/NAME".
BINARY = {
    "ADD": ("Add", {}),
    "SUB": ("Sub", {}),
    "MUL": ("Mul", {}),
    "DIV": ("Div", {}),
    "REALDIV": ("Div", {}),
    "POW": ("Pow", {}),
    "MINIMUM": ("Min", {}),
    "MAXIMUM": ("Max", {}),
    "GREATER": ("Greater", {}),
    "GREATER_EQUAL": ("GreaterOrEqual", {}),
    "LESS": ("Less", {}),
    "LESS_EQUAL": ("LessOrEqual", {}),
    "EQUAL": ("Equal", {}),
    "FLOORMOD": ("Mod", {"fmod": 0}),
    "MOD": ("Mod", {"fmod": 1}),
    "LOGICALOR": ("Or", {}),
    "LOGICALXOR": ("Xor", {}),
    "BITWISE_AND": ("BitwiseAnd", {}),
    "BITWISE_OR": ("BitwiseOr", {}),
    "BITWISE_XOR": ("BitwiseXor", {}),
    "LEFTSHIFT": ("BitShift", {"direction": "LEFT"}),
    "RIGHTSHIFT": ("BitShift", {"direction": "RIGHT"}),
    # No ONNX counterpart: TensorFlow's spelling, which MNN's subtypes follow.
    "FLOORDIV": ("FloorDiv", {}),
    "SquaredDifference": ("SquaredDifference", {}),
    "ATAN2": ("Atan2", {}),
    "NOTEQUAL": ("NotEqual", {}),
}
UNARY = {
    "ABS": ("Abs", {}),
    "NEG": ("Neg", {}),
    "FLOOR": ("Floor", {}),
    "CEIL": ("Ceil", {}),
    "SQRT": ("Sqrt", {}),
    "EXP": ("Exp", {}),
    "LOG": ("Log", {}),
    "SIN": ("Sin", {}),
    "COS": ("Cos", {}),
    "TAN": ("Tan", {}),
    "ASIN": ("Asin", {}),
    "ACOS": ("Acos", {}),
    "ATAN": ("Atan", {}),
    "RECIPROCAL": ("Reciprocal", {}),
    "BNLL": ("Softplus", {}),
    "ACOSH": ("Acosh", {}),
    "SINH": ("Sinh", {}),
    "ASINH": ("Asinh", {}),
    "ATANH": ("Atanh", {}),
    "SIGN": ("Sign", {}),
    "ROUND": ("Round", {}),
    "COSH": ("Cosh", {}),
    "ERF": ("Erf", {}),
    "SIGMOID": ("Sigmoid", {}),
    "TANH": ("Tanh", {}),
    "HARDSWISH": ("HardSwish", {}),
    # GELU is the tanh approximation in MNN; GELU_STANDARD the exact erf form.
    "GELU": ("Gelu", {"approximate": "tanh"}),
    "GELU_STANDARD": ("Gelu", {"approximate": "none"}),
    "SILU": ("Swish", {"alpha": 1.0}),
    # No ONNX counterpart: TensorFlow's spelling, which MNN's subtypes follow.
    "RSQRT": ("Rsqrt", {}),
    "SQUARE": ("Square", {}),
    "LOG1P": ("Log1p", {}),
    "EXPM1": ("Expm1", {}),
    "ERFC": ("Erfc", {}),
    "ERFINV": ("Erfinv", {}),
}
REDUCE = {
    "SUM": "ReduceSum",
    "ASUM": "ReduceL1",
    "SUMSQ": "ReduceSumSquare",
    "MEAN": "ReduceMean",
    "MAXIMUM": "ReduceMax",
    "MINIMUM": "ReduceMin",
    "PROD": "ReduceProd",
}
ELTWISE = {"SUM": "Sum", "PROD": "Mul", "MAXIMUM": "Max", "SUB": "Sub"}
# Same meaning, different name (no attributes to translate).
RENAMED = {
    "AbsVal": "Abs",
    "Exp": "Exp",
    "Log": "Log",
    "Sigmoid": "Sigmoid",
    "TanH": "Tanh",
    "Concat": "Concat",
    "Shape": "Shape",
    "Size": "Size",
    "Tile": "Tile",
    "BroadcastTo": "Expand",
    "Where": "Where",
    "Select": "Where",
    "GatherND": "GatherND",
    "GatherElements": "GatherElements",
    "ScatterNd": "ScatterND",
    "ScatterElements": "ScatterElements",
    "Identity": "Identity",
    "Dropout": "Dropout",
    "Range": "Range",
    "Unique": "Unique",
    "EyeLike": "EyeLike",
    "Det": "Det",
    "ReverseSequence": "ReverseSequence",
    "NonMaxSuppressionV2": "NonMaxSuppression",
    "RandomNormal": "RandomNormal",
    "Col2Im": "Col2Im",
    "LSTM": "LSTM",
    "RNNSequenceGRU": "GRU",
    "Stft": "STFT",
    "Transpose": "Transpose",
    "Reshape": "Reshape",
    "Squeeze": "Squeeze",
    "Unsqueeze": "Unsqueeze",
    "ExpandDims": "Unsqueeze",
    "SliceTf": "Slice",
    "StridedSlice": "Slice",
    "GatherV2": "Gather",
    "Gather": "Gather",
    "Slice": "Split",
    "Permute": "Transpose",
    "Attention": "Attention",
    "If": "If",
    "While": "Loop",
    "Padding": "Pad",
    "OneHot": "OneHot",
    "LRN": "LRN",
    "SpaceToDepth": "SpaceToDepth",
    "DepthToSpace": "DepthToSpace",
    "ZerosLike": "ZerosLike",
    "PReLU": "PRelu",
    "Bnll": "Softplus",
    "ROIPooling": "MaxRoiPool",
}

Attrs = Dict[str, Any]


def _dtype(code: int) -> Optional[str]:
    return S.DATA_TYPES.get(code, (None, None))[1]  # type: ignore[return-value]


def _binary(p: Attrs) -> Tuple[str, str, Attrs]:
    name = S.BINARY_OPS.get(p.get("opType", 0), f"OP{p.get('opType')}")
    op, attrs = BINARY.get(name, (f"BinaryOp/{name}", {}))
    attrs = dict(attrs)
    if p.get("activationType") == 1:
        attrs["fused_activation"] = "Relu"
    return op, f"BinaryOp/{name}", attrs


def _unary(p: Attrs) -> Tuple[str, str, Attrs]:
    name = S.UNARY_OPS.get(p.get("opType", 0), f"OP{p.get('opType')}")
    op, attrs = UNARY.get(name, (f"UnaryOp/{name}", {}))
    return op, f"UnaryOp/{name}", dict(attrs)


def _reduction(p: Attrs) -> Tuple[str, str, Attrs]:
    name = S.REDUCTIONS.get(p.get("operation", 0), f"OP{p.get('operation')}")
    op = REDUCE.get(name, f"Reduction/{name}")
    attrs: Attrs = {"keepdims": int(bool(p.get("keepDims")))}
    if p.get("dim"):
        attrs["axes"] = list(p["dim"])
    return op, f"Reduction/{name}", attrs


def _conv_attrs(c: Attrs) -> Attrs:
    """Convolution2DCommon -> Conv attributes, plus channel counts for reduction-depth rules."""
    kernel = [c.get("kernelY", 1), c.get("kernelX", 1)]
    pads = list(c.get("pads") or ())
    if len(pads) != 4:
        pads = [c.get("padY", 0), c.get("padX", 0), c.get("padY", 0), c.get("padX", 0)]
    group = max(int(c.get("group", 1) or 1), 1)
    attrs: Attrs = {
        "kernel_shape": kernel,
        "strides": [c.get("strideY", 1), c.get("strideX", 1)],
        "dilations": [c.get("dilateY", 1), c.get("dilateX", 1)],
        "pads": pads,
        "group": group,
        "in_channels": c.get("inputCount", 0),
        "out_channels": c.get("outputCount", 0),
        "auto_pad": {1: "VALID", 2: "SAME_UPPER"}.get(c.get("padMode", 0), "NOTSET"),
    }
    if attrs["in_channels"]:
        attrs["reduction_depth"] = kernel[0] * kernel[1] * attrs["in_channels"] // group
    if c.get("relu"):
        attrs["fused_activation"] = "Relu"
    if c.get("relu6"):
        attrs["fused_activation"] = "Relu6"
    if c.get("outPads"):
        attrs["output_padding"] = list(c["outPads"])
    return attrs


def _conv3d_attrs(c: Attrs) -> Attrs:
    group = max(int(c.get("group", 1) or 1), 1)
    kernel = list(c.get("kernels") or ())
    attrs: Attrs = {
        "kernel_shape": kernel,
        "strides": list(c.get("strides") or ()),
        "dilations": list(c.get("dilates") or ()),
        "pads": list(c.get("pads") or ()),
        "group": group,
        "in_channels": c.get("inputCount", 0),
        "out_channels": c.get("outputCount", 0),
    }
    if kernel and attrs["in_channels"]:
        n = attrs["in_channels"] // group
        for k in kernel:
            n *= k
        attrs["reduction_depth"] = n
    return attrs


def _interp(p: Attrs) -> Attrs:
    rtype = p.get("resizeType", 0)
    mode = {1: "nearest", 2: "linear", 3: "cubic", 4: "nearest"}.get(rtype, "linear")
    ctm = S.CTM.get(p.get("ctm", 0), "NotSet")
    ctm_name = {
        "AlignCorners": "align_corners",
        "HalfPixels": "half_pixel",
        "PytorchHalfPixels": "pytorch_half_pixel",
        "Asymmetric": "asymmetric",
        "TensorflowHalfPixels": "tf_half_pixel_for_nn",
        "TensorflowCropAndResize": "tf_crop_and_resize",
    }.get(ctm)
    if ctm_name is None:  # files written before `ctm` existed carry only the two flags
        ctm_name = (
            "align_corners" if p.get("alignCorners") else ("half_pixel" if p.get("halfPixelCenters") else "asymmetric")
        )
    attrs: Attrs = {
        "mode": mode,
        "coordinate_transformation_mode": ctm_name,
        "cubic_coeff_a": p.get("cubicCoeffA", -0.75),
    }
    if mode == "nearest":
        attrs["nearest_mode"] = "floor" if rtype == 1 else "round_prefer_floor"
    for key, name in (
        ("outputHeight", "output_height"),
        ("outputWidth", "output_width"),
        ("heightScale", "height_scale"),
        ("widthScale", "width_scale"),
    ):
        if p.get(key):
            attrs[name] = p[key]
    return attrs


def _pool(type_name: str, p: Attrs) -> Tuple[str, Attrs]:
    is_max = p.get("type", 0) == 0
    if p.get("isGlobal"):
        return ("GlobalMaxPool" if is_max else "GlobalAveragePool"), {}
    if type_name == "Pooling3D":
        attrs = {
            "kernel_shape": list(p.get("kernels") or ()),
            "strides": list(p.get("strides") or ()),
            "pads": list(p.get("pads") or ()),
        }
    else:
        pads = list(p.get("pads") or ()) or [p.get("padY", 0), p.get("padX", 0), p.get("padY", 0), p.get("padX", 0)]
        attrs = {
            "kernel_shape": [p.get("kernelY", 0), p.get("kernelX", 0)],
            "strides": [p.get("strideY", 0), p.get("strideX", 0)],
            "pads": pads,
            "ceil_mode": int(bool(p.get("ceilModel", True))),
        }
    if not is_max:
        attrs["count_include_pad"] = int(p.get("countType", 0) == 1)
    attrs["auto_pad"] = {1: "VALID", 2: "SAME_UPPER"}.get(p.get("padType", 0), "NOTSET")
    return ("MaxPool" if is_max else "AveragePool"), attrs


def _simple(op: str, **rename: str) -> Callable[[Attrs], Tuple[str, Attrs]]:
    """An op whose attributes are MNN fields under other names."""

    def f(p: Attrs) -> Tuple[str, Attrs]:
        return op, {new: p[old] for old, new in rename.items() if old in p}

    return f


def _layer_norm(p: Attrs) -> Tuple[str, Attrs]:
    axes = list(p.get("axis") or ()) or [-1]
    attrs: Attrs = {
        "axis": min(axes) if all(a < 0 for a in axes) else axes[0],
        "axes": axes,
        "epsilon": p.get("epsilon", 0.0),
        "rms_norm": int(bool(p.get("useRMSNorm"))),
    }
    if p.get("group", 1) > 1:
        attrs["num_groups"] = p["group"]
    return "LayerNormalization", attrs


def _grid_sample(p: Attrs) -> Tuple[str, Attrs]:
    return "GridSample", {
        "mode": {0: "bilinear", 1: "nearest"}.get(p.get("mode", 0), f"mode{p.get('mode')}"),
        "padding_mode": {0: "zeros", 1: "border", 2: "reflection"}.get(
            p.get("paddingMode", 0), f"mode{p.get('paddingMode')}"
        ),
        "align_corners": int(bool(p.get("alignCorners"))),
    }


def _roi_align(p: Attrs) -> Tuple[str, Attrs]:
    return "RoiAlign", {
        "output_height": p.get("pooledHeight", 1),
        "output_width": p.get("pooledWidth", 1),
        "sampling_ratio": max(p.get("samplingRatio", 0), 0),
        "spatial_scale": p.get("spatialScale", 1.0),
        "mode": "max" if p.get("poolType", 1) == 0 else "avg",
        "coordinate_transformation_mode": "half_pixel" if p.get("aligned") else "output_half_pixel",
    }


def _relu(p: Attrs) -> Tuple[str, Attrs]:
    slope = p.get("slope", 0.0)
    return ("LeakyRelu", {"alpha": slope}) if slope else ("Relu", {})


def _cast(p: Attrs) -> Tuple[str, Attrs]:
    return "Cast", {"to": _dtype(p.get("dstT", 0))}


def _argmax(op: str) -> Callable[[Attrs], Tuple[str, Attrs]]:
    def f(p: Attrs) -> Tuple[str, Attrs]:
        return op, {"axis": p.get("axis", 0), "keepdims": 0}

    return f


def _topk(p: Attrs) -> Tuple[str, Attrs]:
    return "TopK", {"largest": int(bool(p.get("largest", True))), "sorted": int(bool(p.get("sorted", False)))}


def _cumsum(p: Attrs) -> Tuple[str, Attrs]:
    return "CumSum", {"exclusive": int(bool(p.get("exclusive"))), "reverse": int(bool(p.get("reverse")))}


def _attention(p: Attrs) -> Tuple[str, Attrs]:
    attrs: Attrs = {"kv_cache": int(bool(p.get("kv_cache", True)))}
    if p.get("attnScale"):
        attrs["scale"] = p["attnScale"]
    return "Attention", attrs


def _matmul(p: Attrs) -> Tuple[str, Attrs]:
    return "MatMul", {"transA": int(bool(p.get("transposeA"))), "transB": int(bool(p.get("transposeB")))}


def _batch_matmul(p: Attrs) -> Tuple[str, Attrs]:
    return "MatMul", {"transA": int(bool(p.get("adjX"))), "transB": int(bool(p.get("adjY")))}


def _inner_product(p: Attrs) -> Tuple[str, Attrs]:
    return "Gemm", {
        "transA": 0,
        "transB": 0 if p.get("transpose") else 1,
        "alpha": 1.0,
        "beta": 1.0,
        "out_channels": p.get("outputCount", 0),
        "axis": p.get("axis", 1),
    }


def _eltwise(p: Attrs) -> Tuple[str, Attrs]:
    name = S.ELTWISE.get(p.get("type", 0), "?")
    attrs: Attrs = {}
    if p.get("coeff"):
        attrs["coeff"] = list(p["coeff"])
    return ELTWISE.get(name, f"Eltwise/{name}"), attrs


def _pad(p: Attrs) -> Tuple[str, Attrs]:
    mode = {0: "constant", 1: "reflect", 2: "symmetric", 3: "edge"}.get(p.get("mode", 0), "constant")
    return "Pad", {"mode": mode}


def _extra(p: Attrs) -> Tuple[str, Attrs]:
    # An op the converter kept as-is (e.g. an ONNX op MNN has no kernel for): its own type is the best name.
    return (p.get("type") or "Extra"), {"engine": p.get("engine") or ""}


PARAM_MAPPERS: Dict[str, Callable[[Attrs], Tuple[str, Attrs]]] = {
    "Softmax": _simple("Softmax", axis="axis"),
    "Concat": _simple("Concat", axis="axis"),
    "Flatten": _simple("Flatten", axis="axis", endAxis="end_axis"),
    "Permute": _simple("Transpose", dims="perm"),
    "Squeeze": _simple("Squeeze", squeezeDims="axes"),
    "Unsqueeze": _simple("Unsqueeze", squeezeDims="axes"),
    "ExpandDims": _simple("Unsqueeze", axis="axis"),
    "Gather": _simple("Gather", axis="axis"),
    "StridedSlice": _simple(
        "Slice",
        beginMask="begin_mask",
        endMask="end_mask",
        ellipsisMask="ellipsis_mask",
        newAxisMask="new_axis_mask",
        shrinkAxisMask="shrink_axis_mask",
        fromType="from_type",
    ),
    "Reshape": _simple("Reshape", dims="dims"),
    "Pack": _simple("Pack", axis="axis"),
    "Unpack": _simple("Unpack", axis="axis"),
    "Slice": _simple("Split", axis="axis", slicePoints="split_points"),
    "GroupNorm": _simple("GroupNormalization", epsilon="epsilon", group="num_groups", bSwish="fused_swish"),
    "InstanceNorm": _simple("InstanceNormalization", epsilon="epsilon"),
    "BatchNorm": _simple("BatchNormalization", epsilon="epsilon"),
    "ReLU": _relu,
    "ReLU6": _simple("Clip", minValue="min", maxValue="max"),
    "ELU": _simple("Elu", alpha="alpha"),
    "Selu": _simple("Selu", scale="gamma", alpha="alpha"),
    "Cast": _cast,
    "ArgMax": _argmax("ArgMax"),
    "ArgMin": _argmax("ArgMin"),
    "TopKV2": _topk,
    "CumSum": _cumsum,
    "CumProd": lambda p: (
        "CumProd",
        {"exclusive": int(bool(p.get("exclusive"))), "reverse": int(bool(p.get("reverse")))},
    ),
    "LayerNorm": _layer_norm,
    "GridSample": _grid_sample,
    "ROIAlign": _roi_align,
    "Attention": _attention,
    "MatMul": _matmul,
    "BatchMatMul": _batch_matmul,
    "InnerProduct": _inner_product,
    "Eltwise": _eltwise,
    "Padding": _pad,
    "Extra": _extra,
    "Plugin": lambda p: (f"Plugin/{p.get('type') or '?'}", {}),
    "LRN": _simple("LRN", localSize="size", alpha="alpha", beta="beta", bias="bias"),
    "DepthToSpace": _simple("DepthToSpace", blockSize="blocksize"),
    "SpaceToDepth": _simple("SpaceToDepth", blockSize="blocksize"),
    "OneHot": _simple("OneHot", axis="axis"),
    "Moments": _simple("Moments", dim="axes", keepDims="keepdims"),
    "RandomUniform": _simple("RandomUniform", low="low", high="high", seed="seed"),
}


def canonical(type_name: str, params: Attrs) -> Tuple[str, str, Attrs]:
    """(canonical op, source_op, attrs) for one MNN op.  ``params`` is the decoded parameter table."""
    source = type_name
    if type_name == "BinaryOp":
        op, source, attrs = _binary(params)
    elif type_name == "UnaryOp":
        op, source, attrs = _unary(params)
    elif type_name == "Reduction":
        op, source, attrs = _reduction(params)
    elif type_name in ("Convolution", "ConvolutionDepthwise", "Deconvolution", "DeconvolutionDepthwise"):
        op = "ConvTranspose" if type_name.startswith("Deconv") else "Conv"
        attrs = _conv_attrs(params.get("common") or {})
    elif type_name in ("Convolution3D", "ConvTranspose3D"):
        op = "Conv" if type_name == "Convolution3D" else "ConvTranspose"
        attrs = _conv3d_attrs(params.get("common") or {})
    elif type_name in ("Interp", "Interp3D"):
        op, attrs = "Resize", _interp(params)
    elif type_name in ("Pooling", "Pooling3D"):
        op, attrs = _pool(type_name, params)
    elif type_name in PARAM_MAPPERS:
        op, attrs = PARAM_MAPPERS[type_name](params)
    else:
        op, attrs = RENAMED.get(type_name, type_name), {}
    if type_name in ("Extra", "Plugin"):
        source = f"{type_name}/{params.get('type') or '?'}"
    merged = opset_defaults(op, 99)
    merged.update(attrs)
    return op, source, merged
