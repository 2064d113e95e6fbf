"""Broken and hostile model files (issue 7): each gives one clear line or note, exit 2 when unreadable, the run goes
on with the other files, and nothing ever prints a traceback or reads outside the model's directory."""

import os
import subprocess
import sys

import pytest

from hostile import SAMPLES, build_corpus, external_model
from precision_lint.api import Linter
from precision_lint.errors import ModelLoadError
from precision_lint.model.loaders import load_model

GOOD = ("gridsample_large.onnx", "gridsample_large.mnn")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("hostile"))
    return d, build_corpus(d)


@pytest.fixture(scope="module")
def linter():
    return Linter()


def test_every_file_of_the_corpus_gives_its_message(corpus, linter):
    d, expect = corpus
    for name, (kind, text) in sorted(expect.items()):
        path = os.path.join(d, name)
        r = linter.lint_file(path)
        if r.error is not None:
            msg = r.error.message
            assert kind in ("error", "error-or-ok", "error-or-note"), f"{name}: unexpected error {msg}"
            assert msg.startswith(path + ": ") and "\n" not in msg, msg
            assert "internal error" not in msg, msg
            if text:
                assert any(t in msg for t in text.split("|")), f"{name}: {msg}"
        else:
            assert kind in ("ok", "note", "error-or-ok", "error-or-note"), f"{name}: expected an error, got none"
            if kind in ("note", "error-or-note"):
                assert any(t in n for n in r.notes for t in text.split("|")), f"{name}: no note {text!r} in {r.notes}"


def test_cli_lints_the_whole_corpus_with_good_files_reported_and_no_traceback(corpus, tmp_path):
    d, expect = corpus
    good = [os.path.join(SAMPLES, g) for g in GOOD]
    files = [good[0]] + [os.path.join(d, n) for n in sorted(expect)] + [good[1]]
    proc = subprocess.run(
        [sys.executable, "-m", "precision_lint", "--color", "never", *files],
        capture_output=True,
        text=True,
        cwd=str(tmp_path),
        timeout=300,
    )
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    lines = proc.stderr.splitlines()
    assert lines, "no error lines"
    for line in lines:  # every stderr line is one error naming one file of the run
        assert line.startswith("error: "), line
        assert any(line.startswith(f"error: {f}: ") for f in files), line
    erred = [f for f in files if any(line.startswith(f"error: {f}: ") for line in lines)]
    assert len(erred) == len(lines)  # one line per unreadable file
    for name, (kind, _) in expect.items():
        if kind == "error":
            assert os.path.join(d, name) in erred, name
        if kind in ("ok", "note"):
            assert os.path.join(d, name) not in erred, name
    for g in good:  # the good files before and after the bad ones are still reported
        assert any(l.startswith(f"{g}: C001") for l in proc.stdout.splitlines()), g
    assert f"{len(files)} files, {len(lines)} unreadable" in proc.stdout


def test_format_swap_lints_by_content(corpus, linter):
    d, _ = corpus
    as_mnn = linter.lint_file(os.path.join(d, "onnx_named.mnn"))
    as_onnx = linter.lint_file(os.path.join(d, "mnn_named.onnx"))
    assert as_mnn.metadata["format"] == "onnx" and as_onnx.metadata["format"] == "mnn"


# ----- external data is never read from outside the model's directory ----------------------------------------
_OPENED = []
_WATCH = []


def _audit(event, args):
    if event == "open" and _WATCH and args and isinstance(args[0], (str, bytes, os.PathLike)):
        p = os.fsdecode(args[0])
        if any(w in p for w in _WATCH):
            _OPENED.append(p)


sys.addaudithook(_audit)


@pytest.mark.parametrize("location", ["../../secret.bin", "../secret.bin", "/SECRET/secret.bin", "link.bin"])
def test_external_data_outside_the_directory_is_never_opened(tmp_path, location):
    model_dir = tmp_path / "models" / "sub"
    model_dir.mkdir(parents=True)
    secret = tmp_path / "secret.bin"
    secret.write_bytes(b"\0" * 16)
    (tmp_path / "models" / "secret.bin").write_bytes(b"\0" * 16)
    if location == "link.bin":  # a symlink inside the directory that points out of it
        os.symlink(str(secret), str(model_dir / "link.bin"))
    location = location.replace("/SECRET", str(tmp_path))
    path = model_dir / "m.onnx"
    path.write_bytes(external_model(location).SerializeToString())
    _OPENED.clear()
    _WATCH[:] = ["secret.bin", "link.bin"]
    try:
        with pytest.raises(ModelLoadError, match="outside the model's directory"):
            load_model(str(path))
        r = Linter().lint_file(str(path))
    finally:
        _WATCH.clear()
    assert r.error is not None and "refusing to read it" in r.error.message
    assert _OPENED == [], _OPENED


def test_external_data_inside_the_directory_is_read_only_when_a_rule_needs_it(tmp_path):
    import numpy as np

    (tmp_path / "w.bin").write_bytes(np.full(4, -1e9, np.float32).tobytes())
    path = tmp_path / "m.onnx"
    path.write_bytes(external_model("w.bin").SerializeToString())
    _OPENED.clear()
    _WATCH[:] = ["w.bin"]
    try:
        load_model(str(path))
        assert _OPENED == []  # loading does not read weights
        r = Linter().lint_file(str(path))
    finally:
        _WATCH.clear()
    assert r.error is None and any(f.rule_id == "R001" for f in r.findings)
    assert _OPENED  # the constant-overflow rule read it


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_and_device_are_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.onnx"
    os.mkfifo(str(fifo))
    dev = tmp_path / "zero.mnn"
    os.symlink("/dev/zero", str(dev))
    for p in (fifo, dev):
        r = Linter().lint_file(str(p))
        assert r.error is not None and "not a regular file" in r.error.message


def test_directory_and_missing_file(tmp_path, linter):
    assert "is a directory" in linter.lint_file(str(tmp_path)).error.message
    assert "no such file" in linter.lint_file(str(tmp_path / "nope.onnx")).error.message


def test_a_bug_in_the_linter_is_one_error_line_not_a_traceback(tmp_path, monkeypatch):
    import precision_lint.model.loaders as loaders

    def boom(path):
        raise KeyError("simulated bug")

    monkeypatch.setattr(loaders, "load_model", boom)
    r = Linter().lint_file(os.path.join(SAMPLES, "clean.onnx"))
    assert r.error is not None and "internal error" in r.error.message and "KeyError" in r.error.message


def test_long_cycle_is_found_in_bounded_time_and_is_one_error(tmp_path, linter):
    """A cycle 2,000 operators long is found (iteratively) and the file is unreadable: one line naming the cycle."""
    from onnx import TensorProto, helper

    n = 2000
    nodes = [
        helper.make_node(
            "Exp" if i % 7 == 0 else "Add",
            [f"t{(i - 1) % n}", "x"] if i % 7 else [f"t{i - 1}"],
            [f"t{i}"],
            name=f"n{i}",
        )
        for i in range(n)
    ]
    nodes[0] = helper.make_node("Add", [f"t{n - 1}", "x"], ["t0"], name="n0")
    g = helper.make_graph(
        nodes + [helper.make_node("Softmax", [f"t{n - 1}"], ["y"], name="sm")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    path = tmp_path / "cycle.onnx"
    path.write_bytes(m.SerializeToString())
    r = linter.lint_file(str(path))
    assert r.error is not None and r.error.message.startswith(f"{path}: the graph has a cycle ('n")
    assert "\n" not in r.error.message and len(r.error.message) < 1000


def test_a_bug_outside_lint_file_is_one_error_line_exit_2(monkeypatch, capsys):
    import precision_lint.cli.commands as cli_mod

    def boom(*a, **k):
        raise ValueError("simulated bug")

    monkeypatch.setattr(cli_mod.cli, "main", boom)
    monkeypatch.delenv("PRECISION_LINT_DEBUG", raising=False)
    with pytest.raises(SystemExit) as exc:
        cli_mod.main(["model.onnx"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: internal error (ValueError: simulated bug)")
