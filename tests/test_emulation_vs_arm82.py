"""The emulator against the real kernels, on ARMv8.2 where both run: `verify --emulate` of a target applies the
platform table's formats (precision_lint/verify/emulated.py) to the .onnx; the same models run on MNN's Arm82 kernels under QEMU
(one worker, Low and High).  Each case states how far the emulation may be from the measured error, and shows that
emulating storage alone underestimates it where the table says the kernel accumulates in fp16."""

from __future__ import annotations

import os

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper, parser

from precision_lint.verify.arm_runner import Emulation, Run, execute
from precision_lint.verify.run import convert_onnx, verify

pytestmark = pytest.mark.qemu

MODELS = {
    # the measured fact: rms 2.36% = a numpy sequential fp16 sum (tests/test_arm82_facts.py)
    "matmul": (
        """<ir_version: 8, opset_import: ["" : 13]>
        g (float[8,2048] a, float[2048,8] b) => (float[8,8] out) {
          out = MatMul (a, b)
        }""",
        "android-cpu-armv82:low",
    ),
    # Pooling is on the Arm82 low-precision list: its sum of 12544 values runs in fp16
    "average": (
        """<ir_version: 8, opset_import: ["" : 13]>
        g (float[1,8,112,112] x) => (float[1,8,1,1] out) {
          out = GlobalAveragePool (x)
        }""",
        "ios-cpu:low",
    ),
    # Softmax rows are fp32 inside (table); ReduceSum runs on the fp32 backup and its result saturates when the
    # fp16 Mul reads it
    "softmax_sum": (
        """<ir_version: 8, opset_import: ["" : 13]>
        g (float[4,8192] x) => (float[4,8192] probs, float[4,1] out) {
          probs = Softmax <axis=1> (x)
          axes = Constant <value = int64[1] {1}> ()
          total = ReduceSum <keepdims=1> (x, axes)
          half = Constant <value = float[1] {0.5}> ()
          out = Mul (total, half)
        }""",
        "ios-cpu:low",
    ),
}


def _conv_model(path: str) -> None:
    """3x3 convolution, 256 channels (K = 2304), constant weight: MNN picks its own algorithm (Winograd)."""
    rng = np.random.default_rng(0)
    w = (rng.uniform(0, 1, (16, 256, 3, 3)) / 16).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1])],
        "g",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 256, 16, 16])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 16, 16, 16])],
        [numpy_helper.from_array(w, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, path)


def _inputs():
    rng = np.random.default_rng(0)
    return {
        "matmul": {
            "a": rng.uniform(0, 1, (8, 2048)).astype(np.float32),
            "b": rng.uniform(0, 1, (2048, 8)).astype(np.float32),
        },
        "average": {"x": rng.uniform(0, 1, (1, 8, 112, 112)).astype(np.float32)},
        "softmax_sum": {"x": rng.uniform(0, 16, (4, 8192)).astype(np.float32)},
        "conv": {"x": rng.uniform(0, 1, (1, 256, 16, 16)).astype(np.float32)},
    }


@pytest.fixture(scope="module")
def compared(arm82, tmp_path_factory):
    """{model: {"measured": {output: rel-L2}, "emulated": ..., "storage": ...}}: the real Arm82 kernels at Low against
    High (one emulated worker), and verify --emulate (full, and storage only) of the .onnx with the same inputs."""
    cache, manifest = arm82
    tmp = tmp_path_factory.mktemp("emulation_vs_arm82")
    inputs = _inputs()
    runs, paths, targets = [], {}, {}
    for name, (text, target) in MODELS.items():
        model = parser.parse_model(text)
        onnx.checker.check_model(model)
        paths[name] = str(tmp / f"{name}.onnx")
        onnx.save(model, paths[name])
        targets[name] = target
    paths["conv"] = str(tmp / "conv.onnx")
    _conv_model(paths["conv"])
    targets["conv"] = "ios-cpu:low"
    for name, path in paths.items():
        mnn = path.replace(".onnx", ".mnn")
        convert_onnx(path, mnn)
        outputs = [o.name for o in onnx.load(path).graph.output]
        runs += [Run(f"{name}:{p}", mnn, p, inputs[name], outputs) for p in ("low", "high")]
    outcome = execute(runs, Emulation(cache, manifest, "max"))
    assert outcome.fp16, f"the emulated CPU did not report fp16 arithmetic: {outcome.device_line!r}"
    out = {}
    for name, path in paths.items():
        low, high = outcome.arrays[f"{name}:low"], outcome.arrays[f"{name}:high"]
        feeds = os.path.join(str(tmp), f"{name}.npz")
        np.savez(feeds, **inputs[name])
        full = verify(path, [targets[name]], inputs=feeds, lint=False, emulate=True).targets[0]
        storage = verify(path, [targets[name]], inputs=feeds, lint=False, emulate=True, storage_only=True).targets[0]
        out[name] = {
            "measured": {n: _rel_l2(low[n], high[n]) for n in high},
            "emulated": {e.name: e.rel_l2 for e in full.outputs},
            "storage": {e.name: e.rel_l2 for e in storage.outputs},
            "applied": full.emulation["applied"],
        }
    return out


def _rel_l2(a, b) -> float:
    return float(np.linalg.norm(a.astype(np.float64) - b) / np.linalg.norm(b.astype(np.float64)))


def test_fp16_matmul_accumulation_is_emulated_within_10_percent(compared):
    """Measured 2.33% rel-L2; the emulation's sequential fp16 sum gives the same within 10%; storage alone 2e-4."""
    c = compared["matmul"]
    measured, emulated, storage = c["measured"]["out"], c["emulated"]["out"], c["storage"]["out"]
    assert 0.015 < measured < 0.035
    assert measured / 1.1 < emulated < measured * 1.1
    assert storage < measured / 20
    assert c["applied"] == ["storage", "arithmetic", "accumulation"]


def test_fp16_pooling_sum_is_emulated_within_a_factor_2(compared):
    """GlobalAveragePool over 112x112 at Low: the fp16 sum stagnates.  Measured 0.50 rel-L2 (every mean 0.25: MNN's
    running sum stalls at 0.25, so its kernel sums pre-scaled terms); the emulation's sequential sum of the values,
    then the division, stalls at 2048 / 12544 = 0.16: 0.67, within a factor 2.  Storage alone: 3e-4."""
    c = compared["average"]
    measured, emulated, storage = c["measured"]["out"], c["emulated"]["out"], c["storage"]["out"]
    assert measured > 0.3
    assert measured / 2 < emulated < measured * 2
    assert storage < measured / 100


def test_fp32_softmax_rows_and_backup_reductions_are_emulated_as_measured(compared):
    """The table says Softmax rows and ReduceSum compute in fp32 at Low: the emulation equals storage alone (up to
    the fp32 rounding order of ONNX Runtime and numpy), and both reproduce the measured errors (fp16 probabilities;
    the sum saturating at 65504 where the fp16 Mul reads it)."""
    c = compared["softmax_sum"]
    assert c["emulated"] == pytest.approx(c["storage"], rel=1e-3)
    for name in ("probs", "out"):
        assert c["measured"][name] > 1e-3
        assert c["measured"][name] / 1.1 < c["emulated"][name] < c["measured"][name] * 1.1


def test_3x3_convolution_emulation_is_an_upper_bound(compared):
    """The emulation sums each output's K = 2304 products in one sequential fp16 sum; MNN's Arm82 3x3 convolution
    (Winograd: shorter sums over channels per tile element) measured about 14x less.  The emulation is an upper
    bound here, within 30x; storage alone underestimates."""
    c = compared["conv"]
    measured, emulated, storage = c["measured"]["y"], c["emulated"]["y"], c["storage"]["y"]
    assert measured <= emulated < measured * 30
    assert storage < measured
