"""The platform table: schema, completeness, citations, user files and overrides, `precision-lint platforms`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from precision_lint.errors import ConfigError
from precision_lint.deploy.platforms import MODES, load_platforms, parse_mode

from cli_runner import run_cli

REQUIRED = {
    "android-cpu-armv82",
    "android-cpu-armv80",
    "ios-cpu",
    "ios-metal",
    "android-opencl",
    "android-vulkan",
    "x86-cpu",
    "cuda",
    "ios-coreml",
    "android-nnapi",
}


def test_builtin_table_is_complete_and_cited():
    table = load_platforms()
    assert REQUIRED <= set(table)
    for p in table.values():
        assert p.source, p.id
        assert set(p.modes) == set(MODES), p.id
        for m in p.modes.values():
            assert m.source, (p.id, m.name)
            for ex in m.op_exceptions:
                assert ex.source and ex.what, (p.id, m.name, ex)
        for ex in p.cpu_fallback:
            assert ex.source, (p.id, ex)


def test_facts_from_the_reference():
    t = load_platforms()
    for pid in ("ios-cpu", "android-cpu-armv82"):
        low = t[pid].modes["low"]
        assert (low.storage, low.arithmetic, low.accumulation) == ("fp16", "fp16", "fp16")
        assert t[pid].modes["normal"].signature() == t[pid].modes["high"].signature()
    cl = t["android-opencl"].modes
    assert (cl["normal"].storage, cl["normal"].arithmetic) == ("fp16", "fp32")
    assert cl["low_bf16"].signature() == cl["high"].signature()  # clamped to High
    assert len(t["x86-cpu"].equivalent_groups()) == 1
    assert t["ios-coreml"].modes["low_bf16"].supported is False


def test_parse_mode():
    assert parse_mode("Low_BF16") == "low_bf16" and parse_mode("Precision_Normal") == "normal"
    with pytest.raises(ValueError):
        parse_mode("medium")


def test_platform_file_adds_and_overrides(tmp_path):
    f = tmp_path / "mine.yaml"
    f.write_text(
        """
platforms:
  - id: my-cpu-bf16
    extends: android-cpu-armv82
    name: our own MNN_SUPPORT_BF16 build
    modes:
      low_bf16:
        same_as: null
        speed: 2
        storage: fp32
        arithmetic: bf16
        accumulation: fp32
        what: MatMul/Conv operands packed to bf16
        source: mnn-precision.md:22
  - id: android-opencl
    notes: ["our phones: Adreno 740"]
""".replace("same_as: null\n        ", ""),
        encoding="utf-8",
    )
    t = load_platforms([str(f)])
    bf = t["my-cpu-bf16"].modes["low_bf16"]
    assert (bf.storage, bf.arithmetic, bf.speed) == ("fp32", "bf16", 2)
    # the mode replaces the parent's: the wheel's measurement of Low_BF16 (= Normal) is not inherited
    assert bf.measured == "" and bf.same_as is None
    assert t["my-cpu-bf16"].modes["low"].lowp_types is not None  # inherited from the ARMv8.2 entry
    assert t["android-opencl"].notes == ("our phones: Adreno 740",)
    assert t["android-opencl"].modes["normal"].storage == "fp16"  # untouched fields stay
    assert list(t)[-1] == "my-cpu-bf16"


def test_config_overrides_are_validated_with_their_origin():
    t = load_platforms(overrides={"ios-metal": {"modes": {"normal": {"accumulation": "fp16"}}}})
    assert t["ios-metal"].modes["normal"].accumulation == "fp16"
    assert t["ios-metal"].modes["low"].accumulation == "fp16"  # same_as: normal follows
    with pytest.raises(ConfigError, match=r"cfg.yaml:3: platform_overrides.ios-metal"):
        load_platforms(
            overrides={"ios-metal": {"modes": {"normal": {"storage": "fp8"}}}},
            overrides_origin="cfg.yaml:3: platform_overrides",
        )
    with pytest.raises(ConfigError, match="needs name, backend, forward_type, modes"):
        load_platforms(overrides={"new-npu": {"os": "android"}})


def test_bad_platform_files(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("platforms:\n  - id: x\n    name: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad.yaml:\d+: invalid YAML"):
        load_platforms([str(bad)])
    cyc = tmp_path / "cyc.yaml"
    cyc.write_text("platforms:\n  - id: ios-cpu\n    modes:\n      normal: {same_as: high}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="cycle"):
        load_platforms([str(cyc)])
    with pytest.raises(ConfigError, match="platform file not found"):
        load_platforms([str(tmp_path / "missing.yaml")])


def test_platforms_command(tmp_path):
    out = run_cli("platforms", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "ios-cpu: iOS CPU" in out.stdout
    assert "Precision_Low       S fp16 C fp16 Acc fp16 speed 2" in out.stdout
    out = run_cli("platforms", "android-opencl", "-v", "--format", "json", cwd=tmp_path)
    doc = json.loads(out.stdout)
    assert [p["id"] for p in doc["platforms"]] == ["android-opencl"]
    out = run_cli("platforms", "android-opencl", "-v", cwd=tmp_path)
    assert "per-op: " in out.stdout and "CPU fallback" in out.stdout and "source: ref:23" in out.stdout
    out = run_cli("platforms", "nope", cwd=tmp_path)
    assert out.returncode == 2 and "unknown platform 'nope'" in out.stderr


def test_platforms_file_flag_on_check(tmp_path):
    f = tmp_path / "mine.yaml"
    f.write_text("platforms:\n  - id: lab-npu\n    extends: android-nnapi\n    name: Lab NPU\n", encoding="utf-8")
    sample = Path(__file__).resolve().parent.parent / "sample_models" / "clean.onnx"
    out = run_cli(
        str(sample),
        "--platforms-file",
        str(f),
        "--platform",
        "lab-npu",
        "--snippets",
        "none",
        "--color",
        "never",
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    assert "lab-npu  Precision_Low" in out.stdout


def test_platforms_command_lists_the_configurations_platform_files(tmp_path):
    """`platform_files` in the configuration adds platforms to `check` (a --target of one works), so `precision-lint
    platforms` lists them too: it read only platform_overrides, and said 'unknown platform' for a platform `check`
    accepted."""
    (tmp_path / "mine.yaml").write_text(
        "platforms:\n  - id: lab-npu\n    extends: android-nnapi\n    name: Lab NPU\n", encoding="utf-8"
    )
    (tmp_path / ".precision-lint.yaml").write_text("platform_files: [mine.yaml]\n", encoding="utf-8")
    out = run_cli("platforms", "lab-npu", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("lab-npu: Lab NPU")
    assert "lab-npu" not in run_cli("platforms", "--isolated", cwd=tmp_path).stdout


def test_shipped_platform_table_validates_against_the_schema():
    """Run time skips jsonschema for data/platforms.yaml, so this test is what keeps it valid."""
    from precision_lint.deploy.platforms import _builtin_doc

    _builtin_doc.__wrapped__(validate=True)


def test_the_bf16_build_packs_matmul_and_conv_operands_only():
    """android-cpu-bf16 (MNN_SUPPORT_BF16, read from source): Low_BF16 stores activations in fp32 and gives MatMul/Conv
    bf16 operands with fp32 sums; its other modes are the ARMv8.2 build's, inherited through `extends`."""
    from precision_lint.deploy.platforms import OpRef

    t = load_platforms()
    p, arm82 = t["android-cpu-bf16"], t["android-cpu-armv82"]
    bf = p.modes["low_bf16"]
    assert bf.measured == "" and "not measured" in bf.what  # read from source
    mm = p.formats_for_op("low_bf16", OpRef(frozenset({"MatMul"}), "MatMul"))
    assert (mm.storage, mm.arithmetic, mm.accumulation) == ("bf16", "bf16", "fp32")
    sm = p.formats_for_op("low_bf16", OpRef(frozenset({"Softmax"}), "Softmax"))
    assert (sm.storage, sm.arithmetic, sm.accumulation) == ("fp32", "fp32", "fp32")
    assert p.modes["low"].signature() == arm82.modes["low"].signature()
    assert bf.signature() != p.modes["normal"].signature()


def test_a_platform_file_with_a_key_given_twice_is_refused(tmp_path):
    """YAML would keep the second `name` silently; a user's platform file is refused, naming the key and lines."""
    f = tmp_path / "lab.yaml"
    f.write_text("platforms:\n  - id: lab\n    extends: android-opencl\n    name: A\n    name: B\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"lab\.yaml: platforms\[0\]\.name: given twice \(lines 4 and 5\)"):
        load_platforms((str(f),))
