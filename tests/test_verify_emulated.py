"""verify's emulation from the platform table (precision_lint/verify/emulated.py): storage, arithmetic and
accumulation formats per op, on tiny real models, without QEMU.  tests/test_emulation_vs_arm82.py compares the
emulation with MNN's real ARMv8.2 kernels."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper, parser

from precision_lint.reporters.verify_report import to_json, to_text
from precision_lint.verify.run import EMULATED, NOT_VERIFIABLE, verify

pytest.importorskip("onnxruntime")

MATMUL_4096 = """<ir_version: 8, opset_import: ["" : 13]>
    g (float[8,4096] a, float[4096,8] b) => (float[8,8] out) {
      [long_dot] out = MatMul (a, b)
    }"""
MEAN_65536 = """<ir_version: 8, opset_import: ["" : 13]>
    g (float[2,65536] x) => (float[2,1] out) {
      [long_mean] out = ReduceMean <axes = [1], keepdims = 1> (x)
    }"""
REDUCE_THEN_MUL = """<ir_version: 8, opset_import: ["" : 13]>
    g (float[1,4096] x) => (float[1,1] out, float[1,1] total) {
      axes = Constant <value = int64[1] {1}> ()
      total = ReduceSum <keepdims=1> (x, axes)
      half = Constant <value = float[1] {0.5}> ()
      out = Mul (total, half)
    }"""


def _save(tmp_path, name: str, text: str) -> str:
    model = parser.parse_model(text)
    onnx.checker.check_model(model)
    path = str(tmp_path / f"{name}.onnx")
    onnx.save(model, path)
    return path


def _conv(tmp_path) -> str:
    """A 3x3 convolution over 512 channels (K = 4608) with a constant weight."""
    rng = np.random.default_rng(0)
    w = (rng.uniform(0, 1, (8, 512, 3, 3)) / 32).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1], name="wide_conv")],
        "g",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 512, 8, 8])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 8, 8, 8])],
        [numpy_helper.from_array(w, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path = str(tmp_path / "conv.onnx")
    onnx.save(model, path)
    return path


def _run(path, targets, **kw):
    return verify(path, targets, input_ranges=kw.pop("ranges", {}), lint=False, **kw)


def test_fp16_accumulation_of_a_long_matmul_is_far_above_storage_only(tmp_path):
    """OpenCL at Low computes and accumulates in fp16 (table): K=4096 products of [0, 1] values summed one by one in
    fp16 lose about 7% (numerics' dot estimate); rounding only the stored tensors gives about 2e-4."""
    path = _save(tmp_path, "matmul", MATMUL_4096)
    ranges = {"a": (0.0, 1.0), "b": (0.0, 1.0)}
    full = _run(path, ["android-opencl:low"], ranges=ranges).targets[0]
    storage = _run(path, ["android-opencl:low"], ranges=ranges, storage_only=True).targets[0]
    assert full.status == storage.status == EMULATED
    assert full.emulation["applied"] == ["storage", "arithmetic", "accumulation"]
    assert full.emulation["accumulation_ops"] == {"MatMul": 1}
    assert storage.emulation["applied"] == ["storage"]
    assert full.outputs[0].rel_l2 > 0.03 and full.exceeded and full.origins[0].node == "long_dot"
    assert storage.outputs[0].rel_l2 < 1e-3 and not storage.exceeded
    assert full.outputs[0].rel_l2 > 50 * storage.outputs[0].rel_l2
    assert full.message.startswith("emulated from the platform table (storage, arithmetic, accumulation), not measured")


def test_a_target_that_accumulates_in_fp32_gives_the_storage_only_result(tmp_path):
    """Metal at Normal stores in fp16 and computes MatMul in fp32 (table): the full emulation is the storage one,
    run by ONNX Runtime, to the bit."""
    path = _save(tmp_path, "matmul", MATMUL_4096)
    ranges = {"a": (0.0, 1.0), "b": (0.0, 1.0)}
    full = _run(path, ["ios-metal:normal"], ranges=ranges).targets[0]
    storage = _run(path, ["ios-metal:normal"], ranges=ranges, storage_only=True).targets[0]
    assert full.emulation == storage.emulation and full.emulation["applied"] == ["storage"]
    assert "ONNX Runtime" in full.emulation["engine"]
    assert full.outputs[0].to_dict() == storage.outputs[0].to_dict()


def test_metal_reductions_accumulate_in_half(tmp_path):
    """Metal's Reduction sums in half (table, op exception): a mean of 65536 values in [0, 1] in 4 lanes of fp16
    stagnates; storage alone rounds only the inputs and the result."""
    path = _save(tmp_path, "mean", MEAN_65536)
    full = _run(path, ["ios-metal:normal"], ranges={"x": (0.0, 1.0)}).targets[0]
    storage = _run(path, ["ios-metal:normal"], ranges={"x": (0.0, 1.0)}, storage_only=True).targets[0]
    assert full.emulation["applied"] == ["storage", "accumulation"]
    assert full.emulation["accumulation_ops"] == {"ReduceMean": 1}
    assert full.outputs[0].rel_l2 > 0.2 and storage.outputs[0].rel_l2 < 1e-3


def test_vulkan_convolutions_compute_in_fp16_on_fp32_images(tmp_path):
    """The Vulkan image build keeps fp32 tensors but runs convolutions in fp16 (table): nothing is stored reduced,
    so storage-only emulation sees no error at all, while the fp16 convolution does."""
    path = _conv(tmp_path)
    full = _run(path, ["android-vulkan:normal"], ranges={"x": (0.0, 1.0)}).targets[0]
    storage = _run(path, ["android-vulkan:normal"], ranges={"x": (0.0, 1.0)}, storage_only=True).targets[0]
    assert full.emulation["applied"] == ["arithmetic", "accumulation"] and full.emulation["stored_tensors"] == 0
    assert storage.outputs[0].rel_l2 == 0.0
    assert full.outputs[0].rel_l2 > 0.01 and full.origins[0].node == "wide_conv"


def test_arm82_emulation_converts_a_backup_ops_result_only_where_an_fp16_op_reads_it(tmp_path):
    """ReduceSum runs on the fp32 backup at ARMv8.2 Low (table): its result 122880 stays exact as an output, and
    saturates to 65504 where the fp16 Mul reads it, so the Mul gives 32752: the measured fact of
    tests/test_arm82_facts.py, here from the table alone (--emulate)."""
    path = _save(tmp_path, "reduce", REDUCE_THEN_MUL)
    inputs = str(tmp_path / "x.npy")
    np.save(inputs, np.full((1, 4096), 30, np.float32))
    result = verify(path, ["ios-cpu:low"], inputs=inputs, lint=False, emulate=True)
    low = result.targets[0]
    by_name = {e.name: e for e in low.outputs}
    assert low.status == EMULATED and "emulation asked for (--emulate)" in low.message
    assert by_name["total"].rel_l2 == 0.0
    assert by_name["out"].max_abs == pytest.approx(61440 - 32752)
    assert low.emulation["saturated_tensors"] >= 1


def test_an_mnn_file_cannot_be_emulated(tmp_path):
    path = _save(tmp_path, "matmul", MATMUL_4096)
    from precision_lint.verify.run import convert_onnx

    mnn = str(tmp_path / "matmul.mnn")
    convert_onnx(path, mnn)
    low = verify(mnn, ["ios-cpu:low"], lint=False, emulate=True).targets[0]
    assert low.status == NOT_VERIFIABLE and "needs the .onnx" in low.message


def test_the_report_names_the_formats_applied_and_never_says_measured(tmp_path):
    path = _save(tmp_path, "matmul", MATMUL_4096)
    result = _run(path, ["android-opencl:low", "ios-metal:normal"], ranges={"a": (0.0, 1.0), "b": (0.0, 1.0)})
    text = to_text(result)
    assert "emulated from the platform table (storage, arithmetic, accumulation)" in text
    assert "emulated from the platform table (storage)" in text
    assert "measured on" not in text and "verdict: emulated error over tolerance" in text
    again = _run(path, ["android-opencl:low", "ios-metal:normal"], ranges={"a": (0.0, 1.0), "b": (0.0, 1.0)})
    assert to_json(result) == to_json(again)  # deterministic
    block = json.loads(to_json(result))["targets"][0]["emulation"]
    assert block["applied"] == ["storage", "arithmetic", "accumulation"]
    assert block["accumulation_not_modelled"] == {}


def test_a_model_the_reference_evaluator_cannot_run_falls_back_to_storage_and_says_so(tmp_path):
    """An ONNX Runtime contrib op (com.microsoft Gelu) is unknown to ONNX's reference evaluator: the target is still
    emulated, storage only, and the report says why."""
    path = _save(
        tmp_path,
        "contrib",
        """<ir_version: 8, opset_import: ["" : 13, "com.microsoft" : 1]>
        g (float[8,512] a, float[512,8] b) => (float[8,8] out) {
          prod = MatMul (a, b)
          out = com.microsoft.Gelu (prod)
        }""",
    )
    low = _run(path, ["android-opencl:low"], ranges={"a": (0.0, 1.0), "b": (0.0, 1.0)}).targets[0]
    assert low.status == EMULATED and low.emulation["applied"] == ["storage"]
    assert "reference evaluator could not run the model" in low.emulation["fallback"]
    assert "storage only" in low.message and low.outputs[0].rel_l2 < 1e-2


# --- verify reads the project's configuration, as check does -------------------------------------------------------

GRIDSAMPLE_32 = """<ir_version: 8, opset_import: ["" : 16]>
    warp (float[1,3,32,32] image, float[1,32,32,2] grid) => (float[1,3,32,32] y) {
      [warp_sample] y = GridSample <align_corners=0, mode="bilinear", padding_mode="zeros"> (image, grid)
    }"""


def _verify_cli(*args, cwd):
    from cli_runner import run_cli

    return run_cli("verify", *args, cwd=cwd)


def test_verify_takes_targets_input_ranges_and_platform_tables_from_the_configuration(tmp_path):
    """A project declares a custom GPU (a platform file), its target and an input's range: verify emulates that
    target on inputs drawn from that range, as `check` judges it.  It used to ignore the configuration: it ran
    ios-cpu:low, drew [0, 1] and said 'unknown platform' for the project's own GPU."""
    _save(tmp_path, "scaled", REDUCE_THEN_MUL)
    (tmp_path / "lab.yaml").write_text(
        "platforms:\n  - id: lab-gpu\n    extends: android-opencl\n    name: Lab GPU\n", encoding="utf-8"
    )
    (tmp_path / ".precision-lint.yaml").write_text(
        "platform_files: [lab.yaml]\ntargets: ['lab-gpu:normal']\ninput_ranges: {x: [100, 200], other_model_input: [0, 1]}\n",
        encoding="utf-8",
    )
    proc = _verify_cli("scaled.onnx", "--format", "json", cwd=tmp_path)
    assert proc.returncode in (0, 1), proc.stderr
    report = json.loads(proc.stdout)
    assert [t["target"] for t in report["targets"]] == ["lab-gpu:normal"]
    assert report["targets"][0]["status"] == EMULATED
    assert "100" in report["inputs"]["x"] and "200" in report["inputs"]["x"]  # the configured range was drawn
    assert "lab-gpu" in report["recommendation"]
    # the command line wins: its target and range; --isolated forgets the configuration
    proc = _verify_cli("scaled.onnx", "--format", "json", "--target", "android-opencl:normal", cwd=tmp_path)
    assert [t["target"] for t in json.loads(proc.stdout)["targets"]] == ["android-opencl:normal"]
    proc = _verify_cli("scaled.onnx", "--isolated", "--target", "lab-gpu:normal", cwd=tmp_path)
    assert proc.returncode == 2 and "lab-gpu" in proc.stderr and "Traceback" not in proc.stderr


def test_verify_judges_known_kernel_bugs_for_the_configured_mnn_version(tmp_path):
    """A 32x32 GridSample emulated at ios-cpu:low stays within tolerance (the emulation computes what the model
    says).  For MNN 3.6.1 the Arm82 align_corners bug still blocks Low (a run does not clear it: exit 1); for a
    project that deploys MNN 3.0.0 (before the bug), nothing does (exit 0)."""
    _save(tmp_path, "gs32", GRIDSAMPLE_32)
    args = ("gs32.onnx", "--target", "ios-cpu:low", "--emulate", "--format", "json")
    bugged = _verify_cli(*args, cwd=tmp_path)
    report = json.loads(bugged.stdout)
    assert report["targets"][0]["status"] == EMULATED and not report["targets"][0]["exceeded"]
    assert report["unsettled"] == {"ios-cpu:low": ["arm82-gridsample-align-corners"]} and bugged.returncode == 1
    assert report["recommendation"]["ios-cpu"]["mode"] == "normal"
    (tmp_path / ".precision-lint.yaml").write_text("mnn_version: '3.0.0'\n", encoding="utf-8")
    fixed = _verify_cli(*args, cwd=tmp_path)
    report = json.loads(fixed.stdout)
    assert "unsettled" not in report and fixed.returncode == 0, fixed.stdout
    assert report["recommendation"]["ios-cpu"]["mode"] == "low"
    again = _verify_cli(*args, "--mnn-version", "3.6.1", cwd=tmp_path)  # the flag over the file
    assert again.returncode == 1 and json.loads(again.stdout)["unsettled"]


def test_a_suppressed_finding_still_decides_verifys_recommendation_but_does_not_fail_it(tmp_path):
    """The configuration suppresses C001 on the 32x32 GridSample (accepted, with a reason).  `check` keeps judging
    the suppressed finding in its recommendation (Low unsafe: the model's numerics have not changed) and exits 0;
    verify with the same configuration used to drop it entirely: 'Precision_Low', the declared target 'safe' in
    Markdown, its suppression not counted.  Now it agrees with check: Low rejected, exit 0 (accepted), counted."""
    _save(tmp_path, "gs32", GRIDSAMPLE_32)
    (tmp_path / ".precision-lint.yaml").write_text(
        "targets: ['ios-cpu:low']\nsuppressions:\n  - {rule: C001, path: gs32.onnx, reason: accepted}\n",
        encoding="utf-8",
    )
    proc = _verify_cli("gs32.onnx", "--emulate", "--format", "json", cwd=tmp_path)
    report = json.loads(proc.stdout)
    assert report["recommendation"]["ios-cpu"]["mode"] == "normal", report["recommendation"]
    assert "unsettled" not in report and proc.returncode == 0, proc.stdout
    assert report["findings"] == []  # hidden from the report, as in check, and listed as check's JSON lists it
    assert [(h["rule"], h["node"], h["reason"]) for h in report["suppressed"]] == [("C001", "warp_sample", "accepted")]
    text = _verify_cli("gs32.onnx", "--emulate", cwd=tmp_path)
    assert "static findings not reported: 1 suppressed (the recommendation still judges them)" in text.stdout
    review = _verify_cli("gs32.onnx", "--emulate", "--format", "markdown", cwd=tmp_path)
    assert review.returncode == 0 and "`ios-cpu:low` is **unsafe**" in review.stdout, review.stdout
    assert "1 suppressed" in review.stdout


def test_a_configured_range_of_an_inner_tensor_bounds_verifys_static_findings_as_checks(tmp_path):
    """input_ranges may name any tensor of the model (check bounds that tensor): r in [0, 5] keeps Exp below fp16's
    overflow, so check reports nothing.  verify kept only the model inputs' ranges, for its static findings too, and
    reported R004 as an error that check, on the same configuration, does not."""
    _save(
        tmp_path,
        "exp",
        """<ir_version: 8, opset_import: ["" : 16]>
        g (float[1,64] x) => (float[1,64] y) {
          k = Constant <value = float {100.0}> ()
          s = Mul (x, k)
          [ex] y = Exp (s)
        }""",
    )
    (tmp_path / ".precision-lint.yaml").write_text(
        "targets: ['android-opencl:low']\ninput_ranges: {s: [0, 5]}\n", encoding="utf-8"
    )
    check = _check_cli("exp.onnx", "--format", "json", cwd=tmp_path)
    assert check.returncode == 0 and json.loads(check.stdout)["files"][0]["findings"] == [], check.stdout
    proc = _verify_cli("exp.onnx", "--format", "json", cwd=tmp_path)
    report = json.loads(proc.stdout)
    assert [f["rule"] for f in report["findings"]] == [], report["findings"]
    assert "[0, 1]" in report["inputs"]["x"]  # the run draws the model's input as before


def _check_cli(*args, cwd):
    from cli_runner import run_cli

    return run_cli("check", *args, cwd=cwd)


def test_an_overflow_to_inf_is_named_where_the_rel_l2_of_the_finite_values_is_0(tmp_path):
    """A ReduceSum of 4096 values in [100, 200] overflows fp16 to inf on OpenCL: over tolerance with a rel-L2 of 0
    over what stayed finite.  The reasons said '(rel-L2 0)'; they now say the inf."""
    from precision_lint.results import measured_line
    from precision_lint.verify.run import measured_runs

    path = _save(tmp_path, "scaled", REDUCE_THEN_MUL)
    result = verify(path, ["android-opencl:normal"], input_ranges={"x": (100.0, 200.0)})
    (run,) = result.targets
    assert run.exceeded and run.origins[0].rel_l2 == 0 and run.origins[0].inf == 1
    assert measured_runs(result.targets)[0].why.endswith("(rel-L2 0, 1 inf)")
    assert "(rel-L2 0, 1 inf)" in result.recommendation["android-opencl"]["why"]
    (r009,) = [f for f in result.findings if f.rule_id == "R009"]
    assert measured_line("android-opencl:normal", r009.measured["android-opencl:normal"]).endswith(", 1 inf")
    assert "confirmed (emulated) (rel-L2 0.0, 1 inf)" in to_text(result)
