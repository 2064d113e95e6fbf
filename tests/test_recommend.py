"""The recommender on the real sample models (ONNX and their MNN conversions), and per-op platform facts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import precision_lint
from precision_lint.deploy.platforms import load_platforms
from precision_lint.deploy.recommend import recommend
from precision_lint.engine.decide import judge

from cli_runner import run_cli

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_models"


def _rec(model: str, **options):
    result = precision_lint.lint(str(SAMPLES / model), **options)
    return result, {p.platform: p for p in result.recommendation.platforms}


def _mode(p, name):
    return p.mode_named(name)


@pytest.mark.parametrize("model", ["gridsample_large.onnx", "gridsample_large.mnn"])
def test_gridsample_not_low_on_arm82_cpus(model):
    _, recs = _rec(model)
    for pid in ("ios-cpu", "android-cpu-armv82"):
        p = recs[pid]
        assert p.mode != "low" and p.safe
        assert p.formats == {"storage": "fp32", "arithmetic": "fp32", "accumulation": "fp32"}
        assert "high" in p.equivalent  # Normal and High are both fp32 on these CPUs
        low = _mode(p, "low")
        assert low.status == "rejected"
        (why,) = low.blocking
        assert why.finding.rule_id == "C001" and why.finding.op == "GridSample" and why.level == "error"
        assert why.finding.node in ("warp_sample", "warped")  # ONNX node name / MNN op name
        assert why.fmt == "fp16" and why.estimate_view()["unit"] == "px"
        assert 0.3 < why.estimate_view()["value"] < 0.45
    assert recs["x86-cpu"].modes_differ is False
    # OpenCL Normal stores the grid in fp16 but computes in fp32: 0.125 px, a warning, below the fail level;
    # Low computes in fp16 as well (0.375 px): rejected.
    cl = recs["android-opencl"]
    assert cl.mode == "normal"
    (concern,) = _mode(cl, "normal").concerns
    assert concern.level == "warning" and concern.role == "storage"
    assert 0.1 < concern.estimate_view()["value"] < 0.15
    assert _mode(cl, "low").status == "rejected"


def test_gridsample_text_report_says_why(tmp_path):
    out = run_cli(
        str(SAMPLES / "gridsample_large.onnx"),
        "--platform",
        "ios-cpu,android-cpu-armv82",
        "--snippets",
        "python",
        "--color",
        "never",
        "--explain",
        cwd=tmp_path,
    )
    assert out.returncode == 1
    text = out.stdout
    assert "ios-cpu             Precision_Normal" in text or "ios-cpu  " in text
    assert (
        "Low (fp16 throughout) is unsafe: C001 node 'warp_sample' (GridSample, coordinate): fp16 "
        "storage/arithmetic -> error, estimate 0.375 px"
    ) in text
    assert "Normal, High and Low_BF16 are the same here (fp32 throughout)" in text
    assert '"precision": 0,  # Precision_Normal' in text
    # without --explain: the reason in a few words, one line per platform
    out = run_cli(
        str(SAMPLES / "gridsample_large.onnx"),
        "--platform",
        "ios-cpu,android-cpu-armv82",
        "--snippets",
        "none",
        "--color",
        "never",
        cwd=tmp_path,
    )
    rows = [line.split(None, 2) for line in out.stdout.splitlines() if line.startswith("  ")]
    assert rows == [
        ["ios-cpu", "Precision_Normal", "Low is unsafe: C001 'warp_sample'"],
        ["android-cpu-armv82", "Precision_Normal", "Low is unsafe: C001 'warp_sample'"],
    ]


def test_clean_model_gets_low_where_low_is_fastest():
    table = load_platforms()
    _, recs = _rec("clean.onnx")
    for pid, p in recs.items():
        modes = table[pid].modes
        fastest = max(m.speed for m in modes.values() if m.supported)
        low_strictly_fastest = modes["low"].speed == fastest and all(
            m.speed < fastest
            for n, m in modes.items()
            if n != "low" and m.supported and m.signature() != modes["low"].signature()
        )
        if low_strictly_fastest and modes["low"].signature() != modes["normal"].signature():
            assert p.mode == "low", pid
        assert p.safe, pid
    assert {pid for pid, p in recs.items() if p.mode == "low"} >= {
        "ios-cpu",
        "android-cpu-armv82",
        "android-opencl",
        "cuda",
    }


@pytest.mark.parametrize("model", ["long_reduction.onnx", "long_reduction.mnn"])
def test_accumulation_only_model(model):
    _, recs = _rec(model)
    # Vulkan's image build stores fp32 at every precision (VulkanBackend.cpp _getFormat): Normal is enough
    assert recs["android-vulkan"].mode == "normal"
    assert recs["android-vulkan"].formats["storage"] == "fp32"
    # backends that accumulate reductions in fp16 below High
    for pid in ("android-opencl", "ios-metal"):
        assert recs[pid].mode == "high", pid
        (why,) = _mode(recs[pid], "normal").blocking
        assert why.finding.failure_class == "accumulation" and why.role == "accumulation" and why.fmt == "fp16"
        assert why.needs == "fp32 accumulation"
    # ARMv8.2 Low: Reduction is not a low-precision op, it runs on an fp32 CPU backup
    for pid in ("ios-cpu", "android-cpu-armv82"):
        assert recs[pid].mode == "low"
        (fb,) = recs[pid].cpu_fallbacks
        assert fb.op == "ReduceMean" and fb.modes == ("low",) and "fp32 CPU backup" in fb.why
    # CUDA and TensorRT accumulate in fp32 even at Low
    assert recs["cuda"].mode == "low" and recs["tensorrt"].mode == "low"
    # no mode helps on Core ML (the ANE sums in fp16 whatever the mode)
    assert recs["ios-coreml"].safe is False


def test_range_and_accumulation_stay_distinct(tmp_path):
    import onnx
    from onnx import parser

    model = parser.parse_model("""
        <ir_version: 8, opset_import: ["" : 13]>
        g (float[1,65536,16] x, float[1,4,8,8] s) => (float[1,1,16] y, float[1,4,8,8] z) {
          [token_mean] y = ReduceMean <axes=[1]> (x)
          big = Constant <value = float[1] {-1000000000.0}> ()
          [mask_add] z = Add (s, big)
        }""")
    path = tmp_path / "both.onnx"
    onnx.save(model, path)
    result = precision_lint.lint(
        str(path), platforms=["android-vulkan", "android-opencl", "cuda"], fail_level="warning"
    )
    classes = {f.rule_id: f.failure_class for f in result.findings}
    assert "range" in classes.values() and "accumulation" in classes.values(), classes
    recs = {p.platform: p for p in result.recommendation.platforms}
    cuda_low = _mode(recs["cuda"], "low")
    assert [v.finding.failure_class for v in cuda_low.blocking] == ["range"]  # fp16 tensors, fp32 sums
    assert cuda_low.blocking[0].needs == "fp32 storage" and cuda_low.blocking[0].role == "storage"
    # Vulkan's image build stores fp32 at every precision: neither class blocks Normal
    assert _mode(recs["android-vulkan"], "normal").blocking == ()
    assert recs["android-vulkan"].mode == "normal"
    cl_normal = _mode(recs["android-opencl"], "normal")
    assert sorted(v.finding.failure_class for v in cl_normal.blocking) == ["accumulation", "range"]


def test_per_op_facts_change_verdicts():
    table = load_platforms()
    result = precision_lint.lint(str(SAMPLES / "long_reduction.onnx"))
    (f,) = result.findings
    assert judge(f, table["android-cpu-armv82"], "low").level == "none"  # fp32 CPU backup
    assert judge(f, table["android-opencl"], "normal").level == "error"  # Reduction accumulates in fp16
    assert judge(f, table["android-opencl"], "high").level == "none"
    assert judge(f, table["android-vulkan"], "normal").level == "none"
    assert judge(f, table["ios-metal"], "low").level == "error"  # same as Normal: ReduceMean sums in half
    assert judge(f, table["x86-cpu"], "low").level == "none"


def test_recommendation_is_deterministic_json():
    a = precision_lint.lint(str(SAMPLES / "gridsample_large.onnx")).recommendation
    b = precision_lint.lint(str(SAMPLES / "gridsample_large.onnx")).recommendation
    text = json.dumps(a.to_dict(), sort_keys=True, allow_nan=False)
    assert text == json.dumps(b.to_dict(), sort_keys=True, allow_nan=False)
    assert [p.platform for p in a.platforms] == list(load_platforms())
    assert a.advisory is True and a.fail_level == "error"


@pytest.mark.parametrize("model", ["gridsample_large.onnx", "long_reduction.mnn"])
def test_json_recommendation_is_the_records_to_dict(model, tmp_path):
    """--format json prints the typed records' to_dict(), the same on every run (byte-identical documents)."""
    args = (
        str(SAMPLES / model),
        "--format",
        "json",
        "--target",
        "ios-cpu:low",
        "--target",
        "ios-cpu:normal",
        "--platform",
        "android-opencl",
        "--snippets",
        "all",
    )
    first, second = run_cli(*args, cwd=tmp_path), run_cli(*args, cwd=tmp_path)
    assert first.stdout == second.stdout
    (f,) = json.loads(first.stdout)["files"]
    result = precision_lint.Linter(
        precision_lint.Options(
            targets=("ios-cpu:low", "ios-cpu:normal"), platforms=("android-opencl",), snippets=("all",)
        )
    ).lint_file(str(SAMPLES / model))
    assert f["recommendation"] == json.loads(json.dumps(result.recommendation.to_dict()))
    assert f["snippets"] == {pid: s.to_dict() for pid, s in result.snippets.items()}
    assert sorted(f["snippets"]) == ["android-opencl", "ios-cpu"]
    assert f["snippets"]["ios-cpu"]["mode"] == result.recommendation.platform("ios-cpu").mode


def test_every_declared_mode_of_a_platform_is_judged(tmp_path):
    """Two targets on one platform: both declared modes get a verdict (the recommender used to keep the first)."""
    r = precision_lint.Linter(precision_lint.Options(targets=("ios-cpu:low", "ios-cpu:normal"))).lint_file(
        str(SAMPLES / "gridsample_large.onnx")
    )
    (p,) = r.recommendation.platforms
    assert [(d.mode, d.safe) for d in p.declared] == [("low", False), ("normal", True)]
    assert p.declared[0].max_level == "error"
    d = p.to_dict()  # `declared` keeps its shape (the first); `declared_all` lists every declared mode
    assert d["declared"]["mode"] == "low" and [x["mode"] for x in d["declared_all"]] == ["low", "normal"]
    one = (
        precision_lint.Linter(precision_lint.Options(targets=("ios-cpu:low",)))
        .lint_file(str(SAMPLES / "gridsample_large.onnx"))
        .recommendation.platforms[0]
        .to_dict()["declared"]
    )
    assert one == {"mode": "low", "precision": "Precision_Low", "safe": False, "max_level": "error"}
    # both verdicts in the short text table
    out = run_cli(
        str(SAMPLES / "gridsample_large.onnx"),
        "--target",
        "ios-cpu:low",
        "--target",
        "ios-cpu:normal",
        "--color",
        "never",
        cwd=tmp_path,
    )
    (row,) = [line for line in out.stdout.splitlines() if line.startswith("  ios-cpu")]
    assert "declared Low: UNSAFE (error)" in row and "declared Normal: safe" in row, row
    out = run_cli(
        str(SAMPLES / "gridsample_large.onnx"),
        "--target",
        "ios-cpu:low",
        "--target",
        "ios-cpu:normal",
        "--color",
        "never",
        "--explain",
        cwd=tmp_path,
    )
    assert "declared target ios-cpu:low (Precision_Low) is UNSAFE" in out.stdout
    assert "declared target ios-cpu:normal (Precision_Normal) is safe" in out.stdout
    out = run_cli(
        str(SAMPLES / "gridsample_large.onnx"),
        "--target",
        "ios-cpu:low",
        "--target",
        "ios-cpu:normal",
        "--format",
        "markdown",
        cwd=tmp_path,
    )
    assert "The declared target `ios-cpu:low` is **unsafe** (reaches error)" in out.stdout
    assert "The declared target `ios-cpu:normal` is safe" in out.stdout


def test_fail_level_and_level_overrides_shape_the_choice():
    r = precision_lint.lint(str(SAMPLES / "gridsample_large.onnx"), platforms=["ios-cpu"], fail_level="warning")
    assert r.recommendation.platforms[0].mode == "normal"
    r = precision_lint.lint(
        str(SAMPLES / "gridsample_large.onnx"), platforms=["ios-cpu"], level_overrides={"C001": "warning"}
    )
    p = r.recommendation.platforms[0]
    assert p.mode == "low"  # the team accepted C001 as a warning: Low is allowed
    assert _mode(p, "low").concerns[0].level == "warning"


def test_recommend_without_findings_prefers_fastest_then_exact():
    table = load_platforms()
    rec = recommend({}, [table[p] for p in ("android-cpu-armv80", "ios-metal", "android-opencl")])
    modes = {p.platform: p.mode for p in rec.platforms}
    # ARMv8.0: Low only swaps Sigmoid for an estimate, no faster: Normal; Metal: Low == Normal
    assert modes == {"android-cpu-armv80": "normal", "ios-metal": "normal", "android-opencl": "low"}


def test_a_constant_grid_stored_as_fp16_is_not_safe_at_high(tmp_path):
    """--fp16 stores a constant GridSample grid as fp16 (truncated): positions are off by up to 0.25 px at W=1024 at
    every precision (measured on the x86 CPU at Precision_High: 0.019 rel-L2 against the model converted without
    --fp16).  The recommendation called a declared High 'safe' and the run clean; M005 judges it in every mode."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from mnn_models import convert

    grid = np.random.default_rng(0).uniform(-1, 1, (1, 64, 64, 2)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("GridSample", ["x", "grid"], ["y"], name="gs", align_corners=0)],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 1024, 1024])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 64, 64])],
        [numpy_helper.from_array(grid, "grid")],
    )
    src = str(tmp_path / "warp.onnx")
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), src)
    fp16 = convert(src, str(tmp_path / "warp_fp16.mnn"), ["--fp16"])
    plain = convert(src, str(tmp_path / "warp.mnn"))
    result = precision_lint.lint(fp16, targets=("ios-cpu:high",))
    (finding,) = [f for f in result.findings if f.rule_id == "M005"]
    assert finding.level == "warning" and 0.24 < finding.estimates["fp16"].value < 0.26
    assert not precision_lint.lint(plain, targets=("ios-cpu:high",)).reported
