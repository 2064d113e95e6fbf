"""The CLI end to end, as a user runs it: exit codes, one-line errors, deterministic JSON, rule help."""

import json
import os
import pathlib
import subprocess
import sys

from cli_runner import run_cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLES = os.path.join(ROOT, "sample_models")
GRIDSAMPLE = os.path.join(SAMPLES, "gridsample_large.onnx")
CLEAN = os.path.join(SAMPLES, "clean.onnx")


def run(*args, cwd=None):
    proc = run_cli(*args, cwd=cwd or ROOT)
    return proc.returncode, proc.stdout, proc.stderr


def run_process(*args, cwd=None):
    proc = subprocess.run(
        [sys.executable, "-m", "precision_lint", *args], capture_output=True, text=True, cwd=cwd or ROOT, timeout=120
    )
    return proc.returncode, proc.stdout, proc.stderr


def test_gridsample_sample_reports_pixel_error_and_exits_1():
    code, out, err = run_process(GRIDSAMPLE)  # the real process: its exit code, nothing on stderr
    assert code == 1, err
    line = next(l for l in out.splitlines() if "C001" in l)
    assert "warp_sample" in line and "[error]" in line
    assert "0.375 px in fp16" in line and "bf16" in line
    assert "judged for fp16" in out  # says which format levels were judged for
    assert err == ""


def test_clean_sample_exits_0():
    code, out, err = run(CLEAN)
    assert code == 0, out + err
    assert "0 errors" in out


def test_truncated_file_exits_2_with_one_line_and_other_files_still_linted(tmp_path):
    data = pathlib.Path(GRIDSAMPLE).read_bytes()
    bad = tmp_path / "truncated.onnx"
    bad.write_bytes(data[: len(data) // 2])
    code, out, err = run(str(bad), GRIDSAMPLE)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and str(bad) in lines[0], err
    assert "Traceback" not in err
    assert "C001" in out  # the good file was still linted


def test_json_is_deterministic_and_clean():
    code1, out1, _ = run("--format", "json", GRIDSAMPLE, CLEAN)
    code2, out2, _ = run("--format", "json", GRIDSAMPLE, CLEAN)
    assert code1 == code2 == 1
    assert out1 == out2
    doc = json.loads(out1)  # the whole of stdout is one JSON document, no stray lines
    f = doc["files"][0]["findings"][0]
    assert f["rule"] == "C001" and f["node"] == "warp_sample" and f["level"] == "error"
    assert f["estimates"]["fp16"]["unit"] == "px"
    assert 0.3 < f["estimates"]["fp16"]["value"] < 0.45
    assert doc["judged_for"] == ["fp16"]
    assert doc["files"][1]["findings"] == []


def test_fail_level_and_exit_zero(tmp_path):
    code, _, _ = run("--fail-level", "info", os.path.join(SAMPLES, "architectures", "unet_block.onnx"))
    assert code == 1
    code, _, _ = run("--exit-zero", GRIDSAMPLE)
    assert code == 0


def test_select_ignore_and_unknown_rule_id():
    code, out, _ = run("--ignore", "C001", GRIDSAMPLE)
    assert code == 0 and "C001" not in out.split("\n")[0]
    code, _, err = run("--select", "Z999", GRIDSAMPLE)
    assert code == 2 and "Z999" in err and "Traceback" not in err


def test_tolerance_flag_changes_level():
    code, out, _ = run("--tolerance", "gridsample_px=1.0", GRIDSAMPLE)
    assert code == 0 and "[warning]" in out
    code, _, err = run("--tolerance", "no_such_tol=1", GRIDSAMPLE)
    assert code == 2 and "no_such_tol" in err


def test_rule_and_rules_commands():
    code, out, _ = run("rule", "C001")
    assert code == 0 and "gridsample" in out.lower() and "Fix:" in out and "gridsample_px" in out
    code, out, _ = run("rules")
    assert code == 0 and "C001" in out and "R001" in out
    code, _, err = run("rule", "Q123")
    assert code == 2 and "unknown rule" in err


def test_invalid_rule_file_names_the_field(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "id: Z001\nname: bad-rule\nclass: range\nsummary: s\ndescription: d\nfix: f\n"
        "match: {op: 42}\nmessage: m\ntests: [{model: x, expect: []}]\n"
    )
    code, _, err = run("--rules", str(bad), GRIDSAMPLE)
    assert code == 2
    assert "bad.yaml" in err and "Z001" in err and "match.op" in err
    assert len(err.strip().splitlines()) == 1


def test_user_rule_directory_is_used(tmp_path):
    (tmp_path / "mine.yaml").write_text(
        "id: U001\nname: any-gridsample\nclass: coordinate\nsummary: every GridSample\n"
        "description: d\nfix: f\nmatch: {op: GridSample}\nmessage: 'found {node_name}'\n"
        "tests: [{model: x, expect: []}]\n"
    )
    code, out, _ = run("--rules", str(tmp_path), "--select", "U001", GRIDSAMPLE)
    assert "U001" in out and "found warp_sample" in out


def test_a_rule_directory_without_rule_files_is_an_error_not_a_silent_pass(tmp_path):
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "my-rule.txt").write_text("id: U001\n")  # not a rule file: only .yaml and .yml are
    rules = str(tmp_path / "rules")
    for command in ([GRIDSAMPLE, "--rules", rules], ["rules", "--rules", rules], ["rule", "C001", "--rules", rules]):
        code, out, err = run(*command)
        assert code == 2 and out == "", (command, out, err)
        assert err.strip() == f"error: {rules}: no rule file (.yaml or .yml) found there", (command, err)
    code, out, err = run("test-rules", rules)
    assert code == 2 and err.strip() == f"error: {rules}: no rule file (.yaml or .yml) found there", (out, err)


def test_version_and_help():
    code, out, _ = run("--version")
    assert code == 0 and "precision-lint" in out
    code, out, _ = run("--help")
    assert code == 0 and "MODEL" in out and "Exit codes" in out
