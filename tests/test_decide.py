"""One place decides (engine/decide.py): Options never change, verdicts do not depend on construction order, the
policy applies in its documented order, SARIF's default levels are the decided ones, and verify's runs decide the
recommendation for the modes they ran.  Real models only (the sample models and ONNX text)."""

from __future__ import annotations

import copy
import dataclasses
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from onnx import parser

from precision_lint.api import Linter, Options
from precision_lint.deploy.platforms import load_platforms
from precision_lint.deploy.recommend import recommend_platform
from precision_lint.verify.run import measured_runs, verify
from precision_lint.workflow.suppress import Suppression

from cli_runner import run_cli

ROOT = Path(__file__).resolve().parent.parent
SEED = str(ROOT / "sample_models" / "gridsample_large.onnx")


def _levels(result):
    return [(f.rule_id, f.node, f.level, f.judged_for) for f in result.findings]


# --- Options are immutable; verdicts do not depend on which Linter was built first -------------------------------


def test_options_are_unchanged_by_a_lint():
    options = Options(targets=("cuda:low_bf16",), tolerances={"gridsample_px": 0.25})
    before = copy.deepcopy(options)
    Linter(options).lint_file(SEED)
    assert options == before  # the old DeploymentStage wrote judged_formats = ("bf16",) into it


def test_reused_options_give_the_verdicts_of_fresh_ones():
    declared = Options(targets=("cuda:low_bf16",))
    Linter(declared)  # a Linter for a bf16 target first ...
    reused = dataclasses.replace(declared, targets=())  # ... then the same options without targets
    assert _levels(Linter(reused).lint_file(SEED)) == _levels(Linter(Options()).lint_file(SEED))
    assert Linter(reused).lint_file(SEED).findings[0].judged_for == ("fp16",)


def test_options_cannot_be_changed_and_survive_pickling():
    options = Options(tolerances={"gridsample_px": 0.25}, select="C", level_overrides={"C001": "warning"})
    assert options.select == ("C",)  # a string is one selector
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.fail_level = "warning"
    with pytest.raises(TypeError):
        options.tolerances["gridsample_px"] = 9.0
    assert pickle.loads(pickle.dumps(options)) == options  # parallel runs send it to workers


# --- the policy, in its order ------------------------------------------------------------------------------------


def test_policy_order_override_then_suppression_then_baseline(tmp_path):
    """Level override (3) before suppression (4) before baseline (5): the suppressed finding carries the overridden
    level, a suppressed finding is not counted as baselined, and the fail level (6) reads only what is reported."""
    from precision_lint.engine.decide import POLICY_ORDER

    assert POLICY_ORDER == ("select", "per_path_ignores", "level_overrides", "suppressions", "baseline", "fail_level")
    model = tmp_path / "gridsample_large.onnx"
    model.write_bytes(Path(SEED).read_bytes())
    from precision_lint.workflow.baseline import write_baseline

    plain = Linter(Options(targets=("ios-cpu:low",))).lint_file(str(model))
    write_baseline(str(tmp_path / "baseline.json"), plain.reported)
    suppression = Suppression(rule="C001", path="*.onnx", reason="reviewed", origin="test")
    options = Options(
        targets=("ios-cpu:low",),
        level_overrides={"C": "error", "C001": "warning"},
        suppressions=(suppression,),
        baseline=str(tmp_path / "baseline.json"),
        root=str(tmp_path),
        fail_level="warning",
    )
    result = Linter(options).lint_file(str(model))
    ((finding, by),) = result.suppressed
    assert by is suppression and finding.level == "warning"  # the most specific override, then suppressed
    assert result.baselined == [] and result.reported == [] and not result.failed
    # the recommendation still sees the suppressed finding (the numerics did not change), at its overridden level
    ios = result.recommendation.platforms[0]
    low = ios.mode_named("low")
    assert [v.level for v in low.blocking] == ["warning"]  # fail level warning: blocks Low
    without = Linter(dataclasses.replace(options, suppressions=())).lint_file(str(model))
    assert [f.rule_id for f in without.baselined] == ["C001"] and without.reported == []


# --- SARIF's default level is the decided level -------------------------------------------------------------------


def test_sarif_default_levels_are_the_decided_levels(tmp_path):
    (tmp_path / ".precision-lint.yaml").write_text(
        "level_overrides: {C: info, gridsample-coordinates: warning}\n", encoding="utf-8"
    )
    model = tmp_path / "gridsample_large.onnx"
    model.write_bytes(Path(SEED).read_bytes())
    out = run_cli("check", "--format", "sarif", "gridsample_large.onnx", cwd=tmp_path).stdout
    run = json.loads(out)["runs"][0]
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    (result,) = run["results"]
    assert result["ruleId"] == "C001" and result["level"] == "warning"  # the rule's name is more specific than C
    assert rules["C001"]["defaultConfiguration"]["level"] == result["level"]
    assert rules["C002"]["defaultConfiguration"]["level"] == "note"  # C: info


def test_sarif_carries_the_mnn_notes(tmp_path):
    import jsonschema

    out = run_cli("check", "--isolated", "--format", "sarif", SEED, cwd=tmp_path).stdout
    schema = json.loads((Path(__file__).resolve().parent / "data" / "sarif-schema-2.1.0.json").read_text())
    assert not list(jsonschema.Draft4Validator(schema).iter_errors(json.loads(out)))
    props = json.loads(out)["runs"][0]["properties"]
    notes = props["mnnNotes"]
    (entry,) = [n for n in notes if n["artifactLocation"]["uri"].endswith("gridsample_large.onnx")]
    json_notes = json.loads(run_cli("check", "--isolated", "--format", "json", SEED, cwd=tmp_path).stdout)
    assert entry["notes"] == json_notes["files"][0]["mnn_notes"]  # the same list JSON and Markdown get
    assert any(r["topic"] == "GridSample" for r in entry["notes"]["issue_reports"])  # matched MNN issue reports


# --- verify's runs join the decision -------------------------------------------------------------------------------


def test_verify_prints_the_normal_recommendation_for_targets_it_cannot_run():
    result = verify(SEED, ["x86-cpu:low"], lint=False)
    rec = result.recommendation["x86-cpu"]  # nothing ran: the estimate-based recommendation, said so
    assert rec["mode"] == "normal" and rec["basis"] == "estimated"


def _centre_grid(tmp_path) -> str:
    """The seed's inputs with the grid at zero: every output pixel samples the image centre (pixel 511.5 with
    align_corners 0 and 1 alike), where fp16 coordinates are exact: Low stays within tolerance."""
    rng = np.random.default_rng(0)
    inputs = tmp_path / "centre.npz"
    np.savez(
        inputs, image=rng.random((1, 3, 1024, 1024), dtype=np.float32), grid=np.zeros((1, 256, 256, 2), np.float32)
    )
    return str(inputs)


def test_measured_verdict_changes_the_recommendation_for_its_target(tmp_path):
    """The estimate (0.375 px at 1024) rejects OpenCL Low; an emulated run on the centre grid refutes it and Low is
    recommended, on the basis the run had."""
    estimated = Linter(Options(targets=("android-opencl:low",))).lint_file(SEED).recommendation.platforms[0]
    assert estimated.mode != "low" and estimated.basis is None and "basis" not in estimated.to_dict()
    result = verify(SEED, ["android-opencl:low"], inputs=_centre_grid(tmp_path))
    (low_run,) = result.targets
    assert low_run.status == "emulated" and not low_run.exceeded
    assert result.findings[0].measured["android-opencl:low"]["verdict"] == "refuted"
    assert result.recommendation["android-opencl"]["mode"] == "low"
    assert result.recommendation["android-opencl"]["basis"] == "emulated"
    full = result.lint.recommendation.platforms[0]  # the same decision the review reports render
    low = full.mode_named("low")
    assert (full.mode, full.basis, low.status, low.basis) == ("low", "emulated", "chosen", "emulated")
    assert not result.unsettled and result.exit_code == 0


@pytest.mark.qemu
def test_a_run_within_tolerance_does_not_clear_an_unstable_kernel_bug(arm82, tmp_path):
    """The same centre grid on MNN's Arm82 kernels: Low measures within tolerance (which align_corners the kernel
    reads cannot matter at the centre), but the GridSample bug changes from run to run with the heap layout and a
    deployed grid is not all zeros: that run clears nothing.  Low stays rejected, the why and the verdict say so,
    and verify exits 1.  (One CI run read the model's align_corners and measured fp16 alone: 0.024, not 0.060.)"""
    result = verify(SEED, ["ios-cpu:low"], inputs=_centre_grid(tmp_path))
    (low_run,) = result.targets
    assert low_run.status == "measured" and not low_run.exceeded
    assert result.findings[0].measured["ios-cpu:low"]["verdict"] == "refuted"  # what the run saw, reported as is
    rec = result.recommendation["ios-cpu"]
    assert rec["mode"] == "normal" and rec["basis"] == "estimated"
    assert "arm82-gridsample-align-corners changes from run to run" in rec["why"]
    low = result.lint.recommendation.platforms[0].mode_named("low")
    assert low.status == "rejected" and [v.finding.rule_id for v in low.blocking] == ["C001"]
    assert result.unsettled == {"ios-cpu:low": ["arm82-gridsample-align-corners"]} and result.exit_code == 1
    proc = run_cli("verify", SEED, "--target", "ios-cpu:low", "--inputs", str(tmp_path / "centre.npz"))
    assert proc.returncode == 1, proc.stderr
    assert "not cleared: known MNN bug arm82-gridsample-align-corners" in proc.stdout
    assert "verdict: within tolerance on this run, not cleared" in proc.stdout


def test_a_mode_at_most_as_exact_as_one_over_tolerance_is_never_recommended(tmp_path):
    """OpenCL Normal (fp16 storage) emulated over tolerance on noise: without findings (--no-lint) Low looked safe and
    was recommended, although it stores in fp16 too and computes in fp16 besides.  It is rejected with the run."""
    rng = np.random.default_rng(0)
    noise = tmp_path / "noise.npz"
    np.savez(
        noise,
        image=rng.random((1, 3, 1024, 1024), dtype=np.float32),
        grid=rng.uniform(-1, 1, (1, 256, 256, 2)).astype(np.float32),
    )
    result = verify(SEED, ["android-opencl:normal"], inputs=str(noise), lint=False)
    (run,) = result.targets
    assert run.status == "emulated" and run.exceeded
    rec = result.recommendation["android-opencl"]
    assert (rec["mode"], rec["basis"]) == ("high", "emulated") and "Precision_Low rejected" in rec["why"]
    choice = recommend_platform({}, load_platforms()["android-opencl"], runs={run.target: measured_runs([run])[0]})
    low = choice.mode_named("low")
    assert low.status == "rejected" and not low.blocking and low.run is None
    assert "Precision_Normal" in low.inferred and low.to_dict()["inferred"] == low.inferred
    proc = run_cli("verify", SEED, "--target", "android-opencl:normal", "--no-lint", "--inputs", str(noise))
    assert proc.returncode == 1 and "android-opencl: Precision_High" in proc.stdout


def test_at_most_as_exact_follows_the_formats_of_the_table():
    from precision_lint.deploy.recommend import at_most_as_exact

    table = load_platforms()
    opencl, cuda, cpu = table["android-opencl"].modes, table["cuda"].modes, table["ios-cpu"].modes
    assert at_most_as_exact(opencl["low"], opencl["normal"]) and at_most_as_exact(opencl["normal"], opencl["high"])
    assert not at_most_as_exact(opencl["normal"], opencl["low"])  # Normal computes in fp32
    assert not at_most_as_exact(opencl["high"], opencl["normal"])  # Normal stores in fp16
    # bf16 keeps 8 mantissa bits to fp16's 11: what a run over tolerance in fp16 measured, bf16 rounds more coarsely
    assert at_most_as_exact(cuda["low_bf16"], cuda["low"]) and not at_most_as_exact(cuda["low"], cuda["low_bf16"])
    assert at_most_as_exact(cpu["low"], cpu["high"]) and not at_most_as_exact(cpu["high"], cpu["low"])
    metal = table["ios-metal"].modes  # Normal and Low compute the same there
    assert at_most_as_exact(metal["low"], metal["normal"]) and at_most_as_exact(metal["normal"], metal["low"])


def test_at_most_as_exact_compares_what_each_op_really_gets():
    """Exceptions of both modes on the same op: Softmax in fp32 at Low and in fp16 at Normal makes Low more exact
    there, whatever the modes' own formats say."""
    from precision_lint.deploy.platform_model import OpException, OpMatch
    from precision_lint.deploy.recommend import at_most_as_exact

    modes = load_platforms()["android-opencl"].modes
    softmax = OpMatch(ops=frozenset({"Softmax"}))
    low = dataclasses.replace(
        modes["low"], op_exceptions=(OpException(softmax, "in fp32", storage="fp32", arithmetic="fp32"),)
    )
    normal = dataclasses.replace(
        modes["normal"], op_exceptions=(OpException(softmax, "in half", arithmetic="fp16", accumulation="fp16"),)
    )
    assert at_most_as_exact(modes["low"], modes["normal"]) and not at_most_as_exact(low, normal)


def test_a_run_over_tolerance_in_fp16_rejects_bf16_too(tmp_path):
    """CUDA Normal (fp16 matmul inputs) emulated over tolerance on a cancellation no rule flags: Low (fp16) and
    Low_BF16 (bf16, coarser still) are rejected with it, and High is recommended (Low_BF16 was, and fails when run)."""
    path = tmp_path / "cancel.onnx"
    path.write_bytes(
        parser.parse_model("""
        <ir_version: 8, opset_import: ["" : 17]>
        g (float[64,2] x) => (float[64,1] y) <float[2,1] w = {1.0, -1.0}, float[1] big = {1000.0}> {
          t = Add (x, big)
          y = MatMul (t, w)
        }""").SerializeToString()
    )
    result = verify(str(path), ["cuda:normal"])
    (run,) = result.targets
    assert run.status == "emulated" and run.exceeded
    rec = result.recommendation["cuda"]
    assert rec["mode"] == "high" and "Precision_Low_BF16 rejected" in rec["why"]
    # the reviews say why the declared target is unsafe: the run, not "reaches none" (no finding reaches anything)
    for fmt in ("markdown", "html"):
        out = tmp_path / f"review.{fmt}"
        proc = run_cli("verify", str(path), "--target", "cuda:normal", "--format", fmt, "-o", str(out))
        text = out.read_text(encoding="utf-8")
        assert proc.returncode == 1 and "reaches none" not in text
        assert "Normal emulated over tolerance" in text.replace("\\_", "_")


def test_every_config_key_is_an_option():
    """Options defines each option once: a config key is an Options field (extend_select adds to `select`)."""
    from precision_lint.resources import data_path

    schema = json.loads(data_path("config.schema.json").read_text(encoding="utf-8"))
    fields = {f.name for f in dataclasses.fields(Options)}
    assert set(schema["properties"]) - fields == {"extend_select"}


def test_findings_judged_the_same_share_verdicts_that_equal_their_own_judgement(tmp_path):
    """Verdicts are shared by findings whose judgement signature is equal (the benchmark transformer's 123 findings
    have 3): on real architectures, with the bugs of an MNN version that has some, every shared verdict is the
    verdict judge() gives that finding alone, on every platform and mode."""
    from precision_lint.engine.decide import Verdicts, judge

    root = Path(__file__).resolve().parent.parent / "sample_models"
    depths = tmp_path / "depths.onnx"  # one rule, one op, three estimates: their verdicts differ by platform
    depths.write_bytes(
        parser.parse_model("""<ir_version: 8, opset_import: ["" : 17]>
        g (float[8,4096] a, float[4096,8] b, float[8,65536] c, float[65536,8] d, float[8,1048576] e,
           float[1048576,8] f) => (float[8,8] x, float[8,8] y, float[8,8] z) {
            [k4k] x = MatMul (a, b)
            [k64k] y = MatMul (c, d)
            [k1m] z = MatMul (e, f)
        }""").SerializeToString()
    )
    compared = shared = 0
    paths = [root / "architectures" / n for n in ("bert_tiny.onnx", "llama_block.onnx", "flow_warp.onnx")]
    # judged for bf16, the three MatMuls' findings have one level (none) and differ in their fp16 estimates only
    for path, judged in [(p, ("fp16",)) for p in paths] + [(depths, ("fp16",)), (depths, ("bf16",))]:
        linter = Linter(Options(mnn_version="2.9.0", judged_formats=judged))
        d = linter.deployment
        assert d.bugs
        findings = linter.lint_file(str(path)).findings
        name = path.name
        verdicts = Verdicts(d.bugs)
        for p in d.platforms:
            for mode, m in p.modes.items():
                if not m.supported:
                    continue
                for f in findings:
                    v = verdicts.get(f, p, mode)
                    assert v == judge(f, p, mode, bugs=d.bugs), (name, p.id, mode, f.rule_id, f.node)
                    compared += 1
        shared += len(verdicts._verdicts) - len(verdicts._by_signature)
    assert compared > 500 and shared > 0


GRIDSAMPLE_32 = """<ir_version: 8, opset_import: ["" : 16]>
    g (float[1,3,32,32] x, float[1,16,16,2] grid) => (float[1,3,16,16] y) {
      [gs] y = GridSample (x, grid)
    }"""


def _save_text(tmp_path, name, text) -> str:
    import onnx

    path = str(tmp_path / name)
    onnx.save(parser.parse_model(text), path)
    return path


def test_a_known_bug_on_several_declared_targets_is_one_note_naming_them(tmp_path):
    """On ios-cpu:low and android-cpu-armv82:low the Arm82 GridSample bug applies twice: --explain printed the same
    long note twice (once per target) where the advisory run prints it once, naming every place it applies."""
    path = _save_text(tmp_path, "gs32.onnx", GRIDSAMPLE_32)
    targets = ("ios-cpu:low", "android-cpu-armv82:low")
    (f,) = Linter(Options(targets=targets)).lint_file(path).reported
    bug_notes = [n for n in f.notes if "arm82-gridsample-align-corners" in n]
    assert len(bug_notes) == 1 and "on ios-cpu:low, android-cpu-armv82:low (MNN" in bug_notes[0], f.notes
    proc = run_cli("check", path, "--snippets", "none", "--explain", *(a for t in targets for a in ("--target", t)))
    assert proc.stdout.count("note: known MNN bug arm82-gridsample-align-corners") == 1, proc.stdout
    (advisory,) = Linter(Options()).lint_file(path).reported
    assert len([n for n in advisory.notes if "arm82-gridsample-align-corners" in n]) == 1


def test_review_reports_say_a_run_within_tolerance_did_not_clear_an_unstable_bug(tmp_path):
    """An emulated ios-cpu:low run of a 32x32 GridSample stays within tolerance and verify exits 1 (the Arm82 bug
    changes from run to run).  The text report said 'not cleared'; Markdown listed the run as plain 'within
    tolerance' and HTML drew it as a green 'safe' badge."""
    path = _save_text(tmp_path, "gs32.onnx", GRIDSAMPLE_32)
    for fmt, marker in (
        ("markdown", "emulated, within tolerance, not cleared (known MNN bug arm82-gridsample-align-corners"),
        ("html", '<span class="verdict unsafe">emulated (not measured): within tolerance, not cleared</span>'),
    ):
        proc = run_cli("verify", path, "--target", "ios-cpu:low", "--emulate", "--format", fmt, "--isolated")
        assert proc.returncode == 1, proc.stderr
        assert marker in proc.stdout, fmt
        assert 'class="verdict safe">emulated' not in proc.stdout


@pytest.mark.qemu
def test_a_suppressed_finding_is_not_reported_again_as_an_error_no_rule_flagged(arm82, tmp_path):
    """MNN's Arm82 kernels measure a 32x32 GridSample off at ios-cpu:low (0.0825 rel-L2 here: the align_corners
    bug), and the project suppresses C001 on it.  verify then reported the error as V001 'no static rule flagged
    it', which C001 had; now the suppressed finding covers its node, and Low stays rejected.  (In a run whose kernel
    reads the model's align_corners, Low is within tolerance: the accepted finding then fails nothing, exit 0.)"""
    _save_text(tmp_path, "gs32.onnx", GRIDSAMPLE_32)
    (tmp_path / ".precision-lint.yaml").write_text(
        "targets: ['ios-cpu:low']\nsuppressions:\n  - {rule: C001, path: gs32.onnx, reason: accepted}\n",
        encoding="utf-8",
    )
    proc = run_cli("verify", "gs32.onnx", "--format", "json", cwd=tmp_path)
    report = json.loads(proc.stdout)
    (low,) = report["targets"]
    assert low["status"] == "measured" and proc.returncode == (1 if low["exceeded"] else 0), proc.stdout
    assert report["findings"] == [] and report["new_findings"] == [] and "unsettled" not in report, report
    assert report["recommendation"]["ios-cpu"]["mode"] == "normal"
