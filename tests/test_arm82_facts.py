"""The ARMv8.2 facts of data/platforms.yaml and docs/verify.md, checked against MNN's real Arm82 kernels.

Each fact gets a tiny model, run at Precision_Low and Precision_High in one emulated worker (verify's machinery:
arm_runner under QEMU -cpu max).  When a new MNN changes a kernel, the test of that fact fails and says which.
Facts (measured-arm82.md): GridSample ignores align_corners; fp32->fp16 conversion saturates at 65504 (constants,
Exp results); a reduction runs in fp32 but saturates when an fp16 op reads it; the fp16 GEMM accumulates
sequentially in fp16; a long Softmax row underflows to exact zeros; 5-D GridSample honours align_corners (3.6.1);
fp16 arithmetic (x * x) overflows to inf, unlike conversion.
"""

from __future__ import annotations

import numpy as np
import pytest

from arm82 import build
from precision_lint.verify.arm_runner import Emulation, Run, execute
from precision_lint.model.loaders import load_model
from precision_lint.deploy.platforms import load_platforms

pytestmark = pytest.mark.qemu

# Six GridSamples on grids of different sizes: the align_corners MNN reads depends on a buffer address, so some
# nodes of one run compute align_corners=1 and others 0 (measured: 0, 1, 0, 1, 0, 1 in every run of this model).
GRID_SIZES = (5, 7, 9, 11, 13, 17)


def _gridsamples(align_corners: int) -> str:
    grids = ", ".join(f"float[1,{n},{n},2] grid{i}" for i, n in enumerate(GRID_SIZES))
    outs = ", ".join(f"float[1,3,{n},{n}] out{i}" for i, n in enumerate(GRID_SIZES))
    body = "\n".join(
        f'  out{i} = GridSample <align_corners={align_corners}, mode="bilinear", padding_mode="zeros"> (image, grid{i})'
        for i in range(len(GRID_SIZES))
    )
    return f'<ir_version: 8, opset_import: ["" : 16]>\ng (float[1,3,32,32] image, {grids}) => ({outs}) {{\n{body}\n}}'


# 5-D GridSamples: the 3-D kernel's fp16 signature matches its declaration in 3.6.1 (known_issues.yaml: the bug
# arm82-gridsample3d-align-corners ends at 3.2.1), so each node computes the align_corners the model gives
GRID3D_SIZES = (3, 5, 7)


def _gridsamples3d(align_corners: int) -> str:
    grids = ", ".join(f"float[1,{n},{n},{n},3] grid{i}" for i, n in enumerate(GRID3D_SIZES))
    outs = ", ".join(f"float[1,2,{n},{n},{n}] out{i}" for i, n in enumerate(GRID3D_SIZES))
    body = "\n".join(
        f'  out{i} = GridSample <align_corners={align_corners}, mode="linear", padding_mode="zeros"> (volume, grid{i})'
        for i in range(len(GRID3D_SIZES))
    )
    return f'<ir_version: 8, opset_import: ["" : 20]>\ng (float[1,2,8,8,8] volume, {grids}) => ({outs}) {{\n{body}\n}}'


MODELS = {
    "gridsample_ac0": _gridsamples(0),
    "gridsample_ac1": _gridsamples(1),
    "gridsample3d_ac0": _gridsamples3d(0),
    "gridsample3d_ac1": _gridsamples3d(1),
    "square": """<ir_version: 8, opset_import: ["" : 13]>
        g (float[1,64] x) => (float[1,64] out) {
          out = Mul (x, x)
        }""",
    "mask_constant": """<ir_version: 8, opset_import: ["" : 13]>
        g (float[1,4,128] x) => (float[1,4,128] out) {
          big = Constant <value = float[1] {-1000000000.0}> ()
          out = Add (x, big)
        }""",
    "exp": """<ir_version: 8, opset_import: ["" : 13]>
        g (float[1,64] x) => (float[1,64] out) {
          out = Exp (x)
        }""",
    "reduce_then_mul": """<ir_version: 8, opset_import: ["" : 13]>
        g (float[1,4096] x) => (float[1,1] out) {
          axes = Constant <value = int64[1] {1}> ()
          total = ReduceSum <keepdims=1> (x, axes)
          half = Constant <value = float[1] {0.5}> ()
          out = Mul (total, half)
        }""",
    "matmul": """<ir_version: 8, opset_import: ["" : 13]>
        g (float[8,2048] a, float[2048,8] b) => (float[8,8] out) {
          out = MatMul (a, b)
        }""",
    "softmax_long": """<ir_version: 8, opset_import: ["" : 13]>
        g (float[1,8192] x) => (float[1,8192] out) {
          out = Softmax <axis=1> (x)
        }""",
}


def _inputs():
    rng = np.random.default_rng(0)
    grid = {"image": rng.random((1, 3, 32, 32), dtype=np.float32)}
    grid.update({f"grid{i}": rng.uniform(-1, 1, (1, n, n, 2)).astype(np.float32) for i, n in enumerate(GRID_SIZES)})
    volume = {"volume": rng.random((1, 2, 8, 8, 8), dtype=np.float32)}
    volume.update(
        {f"grid{i}": rng.uniform(-1, 1, (1, n, n, n, 3)).astype(np.float32) for i, n in enumerate(GRID3D_SIZES)}
    )
    return {
        "gridsample_ac0": grid,
        "gridsample_ac1": grid,
        "gridsample3d_ac0": volume,
        "gridsample3d_ac1": volume,
        "square": {"x": np.full((1, 64), 300, np.float32)},  # 90000 > 65504
        "mask_constant": {"x": rng.standard_normal((1, 4, 128)).astype(np.float32)},
        "exp": {"x": np.linspace(8, 13, 64, dtype=np.float32)[None]},
        "reduce_then_mul": {"x": np.full((1, 4096), 30, np.float32)},  # sum 122880 > 65504
        "matmul": {
            "a": rng.uniform(0, 1, (8, 2048)).astype(np.float32),
            "b": rng.uniform(0, 1, (2048, 8)).astype(np.float32),
        },
        "softmax_long": {"x": rng.uniform(0, 16, (1, 8192)).astype(np.float32)},
    }


@pytest.fixture(scope="module")
def measured(arm82, tmp_path_factory):
    """{model: {"low"|"high": {tensor: array}}, "inputs": ..., "device": line}, all from one emulated worker."""
    cache, manifest = arm82
    tmp = tmp_path_factory.mktemp("arm82_facts")
    inputs = _inputs()
    runs = []
    for name, text in MODELS.items():
        path = build(tmp, name, text)
        graph = load_model(path)
        outputs = [t.name for t in graph.tensors.values() if t.is_output]
        inter = [o for op in graph.operators() for o in op.outputs if o not in outputs]
        runs += [Run(f"{name}:{p}", path, p, inputs[name], outputs, inter) for p in ("low", "high")]
    outcome = execute(runs, Emulation(cache, manifest, "max"))
    assert outcome.fp16, f"the emulated CPU did not report fp16 arithmetic: {outcome.device_line!r}"
    out = {"inputs": inputs, "device": outcome.device_line}
    for rid, arrays in outcome.arrays.items():
        name, precision = rid.split(":")
        out.setdefault(name, {})[precision] = arrays
    assert all(len(out[name]) == 2 for name in MODELS), outcome.results
    return out


def _rel_l2(a, b) -> float:
    return float(np.linalg.norm(a.astype(np.float64) - b) / np.linalg.norm(b.astype(np.float64)))


def test_gridsample_ignores_align_corners_at_low(measured):
    """Arm82's GridSample reads align_corners from the wrong register: each node computes align_corners=0 or 1
    depending on a buffer's address, whatever the model says.  Measured in this test's runs: the align_corners=0
    model's six nodes read as [0, 1, 0, 1, 0, 1] or [1, 0, 0, 1, 0, 0], the align_corners=1 model's as
    [1, 0, 0, 1, 0, 1]; which nodes flip depends on the allocation order, so only "some node of the
    align_corners=0 model runs as 1" is asserted (six nodes make an all-correct run very unlikely)."""
    ac0, ac1 = measured["gridsample_ac0"], measured["gridsample_ac1"]

    def read_as(model) -> list:
        found = []
        for i in range(len(GRID_SIZES)):
            out = f"out{i}"
            assert _rel_l2(ac0["high"][out], ac1["high"][out]) > 0.05  # the two semantics differ clearly here
            as0 = _rel_l2(model["low"][out], ac0["high"][out]) < 0.02  # within fp16 rounding of align_corners=0
            as1 = _rel_l2(model["low"][out], ac1["high"][out]) < 0.02
            assert as0 != as1, f"{out}: neither align_corners=0 nor 1"
            found.append(1 if as1 else 0)
        return found

    declared_0 = read_as(ac0)
    read_as(ac1)  # each node of the align_corners=1 model also computes one of the two, never anything else
    assert 1 in declared_0, "every node honoured align_corners=0: has MNN fixed the Arm82 GridSample?"


def test_5d_gridsample_honours_align_corners_at_low(measured):
    """The 3-D kernel (5-D GridSample) of MNN 3.6.1 has the declared signature: every node of both models computes
    the align_corners it was given, at fp16 rounding (the table's bug arm82-gridsample-align-corners is rank 4 only,
    and arm82-gridsample3d-align-corners ends at 3.2.1)."""
    ac0, ac1 = measured["gridsample3d_ac0"], measured["gridsample3d_ac1"]
    for i in range(len(GRID3D_SIZES)):
        out = f"out{i}"
        assert _rel_l2(ac0["high"][out], ac1["high"][out]) > 0.05  # the two semantics differ clearly here
        assert _rel_l2(ac0["low"][out], ac0["high"][out]) < 0.02, out
        assert _rel_l2(ac1["low"][out], ac1["high"][out]) < 0.02, out


def test_fp16_arithmetic_overflows_to_inf_where_conversion_saturates(measured):
    """x * x for x = 300 is 90000: the fp16 Mul itself overflows to inf (the table's `conversion: saturate` is about
    fp32 -> fp16 copies only, not fp16 arithmetic)."""
    sq = measured["square"]
    assert np.all(sq["high"]["out"] == 90000)
    assert np.all(np.isposinf(sq["low"]["out"]))


def test_constant_conversion_saturates_at_fp16_max(measured):
    """A -1e9 constant becomes -65504 in fp16, not -inf (so a masked Softmax row stays finite)."""
    low, high = measured["mask_constant"]["low"]["out"], measured["mask_constant"]["high"]["out"]
    assert np.isfinite(low).all()
    assert np.all(low == np.float32(-65504.0))
    assert np.all(high < -9e8)


def test_exp_saturates_at_fp16_max(measured):
    """Exp is computed in fp32 and stored as fp16 with saturation: 65504 above ln(65504) = 11.09, never inf."""
    x = measured["inputs"]["exp"]["x"]
    low = measured["exp"]["low"]["out"]
    assert not np.isinf(low).any()
    assert np.all(low[x > 11.1] == np.float32(65504.0))
    below = x < 11.0
    exact = np.exp(x[below].astype(np.float16).astype(np.float64))  # the input is stored in fp16 first
    assert np.max(np.abs(low[below] - exact) / exact) < 1e-3  # then one fp16 rounding of the result (<= 4.9e-4)


def test_reduction_runs_fp32_but_saturates_when_an_fp16_op_reads_it(measured):
    """ReduceSum is not on the Arm82 low-precision list: its sum 122880 is exact, but the fp16 Mul after it reads
    65504 (saturated), so the output is 32752, not 61440."""
    table = load_platforms()
    assert "Reduction" not in table["ios-cpu"].modes["low"].lowp_types  # what the table says
    low, high = measured["reduce_then_mul"]["low"], measured["reduce_then_mul"]["high"]
    assert float(low["total"].ravel()[0]) == 122880.0
    assert float(high["out"].ravel()[0]) == 61440.0
    assert float(low["out"].ravel()[0]) == 65504.0 * 0.5


def test_matmul_accumulates_sequentially_in_fp16(measured):
    """The fp16 GEMM adds each product into an fp16 accumulator in order: a numpy sequential fp16 sum reproduces
    it, and its error is far above fp32 accumulation of the same fp16 inputs."""
    assert load_platforms()["ios-cpu"].modes["low"].accumulation == "fp16"  # what the table says
    a = measured["inputs"]["matmul"]["a"].astype(np.float16)
    b = measured["inputs"]["matmul"]["b"].astype(np.float16)
    low = measured["matmul"]["low"]["out"]
    exact = a.astype(np.float64) @ b.astype(np.float64)
    acc = np.zeros((a.shape[0], b.shape[1]), np.float16)
    for k in range(a.shape[1]):  # product exact in fp32 (11+11 bits), sum rounded to fp16 at every step
        acc = (acc.astype(np.float32) + a[:, k : k + 1].astype(np.float32) * b[k : k + 1, :].astype(np.float32)).astype(
            np.float16
        )
    fp32_acc = (a.astype(np.float32) @ b.astype(np.float32)).astype(np.float16)

    def rms(y) -> float:
        return float(np.sqrt(np.mean((y.astype(np.float64) - exact) ** 2) / np.mean(exact**2)))

    assert abs(rms(low) - rms(acc)) < 0.1 * rms(acc)
    assert rms(low) > 20 * rms(fp32_acc)
    assert np.mean(low == acc.astype(np.float32)) > 0.5  # most outputs bit-identical to the sequential sum


def test_long_softmax_underflows_to_exact_zero(measured):
    """Softmax rows are computed in fp32 but stored in fp16: probabilities below half fp16's smallest subnormal
    (2.98e-8) become exactly 0."""
    low, high = measured["softmax_long"]["low"]["out"], measured["softmax_long"]["high"]["out"]
    assert not (high == 0).any()
    zeros = low == 0
    assert zeros.sum() > 100
    assert np.all(high[zeros] < 3.0e-8)
    assert np.all(low[high > 6e-8] > 0)
