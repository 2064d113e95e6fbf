"""Suppressions (with reasons, unused ones reported), baselines (keyed by rule, path and node name), many models
(directories, parallel runs in deterministic order, progress)."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import onnx
import onnx.parser
import pytest

from precision_lint.api import Linter, Options
from precision_lint.workflow.batch import Progress, lint_paths
from precision_lint.workflow.suppress import Suppression, path_matches, unused_suppressions

from cli_runner import run_cli

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_models"
GRIDSAMPLE = SAMPLES / "gridsample_large.onnx"
CLEAN = SAMPLES / "clean.onnx"

WARP = """
<ir_version: 8, opset_import: ["" : 16]>
g (float[1,3,1024,1024] x, float[1,256,256,2] grid) => (float[1,3,256,256] y) {
    [warp] y = GridSample (x, grid)
}
"""
# The same warp after a re-export that put other nodes first: node indices shift, names do not.
WARP_REEXPORTED = """
<ir_version: 8, opset_import: ["" : 16]>
g (float[1,3,1024,1024] x, float[1,256,256,2] g0) => (float[1,3,256,256] y) {
    [scale] g1 = Mul (g0, g0)
    [clip] grid = Clip (g1)
    [warp] y = GridSample (x, grid)
}
"""
TWO_WARPS = """
<ir_version: 8, opset_import: ["" : 16]>
g (float[1,3,1024,1024] x, float[1,256,256,2] grid) => (float[1,3,256,256] a, float[1,3,256,256] b) {
    [warp] a = GridSample (x, grid)
    [warp_new] b = GridSample (x, grid)
}
"""


def run(*args, cwd):
    proc = run_cli(*args, cwd=cwd)
    return proc.returncode, proc.stdout, proc.stderr


def run_process(*args, cwd):
    """A real process: what reaches a terminal depends on it."""
    proc = subprocess.run(
        [sys.executable, "-m", "precision_lint", *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=300
    )
    return proc.returncode, proc.stdout, proc.stderr


def findings(out: str):
    """The finding lines of the text report (the recommendation section below them names findings too)."""
    return [l for l in out.splitlines() if re.match(r"^\S+: [A-Z]\d{3} \[", l)]


def save(text: str, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(onnx.parser.parse_model(text), str(path))
    return path


# ------------------------------------------------------------------------------------------------------ path globs
@pytest.mark.parametrize(
    "pattern, path, hit",
    [
        ("*.onnx", "a/b/c.onnx", True),  # no slash: the file name in any directory
        ("models/*.onnx", "models/a.onnx", True),
        ("models/*.onnx", "models/sub/a.onnx", False),  # * stays in one segment
        ("models/**/*.onnx", "models/sub/deep/a.onnx", True),
        ("models/**/*.onnx", "models/a.onnx", True),
        ("models/", "models/sub/a.mnn", True),
        ("/a.onnx", "sub/a.onnx", False),
        ("./models/a.onnx", "models/a.onnx", True),
        ("m[0-9].onnx", "x/m3.onnx", True),
        ("m[!0-9].onnx", "m3.onnx", False),
    ],
)
def test_path_globs(pattern, path, hit):
    assert path_matches(pattern, path) is hit


@pytest.mark.parametrize(
    "pattern, path, hit",
    [
        ("**/x.onnx", "x.onnx", True),
        ("**/x.onnx", "a/b/x.onnx", True),
        ("a/**", "a/b/c", True),
        ("a/**b", "a/x/yb", True),  # ** without / crosses directories
        ("*", "a/b", True),  # unanchored: the file name
        ("a/*", "a/b/c", False),
        ("m?.onnx", "m/.onnx", False),  # ? stays in a segment
        ("m[]x].onnx", "m].onnx", True),
        ("m[!]x].onnx", "mz.onnx", True),
        ("m[.onnx", "m[.onnx", True),  # an unclosed [ is literal
        ("m[a-c-].onnx", "m-.onnx", True),
    ],
)
def test_path_glob_details(pattern, path, hit):
    assert path_matches(pattern, path) is hit


def test_node_globs_cross_slashes_and_match_whole_names():
    from precision_lint.workflow.globs import compile_name_glob

    assert compile_name_glob("encoder/*").match("encoder/layer.1/Softmax")
    assert not compile_name_glob("encoder").match("encoder/x")
    assert compile_name_glob("*Soft?ax").match("a/b/Softmax")


@pytest.mark.parametrize("kind", ["path", "node"])
def test_globs_match_in_linear_time(kind):
    """`*a` x14 + `b` against a long name backtracked exponentially (minutes).  The child process is given a
    generous time limit only so that the old code fails instead of hanging the suite."""
    code = (
        "from precision_lint.workflow.suppress import Suppression, path_matches\n"
        "p = '*a' * 14 + 'b'\n"
        "name = 'a' * 60 + '.onnx'\n"
        + (
            "print(path_matches(p, 'dir/' + name))\n"
            if kind == "path"
            else "print(Suppression('C', '*', 'r', node='*a' * 40 + 'b').matches('C001', 'x', name))\n"
        )
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=str(Path(__file__).resolve().parent.parent),
    )
    assert proc.stdout.strip() == "False", proc.stderr


# ---------------------------------------------------------------------------------------------------- suppressions
def test_suppression_hides_the_finding_with_its_reason(project):
    (project / ".precision-lint.yaml").write_text(
        "suppressions:\n  - {rule: C001, path: models/warp.onnx, node: 'warp_*', reason: grid computed in fp32}\n"
    )
    code, out, err = run("models", cwd=project)
    assert code == 0, out + err
    assert not findings(out) and "1 suppressed" in out and err == ""
    code, out, _ = run("--format", "json", "models", cwd=project)
    doc = json.loads(out)
    warp = next(f for f in doc["files"] if f["path"].endswith("warp.onnx"))
    assert warp["findings"] == []
    assert warp["suppressed"][0]["rule"] == "C001" and warp["suppressed"][0]["node"] == "warp_sample"
    assert warp["suppressed"][0]["reason"] == "grid computed in fp32"
    assert warp["suppressed"][0]["suppression"] == ".precision-lint.yaml: suppressions[0]"
    assert doc["summary"]["suppressed"] == 1 and doc["unused_suppressions"] == []


def test_suppressed_findings_still_count_for_the_recommendation(project):
    (project / ".precision-lint.yaml").write_text(
        "suppressions:\n  - {rule: C001, path: models/warp.onnx, reason: accepted}\n"
    )
    _, out, _ = run("--format", "json", "--platform", "ios-cpu", "models/warp.onnx", cwd=project)
    rec = json.loads(out)["files"][0]["recommendation"]
    # the model's numerics did not change: still not Precision_Low (which a clean model gets on iOS CPU)
    assert rec["platforms"][0]["precision"] == "Precision_Normal"


def test_unused_suppressions_are_reported_with_file_and_key(project):
    (project / ".precision-lint.yaml").write_text(
        "suppressions:\n"
        "  - {rule: C001, path: models/warp.onnx, node: other_node, reason: stale}\n"
        "  - {rule: C001, path: models/typo/*.onnx, reason: mistyped path}\n"
    )
    code, out, err = run("models", cwd=project)
    assert code == 1 and "models/warp.onnx: C001" in out  # the node glob did not match: still reported
    assert err.splitlines() == [
        "warning: .precision-lint.yaml: suppressions[0]: suppression (rule C001, path 'models/warp.onnx', "
        "node 'other_node') matched no finding",
        "warning: .precision-lint.yaml: suppressions[1]: suppression (rule C001, path 'models/typo/*.onnx', "
        "node '*') matched no finding",
    ]
    _, out, _ = run("--format", "json", "models", cwd=project)
    unused = json.loads(out)["unused_suppressions"]
    assert [u["origin"] for u in unused] == [
        ".precision-lint.yaml: suppressions[0]",
        ".precision-lint.yaml: suppressions[1]",
    ]
    assert unused[1] == {
        "rule": "C001",
        "path": "models/typo/*.onnx",
        "node": "*",
        "reason": "mistyped path",
        "origin": ".precision-lint.yaml: suppressions[1]",
    }
    _, out, _ = run("--format", "sarif", "models", cwd=project)
    notes = json.loads(out)["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert sum("matched no finding" in n["message"]["text"] for n in notes) == 2


def test_suppression_for_a_model_not_in_this_run_is_not_called_unused(project):
    """pre-commit lints only the changed files: suppressions for the others are not stale."""
    (project / ".precision-lint.yaml").write_text(
        "suppressions:\n  - {rule: C001, path: models/warp.onnx, reason: accepted}\n"
        "  - {rule: C001, path: models/gone.onnx, reason: the model was deleted}\n"
    )
    code, out, err = run("models/clean.onnx", cwd=project)
    assert code == 0
    assert "suppressions[0]" not in err  # warp.onnx exists, it just was not linted
    assert "suppressions[1]" in err  # no such model anywhere


def test_unused_suppressions_library():
    s = Suppression("C001", "models/*.onnx", "r", origin="x: suppressions[0]")
    assert unused_suppressions([s], {s}, ["models/a.onnx"], None) == []


# ------------------------------------------------------------------------------------------------------- baselines
def test_baseline_reports_only_new_findings(project):
    save(WARP, project / "models" / "net.onnx")
    code, out, err = run("--write-baseline", "baseline.json", "models", cwd=project)
    assert code == 0 and "wrote 2 findings to the baseline baseline.json" in err
    entries = json.loads((project / "baseline.json").read_text())["findings"]
    assert [(e["rule"], e["path"], e["node"]) for e in entries] == [
        ("C001", "models/net.onnx", "warp"),
        ("C001", "models/warp.onnx", "warp_sample"),
    ]
    assert all(set(e) == {"rule", "path", "scope", "node", "level", "message"} for e in entries)  # no indices
    code, out, _ = run("--baseline", "baseline.json", "models", cwd=project)
    assert code == 0 and not findings(out) and "2 in the baseline" in out
    # re-exported: the node moved from index 0 to 2, the name stayed: still known
    save(WARP_REEXPORTED, project / "models" / "net.onnx")
    code, out, _ = run("--baseline", "baseline.json", "models", cwd=project)
    assert code == 0 and not findings(out), out
    # a new GridSample is new
    save(TWO_WARPS, project / "models" / "net.onnx")
    code, out, _ = run("--baseline", "baseline.json", "models", cwd=project)
    assert code == 1
    assert [l.split(" (")[0] for l in findings(out)] == ["models/net.onnx: C001 [error] node 'warp_new'"]


def test_baseline_paths_are_relative_to_the_baseline_file(project):
    run("--write-baseline", "baseline.json", "models", cwd=project)
    code, out, _ = run("--baseline", "../baseline.json", ".", cwd=project / "models")
    assert code == 0 and not findings(out), out
    (project / ".precision-lint.yaml").write_text("baseline: baseline.json\n")
    code, out, _ = run("warp.onnx", cwd=project / "models")  # from config, relative to the config file
    assert code == 0 and "1 in the baseline" in out, out


def test_baseline_files_are_deterministic(project):
    run("--write-baseline", "a.json", "models", cwd=project)
    run("--write-baseline", "b.json", "models", cwd=project)
    assert (project / "a.json").read_bytes() == (project / "b.json").read_bytes()


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "baseline.json: baseline file not found (create it with --write-baseline baseline.json)"),
        ("{", "baseline.json: baseline is not valid JSON"),
        ('{"findings": []}', "baseline.json: baseline_version None is not supported"),
        ("[1]", "baseline.json: not a precision-lint baseline"),
        # wrong types used to become keys such as "None" or "['C001']": a foreign or damaged file passed as valid
        ('{"baseline_version": true, "findings": []}', "baseline.json: baseline_version True is not supported"),
        (
            '{"baseline_version": 1, "findings": [{"rule": "C001", "path": "models/warp.onnx", "node": null}]}',
            "baseline.json: findings[0]: needs 'rule', 'path' and 'node' as strings",
        ),
        (
            '{"baseline_version": 1, "findings": [{"rule": ["C001"], "path": "m.onnx", "node": "n", "scope": ""}]}',
            "baseline.json: findings[0]: needs 'rule', 'path' and 'node' as strings",
        ),
        (
            '{"baseline_version": 1, "findings": [{"rule": "C001", "path": "m.onnx", "node": "n", "scope": 3}]}',
            "baseline.json: findings[0]: needs 'rule', 'path' and 'node' as strings",
        ),
    ],
)
def test_bad_baseline_is_one_line(project, content, message):
    if content is not None:
        (project / "baseline.json").write_text(content)
    code, out, err = run("--baseline", "baseline.json", "models", cwd=project)
    assert code == 2 and err.startswith("error: " + message) and err.count("\n") == 1, err


@pytest.mark.parametrize("old", [None, '{"baseline_version": 0, "findings": []}', "{"])
def test_the_configured_baseline_can_be_written_when_missing_or_unreadable(project, old):
    # the error for a missing baseline says "create it with --write-baseline FILE": with `baseline:` in the
    # configuration that very command used to fail on the file it was asked to create
    (project / ".precision-lint.yaml").write_text("baseline: baseline.json\n")
    if old is not None:
        (project / "baseline.json").write_text(old)
    code, out, err = run("models", cwd=project)
    assert code == 2 and err.startswith("error: ") and "baseline.json" in err
    code, out, err = run("--write-baseline", "baseline.json", "models", cwd=project)
    assert code == 0 and "wrote 1 finding to the baseline baseline.json" in err, err
    code, out, err = run("models", cwd=project)
    assert code == 0 and not findings(out) and "1 in the baseline" in out, out + err


def test_another_baseline_in_force_must_still_be_readable_when_writing(project):
    code, _, err = run("--baseline", "typo.json", "--write-baseline", "baseline.json", "models", cwd=project)
    assert code == 2 and "typo.json: baseline file not found" in err
    assert not (project / "baseline.json").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["--baseline", "baseline.json", "-o", "baseline.json"],
        ["--write-baseline", "new.json", "-o", "./new.json"],
        ["-o", "baseline.json"],  # the baseline the configuration names
    ],
)
def test_the_report_is_not_written_over_a_baseline(project, args):
    # `-o` replaced the baseline file with the report (or the new baseline replaced the report), without a word
    run("--write-baseline", "baseline.json", "models", cwd=project)
    before = (project / "baseline.json").read_bytes()
    if "--baseline" not in args and "--write-baseline" not in args:
        (project / ".precision-lint.yaml").write_text("baseline: baseline.json\n")
    code, out, err = run("--format", "json", *args, "models", cwd=project)
    assert code == 2 and out == "" and err.count("\n") == 1 and "baseline" in err and "-o" in err, err
    assert (project / "baseline.json").read_bytes() == before
    assert not (project / "new.json").exists()


@pytest.mark.parametrize("problem", [["empty_dir"], ["--input-range", "imagee=0:1"]])
def test_write_baseline_exits_2_on_the_errors_a_plain_run_exits_2_on(project, problem):
    # an `error:` line (a directory with no model, an --input-range no model has) and yet exit 0 with
    # --write-baseline: a CI step that regenerates the baseline passed on a mistyped directory
    (project / "empty_dir").mkdir()
    code, _, err = run(*problem, "models", cwd=project)
    assert code == 2 and "error: " in err
    code, _, err = run("--write-baseline", "baseline.json", *problem, "models", cwd=project)
    assert code == 2 and "error: " in err, err
    assert "wrote 1 finding to the baseline baseline.json" in err  # the models that were read are recorded


# ----------------------------------------------------------------------------------------------------- many models
@pytest.fixture(scope="module")
def many(tmp_path_factory):
    d = tmp_path_factory.mktemp("many")
    paths = []
    for i in range(6):
        for src in (GRIDSAMPLE, CLEAN, SAMPLES / "long_reduction.onnx", SAMPLES / "gridsample_large.mnn"):
            p = d / f"m{i}" / src.name
            p.parent.mkdir(exist_ok=True)
            shutil.copy(src, p)
            paths.append(str(p))
    (d / "m0" / "broken.onnx").write_bytes(b"\x08\x07garbage")
    paths.append(str(d / "m0" / "broken.onnx"))
    return d, paths


def test_parallel_results_equal_sequential_ones_in_input_order(many):
    _, paths = many
    linter = Linter(Options())
    seq = list(lint_paths(linter, paths, jobs=1))
    par = list(lint_paths(linter, paths, jobs=2))
    auto = list(lint_paths(linter, paths, jobs=None))
    for results in (par, auto):
        assert [r.path for r in results] == paths
        assert [[f.to_dict() for f in r.reported] for r in results] == [[f.to_dict() for f in r.reported] for r in seq]
        assert [r.error for r in results] == [r.error for r in seq]
        assert [r.extras for r in results] == [r.extras for r in seq]
    assert seq[-1].error is not None


def test_directories_are_walked_and_the_run_ends_with_a_summary(many):
    d, paths = many
    code, out, err = run("--jobs", "2", ".", cwd=d)
    assert code == 2  # broken.onnx
    assert out.splitlines()[-1].startswith(f"{len(paths)} files, 1 unreadable, ")
    lines = [l.split(":")[0] for l in findings(out)]
    assert len(set(lines)) == 6 * 3 and lines == sorted(lines)  # the walk's sorted order, whoever linted them


def test_progress_shows_only_when_asked_or_on_a_terminal(many):
    d, _ = many
    _, _, err = run_process("--progress", "m0", "m1", cwd=d)
    assert "\x1b[K[9/9] m1/long_reduction.onnx" in err  # the last file always shows
    assert err.endswith("\x1b[K")  # and the line is cleared at the end
    _, _, err = run_process("m0", "m1", cwd=d)  # not a terminal
    assert "\x1b[K" not in err
    with open(__file__) as not_a_tty:
        assert Progress.wanted(None, 10, stream=not_a_tty) is False
    assert Progress.wanted(False, 10) is False and Progress.wanted(True, 1) is True


def test_progress_writes_to_the_stderr_of_the_moment_not_of_the_first_import(monkeypatch):
    """A host (or a test harness) that replaces sys.stderr after the first import: the old default argument kept the
    first stream, and a run after it was closed failed with "I/O operation on closed file"."""
    import io

    from precision_lint.workflow.batch import Progress

    later = io.StringIO()
    monkeypatch.setattr(sys, "stderr", later)
    p = Progress(3, min_interval=0.0)
    p.advance("a.onnx")
    assert p.stream is later and "a.onnx" in later.getvalue()
    assert Progress.wanted(None, 3) is False  # a StringIO is no terminal (read from the current stream)
