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
    return subprocess.run([sys.executable, "-m", "precision_lint", "--color", "never", *args], capture_output=True,
                          cwd=cwd, env=env, timeout=300, **kw)


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
    from precision_lint import cli, reporters

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
    assert err == [f"error: {bad}: internal error while writing the markdownfailingonbad report (ValueError: "
                   f"cannot render this one); the report leaves this model out; please report it"]
    text = out.read_text(encoding="utf-8")
    assert "`a.onnx`" in text and "`c.onnx`" in text and "`bad.onnx`" not in text


from precision_lint.reporters.markdown import MarkdownReporter  # noqa: E402


class MarkdownFailingOnBad(MarkdownReporter):
    """The markdown reporter with a rendering bug on one model (the stand-in for any future bug)."""

    def stop(self, summary):
        if any(os.path.basename(r.path) == "bad.onnx" for r in self.results):
            raise ValueError("cannot render this one")
        super().stop(summary)
