"""Declared targets: levels and the exit code reflect exactly the declared configurations."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest
from onnx import parser

import precision_lint
from precision_lint.errors import ConfigError
from precision_lint.deploy.platforms import load_platforms
from precision_lint.deploy.targets import Target, judged_formats_for, parse_target
from precision_lint.engine.decide import Verdicts, level_on_targets

from cli_runner import run_cli

SAMPLES = Path(__file__).resolve().parent.parent / "sample_models"

SOFTMAX_65536 = """
<ir_version: 8, opset_import: ["" : 13]>
g (float[1,1,4,65536] s) => (float[1,1,4,65536] p) {
  [attn_softmax] p = Softmax <axis=-1> (s)
}"""


def _model(text: str, tmp_path: Path, name: str = "m.onnx") -> str:
    path = tmp_path / name
    onnx.save(parser.parse_model(text), path)
    return str(path)


def _level(path: str, *targets: str) -> dict:
    r = precision_lint.lint(path, targets=list(targets))
    return {f.node: (f.level, f.judged_for) for f in r.findings}


def test_parse_target_spellings():
    assert parse_target("ios-cpu:low") == Target("ios-cpu", "low")
    assert parse_target("ios-cpu:Low_BF16").mode == "low_bf16"
    assert parse_target("android-opencl:Precision_High").mode == "high"
    assert str(parse_target("cuda:lowbf16")) == "cuda:low_bf16"
    with pytest.raises(ConfigError, match="unknown platform 'mars-cpu'"):
        parse_target("mars-cpu:low")
    with pytest.raises(ConfigError, match="expected PLATFORM:MODE"):
        parse_target("ios-cpu")
    with pytest.raises(ConfigError, match="has no low_bf16 mode"):
        parse_target("ios-coreml:low_bf16")


def test_judged_formats_for():
    assert judged_formats_for(["ios-cpu:low"]) == ("fp16",)
    assert judged_formats_for(["ios-cpu:normal"]) == ()  # fp32: fp16 rules have nothing to fear
    assert judged_formats_for(["x86-cpu:low"]) == ()
    assert judged_formats_for(["cuda:low_bf16"]) == ("bf16",)
    assert judged_formats_for(["cuda:low_bf16", "android-opencl:normal"]) == ("fp16", "bf16")


def test_softmax_rows_are_fp32_on_arm82_low(tmp_path):
    path = _model(SOFTMAX_65536, tmp_path)
    assert _level(path)["attn_softmax"][0] == "error"  # judged for fp16 by default
    assert _level(path, "ios-cpu:low") == {"attn_softmax": ("none", ())}  # rows computed in fp32 there
    assert _level(path, "android-opencl:normal")["attn_softmax"] == ("error", ("fp16",))
    assert _level(path, "android-opencl:high")["attn_softmax"][0] == "none"
    assert _level(path, "ios-metal:normal")["attn_softmax"][0] == "none"  # Metal's softmax sums in float


def test_reduction_targets_and_exit_codes(tmp_path):
    model = str(SAMPLES / "long_reduction.onnx")
    for target, level, code in (
        ("android-cpu-armv82:low", "none", 0),
        ("android-opencl:normal", "error", 1),
        ("android-opencl:high", "none", 0),
        ("x86-cpu:low", "none", 0),
        ("android-vulkan:normal", "none", 0),
        ("ios-metal:normal", "error", 1),
    ):
        assert _level(model, target)["token_mean"][0] == level, target
        out = run_cli(model, "--target", target, "-q", "--snippets", "none", cwd=tmp_path)
        assert out.returncode == code, (target, out.stdout, out.stderr)
    # the worst of several targets counts
    assert _level(model, "android-cpu-armv82:low", "android-opencl:normal")["token_mean"][0] == "error"


def test_bf16_target_judges_bf16(tmp_path):
    model = str(SAMPLES / "gridsample_large.onnx")
    assert _level(model, "cuda:low_bf16")["warp_sample"] == ("error", ("bf16",))  # 3.5 px in bf16
    assert _level(model, "cuda:high")["warp_sample"] == ("none", ())
    r = precision_lint.lint(model, targets=["cuda:low_bf16"])
    assert r.recommendation.advisory is False
    assert [p.platform for p in r.recommendation.platforms] == ["cuda"]  # the targets' platforms
    (declared,) = r.recommendation.platforms[0].declared
    assert declared.to_dict() == {
        "mode": "low_bf16",
        "precision": "Precision_Low_BF16",
        "safe": False,
        "max_level": "error",
    }


def test_level_on_targets_keeps_estimates_and_identity():
    table = load_platforms()
    (f,) = precision_lint.lint(str(SAMPLES / "gridsample_large.onnx")).findings
    g = level_on_targets(f, (Target("ios-cpu", "normal"),), table, Verdicts())
    assert g.level == "none" and g.fingerprint == f.fingerprint and g.estimates == f.estimates
    assert level_on_targets(f, (Target("ios-cpu", "low"),), table, Verdicts()).level == "error"
    assert level_on_targets(f, (), table, Verdicts()) is f


def test_targets_from_config_name_the_file(tmp_path):
    (tmp_path / ".precision-lint.yaml").write_text("targets: [ios-cpu:turbo]\n", encoding="utf-8")
    out = run_cli(str(SAMPLES / "clean.onnx"), cwd=tmp_path)
    assert out.returncode == 2
    assert ".precision-lint.yaml" in out.stderr and "turbo" in out.stderr


def test_summary_names_the_targets(tmp_path):
    out = run_cli(
        str(SAMPLES / "gridsample_large.onnx"),
        "--target",
        "ios-cpu:low",
        "--snippets",
        "none",
        "--color",
        "never",
        cwd=tmp_path,
    )
    assert out.returncode == 1
    assert "levels judged for the declared targets: ios-cpu:low" in out.stdout
    row = next(line for line in out.stdout.splitlines() if line.startswith("  ios-cpu "))
    assert row.endswith("declared Low: UNSAFE (error)")  # the short table says it in a few words
    out = run_cli(
        str(SAMPLES / "gridsample_large.onnx"),
        "--target",
        "ios-cpu:low",
        "--snippets",
        "none",
        "--color",
        "never",
        "--explain",
        cwd=tmp_path,
    )
    assert "declared target ios-cpu:low (Precision_Low) is UNSAFE" in out.stdout
