"""Canonical attribute defaults in ONNX spelling, shared by the loaders, so rules never guess a default.

Only attributes whose default changes numerics or shape reasoning are listed.  Values follow the newest opset;
``opset_defaults`` fixes the few whose default moved between opsets.
"""

from __future__ import annotations

from typing import Any, Dict

DEFAULTS: Dict[str, Dict[str, Any]] = {
    "Softmax": {"axis": -1},
    "LogSoftmax": {"axis": -1},
    "GridSample": {"align_corners": 0, "mode": "bilinear", "padding_mode": "zeros"},
    "LayerNormalization": {"axis": -1, "epsilon": 1e-5},
    "GroupNormalization": {"epsilon": 1e-5},
    "InstanceNormalization": {"epsilon": 1e-5},
    "BatchNormalization": {"epsilon": 1e-5},
    "Resize": {
        "mode": "nearest",
        "coordinate_transformation_mode": "half_pixel",
        "nearest_mode": "round_prefer_floor",
        "cubic_coeff_a": -0.75,
    },
    "ReduceSum": {"keepdims": 1},
    "ReduceMean": {"keepdims": 1},
    "ReduceL2": {"keepdims": 1},
    "ReduceL1": {"keepdims": 1},
    "ReduceLogSumExp": {"keepdims": 1},
    "ReduceSumSquare": {"keepdims": 1},
    "ReduceProd": {"keepdims": 1},
    "ReduceMax": {"keepdims": 1},
    "ReduceMin": {"keepdims": 1},
    "ReduceLogSum": {"keepdims": 1},
    "CumSum": {"exclusive": 0, "reverse": 0},
    "ArgMax": {"axis": 0, "keepdims": 1, "select_last_index": 0},
    "ArgMin": {"axis": 0, "keepdims": 1, "select_last_index": 0},
    "TopK": {"axis": -1, "largest": 1, "sorted": 1},
    "Gelu": {"approximate": "none"},
    "RoiAlign": {
        "mode": "avg",
        "output_height": 1,
        "output_width": 1,
        "sampling_ratio": 0,
        "spatial_scale": 1.0,
        "coordinate_transformation_mode": "half_pixel",
    },
    "LpNormalization": {"axis": -1, "p": 2},
    "Conv": {"group": 1},
    "Gemm": {"transA": 0, "transB": 0, "alpha": 1.0, "beta": 1.0},
}

# GridSample's opset-20 spellings, mapped to the opset-16 names most exporters still write.
GRIDSAMPLE_MODES = {"linear": "bilinear", "cubic": "bicubic"}


def opset_defaults(op: str, opset: int) -> Dict[str, Any]:
    d = dict(DEFAULTS.get(op, {}))
    if op in ("Softmax", "LogSoftmax") and opset < 13:
        d["axis"] = 1  # before opset 13 Softmax flattened from axis 1
        d["flattens"] = 1  # ... and normalised the axes from `axis` to the end together (rules size the sum)
    if op == "Resize" and opset < 11:
        d["coordinate_transformation_mode"] = "asymmetric"
    return d
