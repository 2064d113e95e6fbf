"""The numpy kernels of verify's full emulation (precision_lint/verify/emulated_kernels.py).

At fp32 arithmetic and accumulation each kernel must compute what ONNX Runtime computes for the same node (so the
im2col, transposed-convolution, pooling and normalisation geometry is right); with fp16 accumulation a sum must be
the sequential (or lanes-then-pairwise) fp16 sum it claims to be, term by term."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import helper

from precision_lint.numerics.accumulation import combine_lanes, lane_sums
from precision_lint.verify import emulated_kernels as k

ort = pytest.importorskip("onnxruntime")
FP32 = k.Formats("fp32", "fp32", 1)
RNG = np.random.default_rng(7)


def _ort(op, inputs, attrs=None, opset=17, n_out=1):
    names = [f"i{j}" for j in range(len(inputs))]
    outs = [f"o{j}" for j in range(n_out)]
    node = helper.make_node(op, names, outs, **(attrs or {}))
    graph = helper.make_graph(
        [node],
        "g",
        [
            helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
            for n, a in zip(names, inputs)
        ],
        [helper.make_tensor_value_info(o, onnx.TensorProto.FLOAT, None) for o in outs],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, dict(zip(names, inputs)))


def _x(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


CASES = [
    (
        "Conv",
        [_x(2, 4, 9, 8), _x(6, 2, 3, 2), _x(6)],
        dict(group=2, strides=[2, 1], pads=[1, 0, 2, 1], dilations=[1, 2]),
    ),
    ("Conv", [_x(1, 3, 7, 7), _x(4, 3, 3, 3)], dict(auto_pad="SAME_UPPER", strides=[2, 2])),
    ("Conv", [_x(1, 8, 5, 5), _x(8, 1, 3, 3)], dict(group=8, pads=[1, 1, 1, 1])),  # depthwise
    ("Conv", [_x(2, 3, 11), _x(5, 3, 4)], dict(strides=[3], pads=[2, 1])),  # 1-d
    (
        "ConvTranspose",
        [_x(1, 4, 5, 6), _x(4, 3, 3, 2), _x(6)],
        dict(group=2, strides=[2, 3], pads=[1, 0, 0, 1], output_padding=[1, 0]),
    ),
    ("ConvTranspose", [_x(2, 3, 4, 4), _x(3, 2, 2, 2)], dict(dilations=[2, 2])),
    ("AveragePool", [_x(1, 2, 7, 6)], dict(kernel_shape=[3, 2], strides=[2, 2], pads=[1, 1, 1, 0])),
    ("AveragePool", [_x(1, 2, 7, 6)], dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1], count_include_pad=1)),
    ("GlobalAveragePool", [_x(2, 3, 5, 7)], {}),
    ("Gemm", [_x(5, 3), _x(4, 5), _x(4)], dict(transA=1, transB=1, alpha=0.5, beta=2.0)),
    ("MatMul", [_x(2, 1, 3, 5), _x(4, 5, 2)], {}),
    ("MatMul", [_x(5), _x(3, 5, 2)], {}),
    ("LayerNormalization", [_x(2, 3, 8), _x(3, 8), _x(3, 8)], dict(axis=-2)),
    ("InstanceNormalization", [_x(2, 3, 4, 5), _x(3), _x(3)], dict(epsilon=1e-3)),
    ("Softmax", [_x(2, 3, 4)], dict(axis=1)),
    ("LogSoftmax", [_x(2, 3, 4)], dict(axis=-1)),
    ("Sigmoid", [_x(3, 4)], {}),
    ("Softplus", [_x(3, 4)], {}),
    ("Sum", [_x(3, 4), _x(4), _x(1, 4)], {}),
]


@pytest.mark.parametrize("op,inputs,attrs", CASES, ids=[c[0] for c in CASES])
def test_kernels_at_fp32_compute_what_onnx_runtime_computes(op, inputs, attrs):
    want = _ort(op, inputs, attrs)[0]
    got = k.EMULATED[op](FP32, *inputs, **attrs)[0]
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize(
    "op", ["ReduceSum", "ReduceMean", "ReduceL1", "ReduceL2", "ReduceSumSquare", "ReduceLogSum", "ReduceLogSumExp"]
)
def test_reductions_at_fp32_compute_what_onnx_runtime_computes(op):
    x = np.abs(_x(3, 4, 5)) + 0.1
    axes = np.array([0, 2], np.int64)
    want = _ort(op, [x, axes], dict(keepdims=0), opset=18)[0]
    got = k.EMULATED[op](FP32, x, axes, keepdims=0)[0]
    np.testing.assert_allclose(got, want, rtol=2e-5)


def test_softmax_before_opset_13_normalises_the_flattened_rows():
    x = _x(2, 3, 4)
    want = _ort("Softmax", [x], dict(axis=1), opset=11)[0]
    np.testing.assert_allclose(k.EMULATED["Softmax"](FP32, x, axis=1, _opset=11)[0], want, rtol=1e-5, atol=1e-7)


def test_fp16_dot_is_the_sequential_fp16_sum_of_fp16_products():
    """K=300 products, each rounded to fp16 and added one by one to an fp16 accumulator: bit for bit."""
    a = RNG.uniform(0, 1, (3, 300)).astype(np.float32)
    b = RNG.uniform(0, 1, (300, 2)).astype(np.float32)
    got = k.dot(a, b, k.Formats("fp16", "fp16", 1))
    want = np.zeros((3, 2), np.float16)
    for i in range(300):
        want = (want + (a[:, i : i + 1] * b[i : i + 1, :]).astype(np.float16)).astype(np.float16)
    assert np.array_equal(got, want.astype(np.float32))
    assert not np.array_equal(got, (a @ b).astype(np.float16).astype(np.float32))  # fp16 sums differ from fp32


def test_long_dots_are_fed_in_chunks_without_changing_the_sum(monkeypatch):
    a = RNG.uniform(0, 1, (4, 1000)).astype(np.float32)
    b = RNG.uniform(0, 1, (1000, 3)).astype(np.float32)
    f = k.Formats("fp16", "fp16", 4)
    whole = k.dot(a, b, f)
    monkeypatch.setattr(k, "_CHUNK", 12 * 8)  # 8 terms per output and chunk
    assert np.array_equal(k.dot(a, b, f), whole)
    terms = (a[:, None, :] * b.T[None, :, :]).reshape(12, 1000)
    assert np.array_equal(whole.ravel(), combine_lanes(lane_sums(terms, 4, "fp16"), "fp16").astype(np.float32))


def test_a_long_fp16_sum_stagnates_and_lanes_help():
    """4096 ones: one sequential fp16 sum stops at 2048 (2048 + 1 rounds back to 2048); 4 lanes reach 4096."""
    x = np.ones((1, 4096), np.float32)
    assert k.sum_along(x, [1], k.Formats("fp16", "fp16", 1))[0, 0] == 2048
    assert k.sum_along(x, [1], k.Formats("fp16", "fp16", 4))[0, 0] == 4096
    assert k.sum_along(x, [1], FP32)[0, 0] == 4096


def test_fp16_conv_accumulates_over_channels_and_kernel_sequentially():
    """A 1x1 conv over 4096 channels of ones is a dot product of 4096 ones: it stagnates at 2048 like the sum."""
    x = np.ones((1, 4096, 2, 2), np.float32)
    w = np.ones((1, 4096, 1, 1), np.float32)
    assert np.all(k.EMULATED["Conv"](k.Formats("fp16", "fp16", 1), x, w)[0] == 2048)


def test_reduced_arithmetic_rounds_each_step():
    """Sigmoid at fp16: exp, 1 + exp and the reciprocal are each rounded, so the result is an fp16 value."""
    x = np.linspace(-8, 8, 101, dtype=np.float32)
    y = k.EMULATED["Sigmoid"](k.Formats("fp16", "fp32", 1), x)[0]
    assert np.array_equal(y, y.astype(np.float16).astype(np.float32))
    assert 0 < np.max(np.abs(y - 1 / (1 + np.exp(-x)))) < 1e-3


@pytest.mark.parametrize("align", [0, 1])
@pytest.mark.parametrize("padding", ["zeros", "border"])
@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
def test_vectorised_gridsample_at_fp32_computes_what_onnx_runtime_computes(mode, padding, align):
    x = _x(2, 3, 7, 9)
    grid = RNG.uniform(-1.2, 1.2, (2, 5, 6, 2)).astype(np.float32)
    attrs = dict(mode=mode, padding_mode=padding, align_corners=align)
    want = _ort("GridSample", [x, grid], attrs, opset=16)[0]
    got = k.EMULATED["GridSample"](FP32, x, grid, **attrs)[0]
    close = np.isclose(got, want, rtol=1e-5, atol=1e-5)
    # nearest: a coordinate exactly halfway between two pixels may round either way
    assert close.all() if mode == "bilinear" else close.mean() > 0.97


def test_fp16_gridsample_coordinates_lose_pixels_on_a_wide_image():
    """The seed case: unnormalising grid coordinates in fp16 on a 1024-wide image moves samples by up to 0.25 px
    (fp16 spacing at 512-1024 is 0.5), so a ramp image is sampled off by that much."""
    ramp = np.tile(np.arange(1024, dtype=np.float32), (1, 1, 2, 1))
    grid = np.stack(np.meshgrid(np.linspace(-1, 1, 777), [0.0]), -1)[None].astype(np.float32)
    attrs = dict(mode="bilinear", padding_mode="border", align_corners=1)
    exact = k.EMULATED["GridSample"](FP32, ramp, grid, **attrs)[0]
    fp16 = k.EMULATED["GridSample"](k.Formats("fp16", "fp32", 1), ramp, grid, **attrs)[0]
    assert 0.2 < np.max(np.abs(fp16 - exact)) < 0.6
