"""Build the bundled sample models: small ONNX files written in ONNX text syntax, and their MNN conversions.

    python sample_models/build.py            # rewrites sample_models/*.onnx and *.mnn

The .mnn files are made by MNN's own converter (the `_tools` C extension of the MNN wheel; MNN.tools is never
imported: its logger installs packages and sends telemetry at import).
"""

from __future__ import annotations

import os
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper, parser

HERE = os.path.dirname(os.path.abspath(__file__))

MODELS = {
    # The seed case: bilinear GridSample on a 1024x1024 feature map.  Matches on Android (fp32), not on iOS
    # at Precision_Low (fp16 on ARMv8.2).
    "gridsample_large": """
        <ir_version: 8, opset_import: ["" : 16], producer_name: "precision-lint samples">
        warp (float[1,3,1024,1024] image, float[1,256,256,2] grid) => (float[1,3,256,256] warped) {
          [warp_sample] warped = GridSample <align_corners=0, mode="bilinear", padding_mode="zeros"> (image, grid)
        }
    """,
    # A small conv classifier with nothing precision-sensitive.
    "clean": None,  # built with helper below (needs weights)
    # Only an accumulation problem: a mean over 65536 values (fp16 partial sums stagnate).
    "long_reduction": """
        <ir_version: 8, opset_import: ["" : 13], producer_name: "precision-lint samples">
        pool (float[1,65536,16] tokens) => (float[1,1,16] mean) {
          [token_mean] mean = ReduceMean <axes=[1], keepdims=1> (tokens)
        }
    """,
}


def clean_model() -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    w1 = numpy_helper.from_array((rng.standard_normal((8, 3, 3, 3)) * 0.2).astype(np.float32), "conv1.weight")
    b1 = numpy_helper.from_array(np.zeros(8, np.float32), "conv1.bias")
    w2 = numpy_helper.from_array((rng.standard_normal((16, 8, 3, 3)) * 0.1).astype(np.float32), "conv2.weight")
    b2 = numpy_helper.from_array(np.zeros(16, np.float32), "conv2.bias")
    fc = numpy_helper.from_array((rng.standard_normal((16, 10)) * 0.1).astype(np.float32), "fc.weight")
    nodes = [
        helper.make_node("Conv", ["image", "conv1.weight", "conv1.bias"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node(
            "Conv", ["r1", "conv2.weight", "conv2.bias"], ["c2"], name="conv2", pads=[1, 1, 1, 1], strides=[2, 2]
        ),
        helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
        helper.make_node("GlobalAveragePool", ["r2"], ["gap"], name="pool"),
        helper.make_node("Flatten", ["gap"], ["flat"], name="flatten"),
        helper.make_node("MatMul", ["flat", "fc.weight"], ["logits"], name="classifier"),
    ]
    graph = helper.make_graph(
        nodes,
        "clean_classifier",
        [helper.make_tensor_value_info("image", onnx.TensorProto.FLOAT, [1, 3, 64, 64])],
        [helper.make_tensor_value_info("logits", onnx.TensorProto.FLOAT, [1, 10])],
        [w1, b1, w2, b2, fc],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="precision-lint samples"
    )
    model.ir_version = 8
    return model


def convert_to_mnn(src: str, dst: str, extra=()) -> None:
    """ONNX -> MNN with MNN's converter (precision_lint.model.converter; MNN.tools is never imported)."""
    sys.path.insert(0, os.path.dirname(HERE))  # a source checkout: the package beside this folder
    from precision_lint.model.converter import convert_to_mnn as convert

    convert(src, dst, extra)


def build(out_dir: str = HERE, mnn: bool = True) -> None:
    for name, text in MODELS.items():
        model = clean_model() if text is None else parser.parse_model(text)
        onnx.checker.check_model(model)
        path = os.path.join(out_dir, f"{name}.onnx")
        onnx.save(model, path)
        if mnn:
            convert_to_mnn(path, os.path.join(out_dir, f"{name}.mnn"))


if __name__ == "__main__":
    build(mnn="--no-mnn" not in sys.argv)
