"""Small probe models, each reproducing one cause measured on real models (docs/accuracy.md,
/work/shared/reference/measured-arm82.md "Measured on 21 real models").  Written in ONNX text syntax; every
node gets a name so that findings and measurements name the same node.  Our own work: the project's licence.

Each probe carries the input ranges its measurement used (inputs are uniform in them, seed 0): the scores lint
each model with those ranges declared, as a user who knows the data would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Tuple

import numpy as np


@dataclass(frozen=True)
class Probe:
    name: str
    cause: str  # what it reproduces
    text: str  # ONNX text syntax
    ranges: Dict[str, Tuple[float, float]] = field(default_factory=dict)
    initializers: Tuple = ()  # (name, array) pairs added to the graph


def _layernorm(square: str) -> str:
    # torch-style hand-written LayerNorm, one-pass variance: ReduceSum(x*x) * (1/N) - mean^2 (the exporter's Mul by 1/N)
    return f"""
<ir_version: 8, opset_import: ["" : 17]>
g (float[8,4096] x) => (float[8,4096] y) {{
  axes = Constant <value = int64[1] {{-1}}> ()
  inv_n = Constant <value = float {{0.000244140625}}> ()
  eps = Constant <value = float {{0.00001}}> ()
  two = Constant <value = float {{2.0}}> ()
  mean = ReduceMean <axes = [-1]> (x)
  {square}
  sumsq = ReduceSum (sq, axes)
  ex2 = Mul (sumsq, inv_n)
  m2 = Mul (mean, mean)
  var = Sub (ex2, m2)
  ve = Add (var, eps)
  sd = Sqrt (ve)
  xc = Sub (x, mean)
  y = Div (xc, sd)
}}"""


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def probes() -> Tuple[Probe, ...]:
    r = _rng(1)
    freqs = np.exp(-np.log(10000.0) * np.arange(16) / 16).astype(np.float32)
    inv_freq = (1.0 / 10000 ** (np.arange(0, 16, 2) / 16)).astype(np.float32)
    return (
        Probe(
            "layernorm_sumsq_mul",
            "LayerNorm as ReduceSum(x*x)*(1/N) - mean^2: the sum of squares overflows fp16",
            _layernorm("sq = Mul (x, x)"),
            {"x": (-30.0, 30.0)},
        ),
        Probe(
            "layernorm_sumsq_pow",
            "the same with Pow(x, 2) (MNN writes it as Square)",
            _layernorm("sq = Pow (x, two)"),
            {"x": (-30.0, 30.0)},
        ),
        Probe(
            "batchnorm_unfolded",
            "unfolded BatchNormalization with running_var 9.8e7 (a text-detection net)",
            """
<ir_version: 8, opset_import: ["" : 17]>
g (float[1,4,16,16] x) => (float[1,4,16,16] y) {
  bn = BatchNormalization <epsilon = 0.00001> (x, gamma, beta, mean, var)
  y = Conv <kernel_shape = [1, 1]> (bn, w)
}""",
            {"x": (-2e4, 2e4)},
            (
                ("gamma", np.ones(4, np.float32)),
                ("beta", np.linspace(0.1, 0.4, 4).astype(np.float32)),
                ("mean", np.zeros(4, np.float32)),
                ("var", np.array([9.8e7, 9.0e7, 5e7, 1.2e8], np.float32)),
                ("w", (r.standard_normal((4, 4, 1, 1)) * 0.5).astype(np.float32)),
            ),
        ),
        Probe(
            "softmax_exp_stable",
            "Exp(x - max): a stabilised softmax (benign: the argument is <= 0)",
            """
<ir_version: 8, opset_import: ["" : 17]>
g (float[4,256] x) => (float[4,256] y) {
  m = ReduceMax <axes = [-1]> (x)
  d = Sub (x, m)
  e = Exp (d)
  s = ReduceSum <keepdims = 1> (e, axes)
  y = Div (e, s)
}""",
            {"x": (-20.0, 20.0)},
            (("axes", np.array([-1], np.int64)),),
        ),
        Probe(
            "rope_bounded",
            "RoPE Sin/Cos of positions from Range(0, 16) (benign: positions bounded by the graph)",
            """
<ir_version: 8, opset_import: ["" : 17]>
g (float[1,16,16] x) => (float[1,16,16] y) {
  start = Constant <value = float {0.0}> ()
  limit = Constant <value = float {16.0}> ()
  delta = Constant <value = float {1.0}> ()
  ax = Constant <value = int64[1] {1}> ()
  pos = Range (start, limit, delta)
  pcol = Unsqueeze (pos, ax)
  freqs = Mul (pcol, inv_freq)
  emb = Concat <axis = -1> (freqs, freqs)
  c = Cos (emb)
  s = Sin (emb)
  xc = Mul (x, c)
  xs = Mul (x, s)
  y = Add (xc, xs)
}""",
            {"x": (-1.0, 1.0)},
            (("inv_freq", inv_freq[None, :]),),
        ),
        Probe(
            "rope_position_ids",
            "RoPE Sin/Cos of position ids that also index a 64-row position table (benign: bounded by the table)",
            """
<ir_version: 8, opset_import: ["" : 17]>
g (float[1,16,16] x, int64[1,16] position_ids) => (float[1,16,16] y) {
  pe = Gather <axis = 0> (pos_table, position_ids)
  pos = Cast <to = 1> (position_ids)
  ax = Constant <value = int64[1] {2}> ()
  pcol = Unsqueeze (pos, ax)
  freqs = Mul (pcol, inv_freq)
  emb = Concat <axis = -1> (freqs, freqs)
  c = Cos (emb)
  s = Sin (emb)
  xc = Mul (x, c)
  xs = Mul (x, s)
  xr = Add (xc, xs)
  y = Add (xr, pe)
}""",
            {"x": (-1.0, 1.0)},
            (
                ("inv_freq", inv_freq[None, None, :]),
                ("pos_table", (_rng(2).standard_normal((64, 16)) * 0.02).astype(np.float32)),
            ),
        ),
        Probe(
            "timestep_999",
            "t*freq with t = 999 before Sin/Cos (a diffusion timestep embedding; bf16 breaks it)",
            """
<ir_version: 8, opset_import: ["" : 17]>
g (float[1] t) => (float[1,8] y) {
  ax = Constant <value = int64[1] {1}> ()
  tcol = Unsqueeze (t, ax)
  arg = Mul (tcol, freqs)
  s = Sin (arg)
  c = Cos (arg)
  emb = Concat <axis = -1> (s, c)
  y = Gemm <transB = 1> (emb, w, b)
}""",
            {"t": (999.0, 999.0)},
            (
                ("freqs", freqs[None, :]),
                ("w", (r.standard_normal((8, 32)) * 0.2).astype(np.float32)),
                ("b", np.zeros(8, np.float32)),
            ),
        ),
        Probe(
            "gridsample_pixel_sum",
            "pixel mesh + flow in absolute pixels (up to 257), normalised, then GridSample "
            "(a 256x256 optical-flow warp of a photograph)",
            """
<ir_version: 8, opset_import: ["" : 17]>
g (float[1,3,256,256] image, float[1,2,256,256] flow) => (float[1,3,256,256] y) {
  start = Constant <value = float {0.0}> ()
  limit = Constant <value = float {256.0}> ()
  step = Constant <value = float {1.0}> ()
  row_shape = Constant <value = int64[4] {1, 1, 1, 256}> ()
  col_shape = Constant <value = int64[4] {1, 1, 256, 1}> ()
  full = Constant <value = int64[4] {1, 1, 256, 256}> ()
  r = Range (start, limit, step)
  xr = Reshape (r, row_shape)
  yr = Reshape (r, col_shape)
  mx = Expand (xr, full)
  my = Expand (yr, full)
  mesh = Concat <axis = 1> (mx, my)
  pix = Add (mesh, flow)
  g2 = Mul (pix, scale)
  g1 = Sub (g2, one)
  grid = Transpose <perm = [0, 2, 3, 1]> (g1)
  y = GridSample <align_corners = 1> (image, grid)
}""",
            {"image": (0.0, 1.0), "flow": (-1.0, 1.0)},
            (
                ("scale", np.array([2 / 255, 2 / 255], np.float32).reshape(1, 2, 1, 1)),
                ("one", np.array(1.0, np.float32)),
            ),
        ),
        Probe(
            "conv3x3_large_input",
            "3x3 stride-1 conv (Winograd at Low) on inputs about 2,300, output below 2.4",
            """
<ir_version: 8, opset_import: ["" : 17]>
g (float[1,3,32,32] x) => (float[1,8,32,32] y) {
  c = Conv <kernel_shape = [3, 3], pads = [1, 1, 1, 1]> (x, w, b)
  y = Relu (c)
}""",
            {"x": (0.0, 2300.0)},
            (("w", (r.standard_normal((8, 3, 3, 3)) * 4e-5).astype(np.float32)), ("b", np.zeros(8, np.float32))),
        ),
        Probe(
            "global_avgpool_112",
            "GlobalAveragePool over 112x112 (MNN sums in fp16 at Low)",
            """
<ir_version: 8, opset_import: ["" : 17]>
g (float[1,16,112,112] x) => (float[1,4] y) {
  p = GlobalAveragePool (x)
  f = Flatten (p)
  y = Gemm <transB = 1> (f, w, b)
}""",
            {"x": (0.0, 1.0)},
            (("w", r.standard_normal((4, 16)).astype(np.float32)), ("b", np.zeros(4, np.float32))),
        ),
        Probe(
            "conv_net_benign",
            "a small conv net on image-range inputs (benign)",
            """
<ir_version: 8, opset_import: ["" : 17]>
g (float[1,3,32,32] x) => (float[1,10] y) {
  c1 = Conv <kernel_shape = [3, 3], strides = [2, 2], pads = [1, 1, 1, 1]> (x, w1, b1)
  r1 = Relu (c1)
  c2 = Conv <kernel_shape = [1, 1]> (r1, w2, b2)
  r2 = Relu (c2)
  p = GlobalAveragePool (r2)
  f = Flatten (p)
  y = Gemm <transB = 1> (f, w3, b3)
}""",
            {"x": (0.0, 1.0)},
            (
                ("w1", (r.standard_normal((16, 3, 3, 3)) * 0.3).astype(np.float32)),
                ("b1", np.zeros(16, np.float32)),
                ("w2", (r.standard_normal((16, 16, 1, 1)) * 0.3).astype(np.float32)),
                ("b2", np.zeros(16, np.float32)),
                ("w3", (r.standard_normal((10, 16)) * 0.3).astype(np.float32)),
                ("b3", np.zeros(10, np.float32)),
            ),
        ),
    )


def build(probe: Probe):
    """The probe as an onnx.ModelProto: parsed, initializers added, every node named, checked."""
    import onnx
    from onnx import numpy_helper, parser

    model = parser.parse_model(probe.text)
    for name, value in probe.initializers:
        model.graph.initializer.append(numpy_helper.from_array(np.asarray(value), name))
    for node in model.graph.node:
        if not node.name:
            node.name = node.output[0]  # the tensor it writes: unique, and readable in reports
    model = onnx.shape_inference.infer_shapes(model)
    onnx.checker.check_model(model, full_check=True)
    return model
