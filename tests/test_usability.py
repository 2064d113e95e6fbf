"""What a new user trips on (issue 11, items 16-21): the fix text, compact output, silent no-ops, messages,
conventions (statistics, GitLab Code Quality, stdin, --extend-select)."""

import json
import os
import pathlib
import re
import subprocess
import sys

import pytest

from precision_lint.engine.rules import load_rules, parse_rule
from precision_lint.errors import PrecisionLintError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLES = os.path.join(ROOT, "sample_models")
GRIDSAMPLE = os.path.join(SAMPLES, "gridsample_large.onnx")
CLEAN = os.path.join(SAMPLES, "clean.onnx")
UNFILLED = re.compile(r"\{[^{}]*\}")


def run(*args, cwd=None, stdin=None):
    proc = subprocess.run(
        [sys.executable, "-m", "precision_lint", *args],
        capture_output=True,
        cwd=cwd or ROOT,
        timeout=120,
        input=stdin,
        env=dict(os.environ, PYTHONPATH=ROOT),
    )
    return proc.returncode, proc.stdout.decode("utf-8"), proc.stderr.decode("utf-8")


# ------------------------------------------------------------------------------------------------ 19: messages


@pytest.mark.parametrize("rule", load_rules(), ids=lambda r: r.id)
def test_no_rule_template_leaves_a_placeholder_unformatted(rule):
    """Every brace group in a message, note or assumption is a placeholder the renderer fills ({-x:.3g} was printed
    as it stands); the rendered messages of every rule case are checked too (tests/rule_cases.py)."""
    from precision_lint.engine.rule_checks import _TEMPLATE

    texts = [rule.message] + [t.text for t in rule.notes] + [t.text for t in rule.assumptions]
    for text in texts:
        for group in UNFILLED.findall(text):
            assert _TEMPLATE.fullmatch(group), f"{rule.id}: {group} would be printed unformatted"


def test_a_rule_with_an_expression_in_a_placeholder_is_refused():
    doc = next(r for r in load_rules() if r.id == "R008").raw
    bad = dict(doc, message="a logit gap of {-floor_fp16:.3g}")
    with pytest.raises(PrecisionLintError, match=r"\{-floor_fp16:\.3g\} is not a placeholder"):
        parse_rule(bad, "bad.yaml")


def test_r008_message_states_the_logit_gap(tmp_path):
    import onnx
    from onnx import parser

    import precision_lint

    model = parser.parse_model("""<ir_version: 8, opset_import: ["" : 13]>
      g (float[1,1000] logits) => (float[1,1000] logp) {
        p = Softmax <axis=-1> (logits)
        [log_probs] logp = Log (p)
      }""")
    path = str(tmp_path / "logsm.onnx")
    onnx.save(model, path)
    (f,) = [f for f in precision_lint.lint(path).findings if f.rule_id == "R008"]
    assert "a logit gap of 16.6)" in f.message and "{" not in f.message


def test_sarif_help_uri_points_at_this_projects_rule_catalogue(monkeypatch):
    from precision_lint.reporters import explain

    from cli_runner import run_cli

    out = run_cli("--format", "sarif", GRIDSAMPLE).stdout
    rules = {r["id"]: r for r in json.loads(out)["runs"][0]["tool"]["driver"]["rules"]}
    assert all("helpUri" not in r for r in rules.values())  # no public home yet: no made-up link
    monkeypatch.setattr(explain, "RULE_DOCS_URL", "https://example.org/precision-lint/docs/rules.md")
    doc = json.loads(run_cli("--format", "sarif", GRIDSAMPLE).stdout)
    rules = {r["id"]: r for r in doc["runs"][0]["tool"]["driver"]["rules"]}
    for rid, r in rules.items():
        assert r["helpUri"].endswith(f"docs/rules.md#{rid.lower()}-{r['name']}"), r["helpUri"]
    # the references of A001 (another engine's pull request) stay in the help text
    assert "https://github.com/" in rules["A001"]["help"]["text"]
    anchors = pathlib.Path(ROOT, "docs", "rules.md").read_text(encoding="utf-8")
    assert f"### A001 {rules['A001']['name']}\n" in anchors


# ------------------------------------------------------------------------------------------ 16: the whole fix


def _fix_lines(out):
    lines, inside = [], False
    for line in out.splitlines():
        if line.startswith("    fix: "):
            inside = True
            lines.append(line)
        elif inside and line.startswith(" " * 9) and line.strip():
            lines.append(line)
        else:
            inside = False
    return lines


def test_explain_prints_the_whole_fix_wrapped():
    from precision_lint.reporters.text import FIX_WIDTH

    code, out, err = run(GRIDSAMPLE, "--explain")
    assert code == 1, err
    (c001,) = [r for r in load_rules() if r.id == "C001"]
    lines = _fix_lines(out)
    assert len(lines) > 1 and all(len(line) <= FIX_WIDTH for line in lines)
    assert " ".join(" ".join(lines).split())[len("fix: ") :] == " ".join(c001.fix.split())


@pytest.mark.parametrize("rule", load_rules(), ids=lambda r: r.id)
def test_a_fix_never_names_the_precision_mode(rule):
    """The mode to deploy differs per platform and is the recommendation's to name: a fix that says
    'Precision_High on GPU' contradicted a Precision_Normal recommendation for OpenCL printed right below it."""
    assert "Precision_" not in rule.fix


def test_quick_start_names_modes_only_in_the_recommendation():
    code, out, _ = run(GRIDSAMPLE, "--platform", "ios-cpu", "--platform", "android-opencl", "--explain")
    assert code == 1
    assert not [line for line in _fix_lines(out) if "Precision_" in line]
    assert re.search(r"^  ios-cpu +Precision_Normal ", out, re.M)


# ------------------------------------------------------------------------------------- 17: compact by default


def test_default_text_is_findings_then_one_short_table():
    code, out, err = run(GRIDSAMPLE)
    assert code == 1, err
    lines = out.splitlines()
    assert lines[0].startswith(f"{GRIDSAMPLE}: C001 [error] node 'warp_sample'")
    assert lines[1].startswith(f"{GRIDSAMPLE}: MNN precision per platform")
    rows = lines[2:-1]
    assert rows and all(line.startswith("  ") for line in rows)
    # one row per platform: name, precision, a reason of a few words
    for row in rows[:-1]:
        name, precision, reason = row.split(None, 2)
        assert precision.startswith("Precision_") and len(reason) < 120, row
    assert "ios-cpu" in out and "estimate:" not in out and "fix:" not in out
    assert lines[-1].startswith("1 file, 1 error")
    assert len(lines) <= 16


def test_clean_model_prints_one_line():
    code, out, err = run(CLEAN)
    assert code == 0 and err == ""
    (line,) = out.splitlines()
    assert line.startswith("All checks passed: 1 file, 0 errors")


def test_named_platforms_are_always_listed_even_for_a_clean_model():
    code, out, _ = run(CLEAN, "--platform", "ios-cpu,x86-cpu", "--snippets", "none")
    assert code == 0
    assert re.search(r"^  ios-cpu +Precision_Low +fastest mode", out, re.M)
    assert re.search(r"^  x86-cpu +Precision_Normal +every mode computes the same", out, re.M)


def test_explain_and_verbose_keep_the_detail():
    _, short, _ = run(SAMPLES)
    _, long, _ = run(SAMPLES, "--explain")
    _, verbose, _ = run(SAMPLES, "-v")
    assert len(short.splitlines()) * 3 < len(long.splitlines()) <= len(verbose.splitlines())
    assert "estimate: fp16 0.375 px" in long and "is unsafe: C001 node 'warp_sample' (GridSample, coordinate)" in long
    assert "estimate:" not in short


DOC_EXAMPLE = re.compile(r"^```\n\$ (precision-lint [^\n;|]*)\n((?:(?!```)[^\n]*\n)*?)```", re.M)


def _doc_examples():
    out = []
    for name in ("README.md", "docs/platforms.md", "docs/integrations.md"):
        text = pathlib.Path(ROOT, name).read_text(encoding="utf-8")
        out += [(name, m.group(1), m.group(2)) for m in DOC_EXAMPLE.finditer(text)]
    return out


@pytest.mark.parametrize("doc,command,shown", _doc_examples(), ids=lambda v: v if "/" not in str(v)[:3] else None)
def test_documented_output_is_what_the_command_prints(doc, command, shown):
    import shlex

    _, out, _ = run(*shlex.split(command)[1:])
    assert out == shown, f"{doc}: `{command}` prints something else now"


# ------------------------------------------------------------------------------------------- 18: silent no-ops


def test_no_arguments_is_a_usage_error_with_the_help_on_stderr():
    code, out, err = run()
    assert code == 2 and out == ""
    assert "Usage: precision-lint" in err and "Exit codes" in err


def test_a_directory_without_models_is_an_error_and_the_rest_is_still_linted(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no model here\n")
    code, out, err = run(str(tmp_path / "empty"))
    assert code == 2 and err.strip() == f"error: {tmp_path / 'empty'}: no .onnx or .mnn model file found there"
    code, out, err = run(str(tmp_path / "empty"), GRIDSAMPLE)
    assert code == 2 and "C001 [error]" in out and len(err.strip().splitlines()) == 1


def test_an_input_range_no_model_has_is_one_error_line_per_model(tmp_path):
    code, out, err = run(GRIDSAMPLE, "--input-range", "typo=0:1")
    assert code == 2
    (line,) = err.strip().splitlines()
    assert line.startswith(f"error: {GRIDSAMPLE}: --input-range typo: the model has no input or tensor named 'typo'")
    assert "'image'" in line and "'grid'" in line  # names the model's inputs
    # a name another linted model has: a warning for the model without it, the exit code stays the findings'
    code, out, err = run(GRIDSAMPLE, CLEAN, "--input-range", "grid=-1:1", "--fail-level", "error", "--exit-zero")
    assert code == 0
    assert err.strip().splitlines() == [
        f"warning: {CLEAN}: --input-range grid: the model has no input or tensor named 'grid' (its inputs: 'image')"
    ]


@pytest.mark.parametrize("problem", ["empty-directory", "unknown-range"])
def test_a_run_that_exits_2_never_says_all_checks_passed(tmp_path, problem):
    (tmp_path / "empty").mkdir()
    args = [str(tmp_path / "empty")] if problem == "empty-directory" else ["--input-range", "typo=0:1"]
    code, out, err = run(CLEAN, *args)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    (summary,) = out.strip().splitlines()
    assert summary.startswith("1 file, 0 errors, 0 warnings, 0 info"), summary  # the model itself is clean
    code, out, err = run(CLEAN, *args, "--format", "sarif")
    (invocation,) = json.loads(out)["runs"][0]["invocations"]
    assert code == 2 and invocation["executionSuccessful"] is False, invocation
    (note,) = invocation["toolExecutionNotifications"]
    assert note["level"] == "error" and err.strip() == "error: " + note["message"]["text"], (note, err)
    code, out, err = run(CLEAN)
    assert code == 0 and out.startswith("All checks passed: 1 file, 0 errors"), out


@pytest.mark.parametrize("command", [[], ["verify"]])
@pytest.mark.parametrize("bounds", ["nan:1", "0:nan", "nan:nan"])
def test_a_nan_input_range_is_a_usage_error_not_a_silenced_finding(tmp_path, command, bounds):
    # a NaN bound compares false with everything: the range would pass the LO <= HI check and silence findings
    code, out, err = run(*command, GRIDSAMPLE, "--input-range", f"image={bounds}")
    assert code == 2 and out == "" and "Traceback" not in err, err
    assert f"--input-range image: expected LO:HI with LO <= HI, got '{bounds}'" in err


@pytest.mark.parametrize(
    "flag, first, second",
    [("--input-range", "image=0:1", "image=0:255"), ("--tolerance", "gridsample_px=0.5", "gridsample_px=2")],
)
def test_one_name_given_two_values_is_a_usage_error(flag, first, second):
    """Two values for one name: the first would be dropped without a word (the same value twice is harmless)."""
    code, out, err = run(GRIDSAMPLE, flag, first, flag, second)
    name = first.split("=")[0]
    assert code == 2 and out == "" and f"{flag} {name}: given twice with different values" in err, err
    code, out, err = run(GRIDSAMPLE, flag, first, flag, first)
    assert code != 2, err


def test_a_per_path_ignore_glob_that_matches_nothing_is_reported(project):
    (project / ".precision-lint.yaml").write_text('per_path_ignores:\n  "legacy/**": [C]\n  "models/warp.onnx": [A]\n')
    code, out, err = run("models", cwd=str(project))
    assert code == 1
    (line,) = err.strip().splitlines()
    assert line.startswith("warning: .precision-lint.yaml") and "legacy/**" in line and "matches no model" in line


# ------------------------------------------------------------------------------------------ 21: conventions


def test_statistics_counts_findings_per_rule():
    code, out, _ = run(SAMPLES, "--statistics", "-q")
    stats = [line for line in out.splitlines() if re.match(r"^\s*\d+  [A-Z]\d{3}  [a-z0-9-]+$", line)]
    counts = {line.split()[1]: int(line.split()[0]) for line in stats}
    findings = [line.split(": ")[1].split()[0] for line in out.splitlines() if " [" in line and ": " in line]
    assert counts and counts == {rid: findings.count(rid) for rid in set(findings)}
    assert [int(line.split()[0]) for line in stats] == sorted(counts.values(), reverse=True)


def test_gitlab_code_quality_report(tmp_path):
    code, out, err = run(GRIDSAMPLE, CLEAN, "--format", "gitlab")
    assert code == 1
    issues = json.loads(out)
    (issue,) = issues
    assert issue["check_name"] == "C001" and issue["severity"] == "major"
    assert issue["location"] == {"path": "sample_models/gridsample_large.onnx", "lines": {"begin": 1}}
    assert "warp_sample" in issue["description"] and len(issue["fingerprint"]) == 32
    assert run(GRIDSAMPLE, CLEAN, "--format", "gitlab")[1] == out  # deterministic
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07garbage")
    issues = json.loads(run(str(bad), "--format", "gitlab")[1])
    assert issues[0]["check_name"] == "precision-lint/unreadable-model"


@pytest.mark.parametrize("sample,node", [("gridsample_large.onnx", "warp_sample"), ("gridsample_large.mnn", "warped")])
def test_a_model_on_stdin_is_sniffed_and_named(sample, node):
    data = pathlib.Path(SAMPLES, sample).read_bytes()
    code, out, err = run("-", "-q", stdin=data)
    assert code == 1, err
    assert out.startswith(f"-: C001 [error] node '{node}'")
    code, out, err = run("-", "--stdin-filename", "models/warp.model", "--format", "json", stdin=data)
    doc = json.loads(out)
    assert doc["files"][0]["path"] == "models/warp.model"
    assert doc["files"][0]["findings"][0]["path"] == "models/warp.model"
    code, out, err = run("-", stdin=b"")
    assert code == 2 and err.strip() == "error: -: empty file"


def test_per_path_settings_match_the_stdin_filename(project):
    (project / ".precision-lint.yaml").write_text('per_path_ignores:\n  "legacy/**": [C]\n')
    data = pathlib.Path(GRIDSAMPLE).read_bytes()
    code, out, _ = run("-", "--stdin-filename", "legacy/warp.onnx", cwd=str(project), stdin=data)
    assert code == 0 and "C001" not in out
    code, out, _ = run("-", "--stdin-filename", "models/warp.onnx", cwd=str(project), stdin=data)
    assert code == 1 and "models/warp.onnx: C001" in out


def test_extend_select_adds_to_the_selection():
    code, out, _ = run(GRIDSAMPLE, "--select", "R", "-q")
    assert code == 0 and out == ""
    code, out, _ = run(GRIDSAMPLE, "--select", "R", "--extend-select", "C001", "-q")
    assert code == 1 and "C001" in out
    code, _, err = run(GRIDSAMPLE, "--extend-select", "Z999")
    assert code == 2 and "Z999" in err


def test_a_configuration_file_as_model_lints_the_models_it_governs(project):
    (project / ".precision-lint.yaml").write_text("fail_level: error\n")
    code, out, err = run(".precision-lint.yaml", cwd=str(project))
    assert code == 1 and "models/warp.onnx: C001" in out and "2 files" in out
    (project / "pyproject.toml").write_text("[project]\nname = 'x'\n")  # no [tool.precision-lint]: nothing to lint
    code, out, err = run("pyproject.toml", cwd=str(project))
    assert code == 0 and "0 files" in out and err == ""
