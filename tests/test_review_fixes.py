"""Defects a review of the merged features found where they meet; each test failed before its fix."""

import json
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLES = os.path.join(ROOT, "sample_models")
SEED = os.path.join(SAMPLES, "gridsample_large.onnx")


def run(*args, cwd=None, stdin=None, stdout=subprocess.PIPE):
    return subprocess.run(
        [sys.executable, "-m", "precision_lint", *args],
        cwd=cwd,
        input=stdin,
        stdout=stdout,
        stderr=subprocess.PIPE,
        timeout=300,
        env=dict(os.environ, PYTHONPATH=ROOT),
    )


@pytest.mark.parametrize(
    "args",
    [
        ["--format", "sarif", "-o", "seed.onnx", "seed.onnx"],
        ["--write-baseline", "./seed.onnx", "seed.onnx"],
        ["--format", "html", "-o", "seed.onnx", "."],
    ],
)
def test_outputs_never_overwrite_a_model_of_the_run(tmp_path, args):
    shutil.copy(SEED, tmp_path / "seed.onnx")
    before = (tmp_path / "seed.onnx").read_bytes()
    proc = run(*args, cwd=tmp_path)
    assert proc.returncode == 2 and b"names a model this run lints" in proc.stderr, proc.stderr
    assert (tmp_path / "seed.onnx").read_bytes() == before


def test_a_review_of_a_model_from_stdin_hashes_the_bytes_read(tmp_path):
    import hashlib

    with open(SEED, "rb") as fh:
        data = fh.read()
    proc = run("-", "--stdin-filename", "models/clean.onnx", "--format", "markdown", cwd=tmp_path, stdin=data)
    assert hashlib.sha256(data).hexdigest() in proc.stdout.decode()


@pytest.mark.parametrize("args", [["--tolerance", "gridsample_px=nan"], ["--tolerance", "C001.gridsample_px=-1"]])
def test_a_tolerance_that_is_not_a_finite_number_is_refused(args):
    proc = run(SEED, *args)
    assert proc.returncode == 2 and b"finite" in proc.stderr


def test_a_nan_tolerance_in_the_configuration_is_refused(tmp_path):
    (tmp_path / ".precision-lint.yaml").write_text("tolerances: {gridsample_px: .nan}\n")
    proc = run(SEED, cwd=tmp_path)
    assert proc.returncode == 2 and b".precision-lint.yaml" in proc.stderr and b"finite" in proc.stderr


def test_verify_refuses_a_nan_tolerance():
    proc = run("verify", SEED, "--tolerance", "nan")
    assert proc.returncode == 2 and b"NaN" in proc.stderr


def test_an_unquoted_mnn_version_is_refused_not_read_as_a_float(tmp_path):
    (tmp_path / ".precision-lint.yaml").write_text("mnn_version: 3.10\n")
    proc = run(SEED, "--target", "ios-cpu:low", cwd=tmp_path)
    assert proc.returncode == 2 and b"mnn_version" in proc.stderr and b"string" in proc.stderr


def test_gitlab_report_is_valid_json_for_names_that_are_not_utf8(tmp_path):
    d = os.path.join(os.fsencode(str(tmp_path)), b"m")
    os.mkdir(d)
    shutil.copy(os.fsencode(SEED), os.path.join(d, b"a\xff.onnx"))
    proc = run("--format", "gitlab", "m", cwd=tmp_path)
    issues = json.loads(proc.stdout.decode("utf-8"))
    assert issues and all(i["location"]["path"] for i in issues)


def test_a_full_standard_output_is_one_error_line():
    with open("/dev/full", "w") as full:
        proc = run(SEED, "--format", "json", stdout=full)
    err = proc.stderr.decode()
    assert proc.returncode == 2 and err.startswith("error: cannot write the report to standard output")
    assert "internal error" not in err and len(err.strip().splitlines()) == 1


def test_a_pyproject_that_only_mentions_the_table_in_a_comment_lints_nothing(tmp_path):
    shutil.copy(SEED, tmp_path / "seed.onnx")
    (tmp_path / "pyproject.toml").write_text("# [tool.precision-lint] would go here\n[project]\nname = 'x'\n")
    proc = run("--", "pyproject.toml", cwd=tmp_path)
    assert proc.returncode == 0 and b"seed.onnx" not in proc.stdout


def test_declared_targets_stay_in_the_table_beside_named_platforms():
    proc = run(SEED, "--target", "ios-cpu:low", "--platform", "android-opencl", "--snippets", "none")
    rows = [line.split()[0] for line in proc.stdout.decode().splitlines() if line.startswith("  ")]
    assert proc.returncode == 1 and "ios-cpu" in rows and "android-opencl" in rows


def test_model_load_error_is_part_of_the_public_api(tmp_path):
    import precision_lint

    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07\x12\x05hello")
    with pytest.raises(precision_lint.ModelLoadError):
        precision_lint.lint(str(bad))


def test_new_rule_refuses_a_built_in_id_and_test_rules_an_unknown_selector(tmp_path):
    made = run("new-rule", "C001", "my-gridsample", "-d", "mine", cwd=tmp_path)
    assert made.returncode == 2 and b"already built-in rule C001" in made.stderr
    run("new-rule", "Z009", "mine-only", "-d", "mine", cwd=tmp_path)
    sel = run("test-rules", "mine", "--select", "ZZZ", cwd=tmp_path)
    assert sel.returncode == 2 and b"unknown rule id" in sel.stderr


def test_a_user_rule_clashing_with_a_built_in_is_a_load_error_for_test_rules(tmp_path):
    run("new-rule", "Z008", "clash-probe", "-d", "mine", cwd=tmp_path)
    path = tmp_path / "mine" / "Z008-clash-probe.yaml"
    path.write_text(path.read_text().replace("id: Z008", "id: C001"))
    proc = run("test-rules", "mine", cwd=tmp_path)
    assert proc.returncode == 2 and b"already defined" in proc.stderr


def test_extend_select_is_a_configuration_key_too(tmp_path):
    (tmp_path / ".precision-lint.yaml").write_text("select: [R]\nextend_select: [C001]\n")
    proc = run(SEED, cwd=tmp_path)
    assert proc.returncode == 1 and b"C001" in proc.stdout


def test_verify_of_a_directory_says_it_is_one(tmp_path):
    proc = run("verify", str(tmp_path))
    assert proc.returncode == 2 and b"is a directory" in proc.stderr


def test_converter_notes_and_issue_reports_reach_json_as_markdown_shows_them():
    bert = os.path.join(SAMPLES, "architectures", "bert_tiny.onnx")
    doc = json.loads(run("--format", "json", bert).stdout)
    notes = doc["files"][0]["mnn_notes"]
    assert notes["issue_reports"] and all(
        r["url"].startswith("https://") for g in notes["issue_reports"] for r in g["reports"]
    )
    markdown = run("--format", "markdown", bert).stdout.decode()
    for group in notes["issue_reports"]:
        for report in group["reports"]:
            assert report["url"] in markdown  # one matching, rendered by both formats
    for c in notes["converter"]:
        assert f"Conversion ({', '.join(c['ops'])})" in markdown
