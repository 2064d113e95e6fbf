"""Whole runs that hostile or unusual input must not end early (issue 11): a reporter that cannot render one
model, file names that are not UTF-8 or look like options, directories nested deeper than Python's recursion
limit, malformed graphs.  Everything goes through the CLI, in a subprocess or in-process where a test needs to
inject a failing reporter."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from hostile import ROOT, SAMPLES

BERT = os.path.join(SAMPLES, "architectures", "bert_tiny.onnx")  # estimates of inf (a -3.4e38 mask constant)


def run(*args, cwd=None, **kw):
    env = dict(os.environ, PYTHONPATH=ROOT)
    env.pop("PRECISION_LINT_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "precision_lint", "--color", "never", *args],
        capture_output=True,
        cwd=cwd,
        env=env,
        timeout=300,
        **kw,
    )


# ----- item 2: markdown on infinite estimates; one model's rendering failure loses nothing else -------------------
def test_markdown_renders_infinite_estimates_to_a_file_and_in_a_directory_run(tmp_path):
    d = tmp_path / "models"
    d.mkdir()
    shutil.copy(BERT, d / "bert_tiny.onnx")
    shutil.copy(os.path.join(SAMPLES, "clean.onnx"), d / "clean.onnx")
    out = tmp_path / "review.md"
    proc = run("--format", "markdown", "-o", str(out), str(d), cwd=str(tmp_path))
    assert proc.returncode == 1, proc.stderr  # findings, nothing unreadable, no internal error
    assert proc.stderr == b""
    text = out.read_text(encoding="utf-8")
    assert "fp16 inf relative" in text
    assert "## Precision review: `bert_tiny.onnx`" in text and "## Precision review: `clean.onnx`" in text


def test_a_reporter_failure_on_one_model_keeps_every_other_models_report(tmp_path, monkeypatch, capsys):
    from precision_lint.cli import commands as cli
    from precision_lint import reporters

    monkeypatch.setitem(reporters.REPORTERS, "markdown", ("test_hostile_runs", "MarkdownFailingOnBad"))
    d = tmp_path / "models"
    d.mkdir()
    for name in ("a.onnx", "bad.onnx", "c.onnx"):
        shutil.copy(os.path.join(SAMPLES, "gridsample_large.onnx"), d / name)
    out = tmp_path / "review.md"
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as ex:
        cli.main(["--format", "markdown", "-o", str(out), str(d)])
    assert ex.value.code == 2
    err = capsys.readouterr().err.splitlines()
    bad = os.path.join(str(d), "bad.onnx")
    assert err == [
        f"error: {bad}: internal error while writing the markdownfailingonbad report (ValueError: "
        f"cannot render this one); the report leaves this model out; please report it"
    ]
    text = out.read_text(encoding="utf-8")
    assert "`a.onnx`" in text and "`c.onnx`" in text and "`bad.onnx`" not in text


from precision_lint.reporters.markdown import MarkdownReporter  # noqa: E402


class MarkdownFailingOnBad(MarkdownReporter):
    """The markdown reporter with a rendering bug on one model (the stand-in for any future bug)."""

    def stop(self, summary):
        if any(os.path.basename(r.path) == "bad.onnx" for r in self.results):
            raise ValueError("cannot render this one")
        super().stop(summary)


# ----- item 3: file names that are not UTF-8 ----------------------------------------------------------------------
@pytest.fixture
def non_utf8_dir(tmp_path):
    d = os.path.join(os.fsencode(str(tmp_path)), b"models")
    os.mkdir(d)
    shutil.copy(os.fsencode(os.path.join(SAMPLES, "gridsample_large.onnx")), os.path.join(d, b"a_\xff.onnx"))
    shutil.copy(os.fsencode(os.path.join(SAMPLES, "gridsample_large.onnx")), os.path.join(d, b"b.onnx"))
    with open(os.path.join(d, b"c_\xfe.onnx"), "wb") as fh:
        fh.write(b"\x08\x07\x12\x05hello")  # an unreadable model, after the others in the walk
    return tmp_path


@pytest.mark.parametrize(
    "fmt,shown",
    [
        ("text", "a_\\xff.onnx"),
        ("json", "a_\\udcff.onnx"),
        ("sarif", "a_%FF.onnx"),
        ("markdown", "a_\\xff.onnx"),
        ("junit", "a_\\xff.onnx"),
        ("github", "a_\\xff.onnx"),
    ],
)
def test_a_file_name_that_is_not_utf8_is_reported_escaped_and_the_run_goes_on(non_utf8_dir, fmt, shown):
    proc = run("--format", fmt, "models", cwd=str(non_utf8_dir))
    out, err = proc.stdout.decode("utf-8"), proc.stderr.decode("utf-8")  # valid UTF-8, strictly
    assert proc.returncode == 2, err  # the unreadable c_\xfe.onnx; the other two were linted
    assert err.splitlines() == ["error: models/c_\\xfe.onnx: " + err.split(": ", 2)[2].splitlines()[0]]
    assert "internal error" not in err
    assert shown in out and "b.onnx" in out
    if fmt == "json":
        import json

        paths = [f["path"] for f in json.loads(out)["files"]]
        assert paths == ["models/a_\udcff.onnx", "models/b.onnx", "models/c_\udcfe.onnx"]


def test_a_baseline_records_a_non_utf8_name_and_reads_it_back(non_utf8_dir):
    proc = run("--write-baseline", "baseline.json", "models", cwd=str(non_utf8_dir))
    assert proc.returncode == 2  # c_\xfe.onnx is unreadable; the baseline is still written
    text = (non_utf8_dir / "baseline.json").read_text(encoding="utf-8")
    assert '"models/a_\\udcff.onnx"' in text
    proc = run(
        "--baseline", "baseline.json", "models/b.onnx", os.fsencode("models/a_\udcff.onnx"), cwd=str(non_utf8_dir)
    )
    assert proc.returncode == 0, proc.stderr
    assert b"2 in the baseline" in proc.stdout


# ----- item 5: file names are never options -------------------------------------------------------------------------
def _hook_command():
    """The command pre-commit runs for our hook: entry, then args, then the file names."""
    import shlex

    import yaml

    hooks = yaml.safe_load(open(os.path.join(ROOT, ".pre-commit-hooks.yaml"), encoding="utf-8"))
    hook = next(h for h in hooks if h["id"] == "precision-lint")
    entry = shlex.split(hook["entry"])
    assert entry[0] == "precision-lint"
    return entry[1:] + list(hook.get("args", []))


HOSTILE_NAMES = ["--write-baseline=victim.onnx", "-ovictim.onnx", "--output=victim.onnx", "--help.onnx"]


def test_the_pre_commit_hook_lints_files_named_like_options_as_files(tmp_path):
    clean = os.path.join(SAMPLES, "clean.onnx")
    shutil.copy(clean, tmp_path / "victim.onnx")
    for name in HOSTILE_NAMES:
        shutil.copy(clean, tmp_path / name)
    before = (tmp_path / "victim.onnx").read_bytes()
    proc = run(*_hook_command(), *HOSTILE_NAMES, cwd=str(tmp_path))
    assert (tmp_path / "victim.onnx").read_bytes() == before  # not overwritten by a baseline or a report
    assert proc.returncode == 0, proc.stderr
    assert f"{len(HOSTILE_NAMES)} files".encode() in proc.stdout  # each name was linted as a model


def test_after_double_dash_subcommand_and_option_names_are_paths(tmp_path):
    clean = os.path.join(SAMPLES, "clean.onnx")
    names = ["rules", "check", "-h", "--version", "platforms"]
    for name in names:
        shutil.copy(clean, tmp_path / name)
    for args in (["--", *names], ["--format", "json", "--", *names], ["check", "--", *names]):
        proc = run(*args, cwd=str(tmp_path))
        assert proc.returncode == 0, (args, proc.stderr)
        out = proc.stdout.decode()
        if "json" in args:
            import json

            assert [f["path"] for f in json.loads(out)["files"]] == names
        else:
            assert f"{len(names)} files" in out, (args, out[-500:])


# ----- item 13: directories nested deeper than Python's recursion limit -----------------------------------------------
def _deep_tree(base, depth: int, model: str) -> None:
    """base/d/d/.../d (depth levels) with ``model`` at the bottom as m.onnx, built by a child process that moves
    down with chdir (paths longer than PATH_MAX cannot be named from the top)."""
    code = (
        "import os, shutil, sys\nos.chdir(sys.argv[1])\nfor _ in range(int(sys.argv[2])):\n"
        "    os.mkdir('d'); os.chdir('d')\nshutil.copy(sys.argv[3], 'm.onnx')\n"
    )
    subprocess.run([sys.executable, "-c", code, str(base), str(depth), model], check=True, timeout=120)


@pytest.fixture
def deep_dir(tmp_path):
    yield tmp_path
    subprocess.run(["rm", "-rf", str(tmp_path / "tree")], timeout=120)  # rm walks iteratively; rmtree recurses


def test_a_directory_1500_levels_deep_is_walked_and_the_run_goes_on(deep_dir):
    (deep_dir / "tree").mkdir()
    _deep_tree(deep_dir / "tree", 1500, os.path.join(SAMPLES, "gridsample_large.onnx"))
    after = os.path.join(SAMPLES, "clean.onnx")
    proc = run("--format", "json", "tree", after, cwd=str(deep_dir))
    assert proc.returncode == 1, proc.stderr  # the deep GridSample model's finding; nothing unreadable
    import json

    files = json.loads(proc.stdout)["files"]
    assert [f["path"] for f in files] == ["tree/" + "d/" * 1500 + "m.onnx", after]
    assert files[0]["findings"] and "error" not in files[1]


def test_a_directory_too_deep_to_name_is_one_line_naming_it_and_the_run_goes_on(deep_dir):
    (deep_dir / "tree").mkdir()
    shutil.copy(os.path.join(SAMPLES, "gridsample_large.onnx"), deep_dir / "tree" / "a.onnx")
    _deep_tree(deep_dir / "tree", 2100, os.path.join(SAMPLES, "gridsample_large.onnx"))  # past PATH_MAX (4096)
    proc = run("tree", os.path.join(SAMPLES, "clean.onnx"), cwd=str(deep_dir))
    err = proc.stderr.decode()
    assert proc.returncode == 2
    (line,) = err.splitlines()
    assert line.startswith("error: tree/d/d/") and "cannot list the directory" in line, line[-300:]
    assert "nests too deeply" not in err
    assert b"tree/a.onnx: C001" in proc.stdout and b"2 files" in proc.stdout


# ----- item 15: a malformed graph (a cycle) is exit 2 with one line, in every format ----------------------------------
@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "markdown", "junit", "github"])
def test_an_onnx_graph_with_a_cycle_is_exit_2_with_one_line_in_every_format(tmp_path, fmt):
    import onnx
    from onnx import TensorProto, helper

    vi = helper.make_tensor_value_info
    nodes = [helper.make_node("Add", ["x", "b"], ["a"], name="n1"), helper.make_node("Relu", ["a"], ["b"], name="n2")]
    m = helper.make_model(
        helper.make_graph(nodes, "g", [vi("x", TensorProto.FLOAT, [4])], [vi("a", TensorProto.FLOAT, [4])]),
        opset_imports=[helper.make_opsetid("", 13)],
    )
    with pytest.raises(onnx.checker.ValidationError):
        onnx.checker.check_model(m)  # what onnx itself says of it
    onnx.save(m, str(tmp_path / "cycle.onnx"))
    good = os.path.join(SAMPLES, "gridsample_large.onnx")
    proc = run("--format", fmt, "cycle.onnx", good, cwd=str(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr.decode().splitlines() == [
        "error: cycle.onnx: the graph has a cycle ('n2' -> 'n1' -> 'n2'); "
        "ONNX graphs must be acyclic, so the file is malformed"
    ]
    assert b"warp_sample" in proc.stdout  # the rest of the run is reported
    if fmt not in ("text", "github"):  # documents that list unreadable files
        assert b"the graph has a cycle" in proc.stdout
