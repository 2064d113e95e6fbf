"""Output formats: SARIF against the official schema, fingerprints, GitHub annotations and escaping, JUnit,
Markdown checklist, --output, colour, and byte-identical JSON and SARIF across runs."""

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from precision_lint.reporters import REPORTERS, get_reporter
from precision_lint.reporters.github import command, escape_data, escape_property

from cli_runner import run_cli

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_models"
GRIDSAMPLE = SAMPLES / "gridsample_large.onnx"
CLEAN = SAMPLES / "clean.onnx"
SARIF_SCHEMA = Path(__file__).resolve().parent / "data" / "sarif-schema-2.1.0.json"

# Two GridSamples in one model: two findings that must get different fingerprints.
TWO_WARPS = """
<ir_version: 8, opset_import: ["" : 16]>
g (float[1,3,1024,1024] x, float[1,256,256,2] grid) => (float[1,3,256,256] a, float[1,3,256,256] b) {
    [warp_left] a = GridSample <align_corners=0> (x, grid)
    [warp_right] b = GridSample <align_corners=1> (x, grid)
}
"""


def run(*args, cwd=ROOT, env=None):
    proc = run_cli(*args, cwd=cwd, env=env)
    return proc.returncode, proc.stdout, proc.stderr


def run_process(*args, cwd=ROOT, env=None):
    """A real process: colour depends on its terminal and environment."""
    proc = subprocess.run(
        [sys.executable, "-m", "precision_lint", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        env=env,
    )
    return proc.returncode, proc.stdout, proc.stderr


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    """A git work tree with models in a subdirectory: report paths must be relative to its root."""
    import onnx
    import onnx.parser

    root = tmp_path_factory.mktemp("repo")
    (root / ".git").mkdir()  # what repository_root() looks for
    models = root / "models"
    models.mkdir()
    shutil.copy(GRIDSAMPLE, models / "warp.onnx")
    shutil.copy(CLEAN, models / "clean.onnx")
    onnx.save(onnx.parser.parse_model(TWO_WARPS), str(models / "two_warps.onnx"))
    (models / "broken.onnx").write_bytes(GRIDSAMPLE.read_bytes()[:100])
    return root


def test_all_formats_are_registered():
    assert set(REPORTERS) >= {"text", "json", "sarif", "github", "junit", "markdown"}
    with pytest.raises(ValueError, match="unknown format 'xml'"):
        get_reporter("xml")


# ------------------------------------------------------------------------------------------------------------ SARIF
def test_sarif_validates_against_the_official_schema_and_has_what_github_needs(repo):
    import jsonschema

    code, out, err = run("--isolated", "--format", "sarif", "models", cwd=repo)
    assert code == 2, err  # broken.onnx is unreadable
    doc = json.loads(out)
    schema = json.loads(SARIF_SCHEMA.read_text())
    jsonschema.Draft4Validator.check_schema(schema)
    errors = sorted(jsonschema.Draft4Validator(schema).iter_errors(doc), key=str)
    assert not errors, errors[0]
    run_ = doc["runs"][0]
    assert doc["version"] == "2.1.0"
    results = run_["results"]
    assert {r["ruleId"] for r in results} == {"C001"} and len(results) == 3
    for r in results:
        loc = r["locations"][0]
        uri = loc["physicalLocation"]["artifactLocation"]["uri"]
        assert uri.startswith("models/") and not os.path.isabs(uri)  # relative to the repository root
        assert loc["physicalLocation"]["region"]["startLine"] == 1
        node = loc["logicalLocations"][0]["name"]
        assert f"node '{node}'" in r["message"]["text"]
        assert r["partialFingerprints"]["precisionLint/v1"]
        assert r["level"] == "error"
    # unreadable model: a notification, and the run did not succeed
    inv = run_["invocations"][0]
    assert inv["executionSuccessful"] is False
    assert any("broken.onnx" in n["message"]["text"] for n in inv["toolExecutionNotifications"])
    # rules from the YAML, with the help text of `precision-lint rule ID`
    rules = {r["id"]: r for r in run_["tool"]["driver"]["rules"]}
    c001 = rules["C001"]
    assert c001["name"] == "gridsample-coordinates"
    assert c001["shortDescription"]["text"].startswith("GridSample sampling positions")
    assert c001["fullDescription"]["text"] and c001["help"]["text"].startswith("C001 gridsample-coordinates")
    assert "Why it matters" in c001["help"]["text"] and "Defined in" not in c001["help"]["text"]
    assert c001["defaultConfiguration"]["level"] == "error"
    for r in results:
        assert run_["tool"]["driver"]["rules"][r["ruleIndex"]]["id"] == r["ruleId"]


def test_two_findings_in_one_model_get_different_fingerprints(repo):
    _, out, _ = run("--isolated", "--format", "sarif", "models/two_warps.onnx", cwd=repo)
    results = json.loads(out)["runs"][0]["results"]
    assert sorted(r["locations"][0]["logicalLocations"][0]["name"] for r in results) == ["warp_left", "warp_right"]
    prints = [r["partialFingerprints"] for r in results]
    assert prints[0]["precisionLint/v1"] != prints[1]["precisionLint/v1"]
    assert prints[0]["primaryLocationLineHash"] != prints[1]["primaryLocationLineHash"]
    # and JSON's own fingerprints differ too
    _, out, _ = run("--isolated", "--format", "json", "models/two_warps.onnx", cwd=repo)
    fps = [f["fingerprint"] for f in json.loads(out)["files"][0]["findings"]]
    assert len(set(fps)) == 2


def test_sarif_fingerprint_does_not_depend_on_the_working_directory(repo):
    _, top, _ = run("--isolated", "--format", "sarif", "models/warp.onnx", cwd=repo)
    _, sub, _ = run("--isolated", "--format", "sarif", "warp.onnx", cwd=repo / "models")
    a, b = (json.loads(x)["runs"][0]["results"][0] for x in (top, sub))
    assert a["partialFingerprints"] == b["partialFingerprints"]
    assert a["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "models/warp.onnx"
    assert b["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "models/warp.onnx"


def test_json_fingerprint_does_not_depend_on_how_the_path_is_spelled(repo):
    prints = set()
    for spelling in ("models/warp.onnx", "./models/warp.onnx", "models//warp.onnx", "models/../models/warp.onnx"):
        code, out, err = run("--isolated", "--format", "json", spelling, cwd=repo)
        assert code == 1, err
        (finding,) = json.loads(out)["files"][0]["findings"]
        prints.add(finding["fingerprint"])
    assert len(prints) == 1, prints


@pytest.mark.parametrize("fmt", ["json", "sarif", "junit", "markdown", "github"])
def test_machine_formats_are_byte_identical_across_runs(repo, fmt):
    outs = [run("--isolated", "--format", fmt, "models", cwd=repo)[1] for _ in range(2)]
    assert outs[0] == outs[1] and outs[0]


def test_json_and_sarif_are_identical_whether_linted_in_parallel_or_not(repo):
    for fmt in ("json", "sarif"):
        one = run("--isolated", "--format", fmt, "--jobs", "1", "models", cwd=repo)[1]
        two = run("--isolated", "--format", fmt, "--jobs", "2", "models", cwd=repo)[1]
        assert one == two


# ----------------------------------------------------------------------------------------------------------- GitHub
def test_github_escaping_rules():
    assert escape_data("100% done\r\nnext") == "100%25 done%0D%0Anext"
    assert escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"
    assert (
        command("error", "x: y, z", file="m/a,b.onnx", title="C001 t: x")
        == "::error file=m/a%2Cb.onnx,title=C001 t%3A x::x: y, z"
    )


def test_github_annotations(repo):
    code, out, _ = run("--isolated", "--format", "github", "models/warp.onnx", "models/clean.onnx", cwd=repo)
    assert code == 1
    lines = out.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("::error file=models/warp.onnx,line=1,title=C001 gridsample-coordinates (warp_sample)::")
    assert "%0AFix: Keep GridSample" in lines[0] and "\n" not in lines[0]


# ------------------------------------------------------------------------------------------------------------ JUnit
def test_junit_is_well_formed_and_agrees_with_the_exit_code(repo):
    code, out, _ = run("--isolated", "--format", "junit", "models", cwd=repo)
    assert code == 2
    suites = ET.fromstring(out)
    assert suites.tag == "testsuites"
    by_name = {s.get("name"): s for s in suites}
    assert by_name["models/warp.onnx"].get("failures") == "1"
    assert by_name["models/two_warps.onnx"].get("failures") == "2"
    assert by_name["models/clean.onnx"].get("failures") == "0" and len(by_name["models/clean.onnx"]) == 1
    assert by_name["models/broken.onnx"].get("errors") == "1"
    assert suites.get("failures") == "3" and suites.get("errors") == "1"
    case = by_name["models/warp.onnx"][0]
    assert case.get("classname") == "models/warp.onnx" and "warp_sample" in case.get("name")
    assert "fix: Keep GridSample" in case.find("failure").text


# --------------------------------------------------------------------------------------------------------- Markdown
def _render(text: str):
    """Render the checklist as GitHub would (CommonMark, tables, task lists) and return the HTML."""
    from markdown_it import MarkdownIt
    from mdit_py_plugins.tasklists import tasklists_plugin

    return MarkdownIt("commonmark").enable("table").use(tasklists_plugin).render(text)


def test_markdown_checklist_for_the_gridsample_sample():
    code, out, err = run("--isolated", "--format", "markdown", GRIDSAMPLE.relative_to(ROOT))
    assert code == 1, err
    assert out.startswith("# Precision review: `gridsample_large.onnx`\n")
    for heading in (
        "## Findings",
        "## MNN precision per platform",
        "### iOS CPU",
        "### Android OpenCL GPU",
        "## Before release: cross-platform consistency checks",
        "## MNN version notes",
    ):
        assert "\n" + heading in out, heading
    finding = next(line for line in out.splitlines() if line.startswith("- [ ] **C001"))
    assert "`warp_sample`" in finding and "**error**" in finding
    assert (
        "Estimate: fp16 0.375 px (error) · bf16 3.49 px (error) · fp16 storage only 0.125 px (warning) · "
        "bf16 storage only 1 px (error) — tolerance 0.25 px"
    ) in out
    assert "  - Fix: Keep GridSample" in out
    # the per-platform recommendation: iOS CPU at Normal, not Low; OpenCL at Normal (fp32 arithmetic), with the
    # 0.125 px of the fp16-stored grid still listed
    ios = out.split("### iOS CPU")[1].split("\n### ")[0]
    assert "- [ ] Deploy with `Precision_Normal`" in ios and "- [ ] Not `Precision_Low`" in ios
    opencl = out.split("### Android OpenCL GPU")[1].split("\n### ")[0]
    assert "- [ ] Deploy with `Precision_Normal`" in opencl
    assert (
        "- [ ] Still reported at `Precision_Normal`: C001 `warp_sample` (GridSample): fp16 storage → warning, "
        "0.125 px" in opencl
    )
    # release checks for the coordinate class, and the known issues with links
    assert "Sampling positions (GridSample" in out and "(here: `warp_sample`)" in out
    assert "[alibaba/MNN#3253](https://github.com/alibaba/MNN/issues/3253)" in out
    html = _render(out)
    assert html.count('class="task-list-item') >= 20 and "<table>" in html
    assert "<h1>Precision review: <code>gridsample_large.onnx</code></h1>" in html


def test_markdown_for_an_mnn_model_names_the_converter_version():
    code, out, _ = run(
        "--isolated",
        "--format",
        "markdown",
        "--platform",
        "ios-cpu",
        (SAMPLES / "gridsample_large.mnn").relative_to(ROOT),
    )
    assert "Converted by MNN **3.6.1** (from the file)" in out
    assert "### iOS CPU" in out and "### Android OpenCL" not in out  # one section per requested platform


def test_markdown_without_a_recommendation_falls_back_to_an_fp16_checklist():
    from precision_lint.api import Linter, Options
    from precision_lint.reporters.base import RunSummary
    import io

    linter = Linter(Options(recommend=False))
    result = linter.lint_file(str(GRIDSAMPLE))
    assert result.recommendation is None and "recommendation" not in result.extras
    stream = io.StringIO()
    reporter = get_reporter("markdown")(stream, {"rules": linter.rules, "root": str(ROOT)})
    reporter.file(result)
    summary = RunSummary()
    summary.add(result)
    reporter.stop(summary)
    text = stream.getvalue()
    assert "## Precision (judged for fp16)" in text and "Precision_High for this model" in text
    assert "## MNN precision per platform" not in text


def test_markdown_clean_model_and_several_models(repo):
    _, out, _ = run("--isolated", "--format", "markdown", "models/clean.onnx", "models/warp.onnx", cwd=repo)
    assert out.startswith("# Precision review\n")
    assert "- [models/clean.onnx](#precision-review-cleanonnx) — no findings" in out
    assert "## Precision review: `clean.onnx`" in out and "## Precision review: `warp.onnx`" in out
    clean = out.split("## Precision review: `clean.onnx`")[1].split("## Precision review: `warp.onnx`")[0]
    assert "No operator in this model" in clean


# ----------------------------------------------------------------------------------------------- --output and colour
def test_output_file_gets_the_report_and_the_terminal_the_text(repo, tmp_path):
    report = tmp_path / "out.sarif"
    code, out, _ = run_process("--isolated", "--format", "sarif", "-o", report, "models/warp.onnx", cwd=repo)
    assert code == 1
    assert json.loads(report.read_text())["version"] == "2.1.0"
    assert "models/warp.onnx: C001 [error]" in out and "1 file, 1 error" in out
    assert "\x1b[" not in out  # not a terminal: no colour


def test_colour_follows_color_no_color_and_force_color(repo):
    env = dict(os.environ)
    env.pop("NO_COLOR", None)
    env.pop("FORCE_COLOR", None)
    _, out, _ = run_process("--isolated", "models/warp.onnx", cwd=repo, env=env)
    assert "\x1b[" not in out
    _, out, _ = run_process("--isolated", "--color", "always", "models/warp.onnx", cwd=repo, env=env)
    assert "\x1b[31merror\x1b[0m" in out
    _, out, _ = run_process("--isolated", "models/warp.onnx", cwd=repo, env=dict(env, FORCE_COLOR="1"))
    assert "\x1b[" in out
    _, out, _ = run_process("--isolated", "models/warp.onnx", cwd=repo, env=dict(env, FORCE_COLOR="1", NO_COLOR="1"))
    assert "\x1b[" not in out
    _, out, _ = run_process(
        "--isolated", "--color", "never", "models/warp.onnx", cwd=repo, env=dict(env, FORCE_COLOR="1")
    )
    assert "\x1b[" not in out
