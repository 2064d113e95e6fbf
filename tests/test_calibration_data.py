"""--calibration-data: activation ranges from one fp32 run on the user's inputs turn conditional findings into
proven ones or silence them (ONNX Runtime for .onnx, MNN on the host for .mnn)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import parser

from mnn_models import convert
from precision_lint.api import Linter, Options
from precision_lint.verify.calibration_data import observed_ranges

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# a hand-written RMSNorm over 1024 values behind a residual Add: the graph cannot bound h
RMSNORM = """
<ir_version: 8, opset_import: ["" : 17]>
g (float[4,1024] a, float[4,1024] b) => (float[4,1024] y) {
  h = Add (a, b)
  two = Constant <value = float {2.0}> ()
  ax = Constant <value = int64[1] {-1}> ()
  eps = Constant <value = float {0.00001}> ()
  [square] sq = Pow (h, two)
  ms = ReduceMean <axes = [-1]> (sq)
  v = Add (ms, eps)
  r = Sqrt (v)
  y = Div (h, r)
}
"""


@pytest.fixture()
def model(tmp_path):
    path = str(tmp_path / "rmsnorm.onnx")
    onnx.save(parser.parse_model(RMSNORM), path)
    return path


def data(tmp_path, scale: float) -> str:
    rng = np.random.default_rng(0)
    path = str(tmp_path / f"x{scale}.npz")
    np.savez(
        path,
        a=(rng.uniform(-1, 1, (4, 1024)) * scale).astype(np.float32),
        b=(rng.uniform(-1, 1, (4, 1024)) * scale).astype(np.float32),
    )
    return path


def r006(path, ranges=None):
    return [
        (f.node, f.level, f.conditional)
        for f in Linter(Options(select=("R006",), input_ranges=ranges or {})).lint_file(path).findings
        if f.level != "none"
    ]


def test_without_data_the_sum_of_squares_is_a_conditional_warning(model):
    assert r006(model) == [("square", "warning", True)]


def test_data_that_overflows_proves_an_error_and_data_that_does_not_silences_it(model, tmp_path):
    big = observed_ranges(model, data(tmp_path, 20.0))
    assert big["h"][1] > 20 and big["sq"][1] > 400  # every tensor's observed range
    assert r006(model, big) == [("square", "error", False)]
    assert r006(model, observed_ranges(model, data(tmp_path, 0.5))) == []


def test_the_mnn_conversion_runs_in_mnn_on_the_host(model, tmp_path):
    mnn = convert(model, str(tmp_path / "rmsnorm.mnn"))
    ranges = observed_ranges(mnn, data(tmp_path, 20.0))
    onnx_ranges = observed_ranges(model, data(tmp_path, 20.0))
    assert ranges["h"] == pytest.approx(onnx_ranges["h"], rel=1e-6)


def run(*args):
    p = subprocess.run(
        [sys.executable, "-m", "precision_lint", *args],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=ROOT),
        timeout=300,
    )
    return p.returncode, p.stdout, p.stderr


def test_cli_judges_with_the_observed_ranges(model, tmp_path):
    code, out, _ = run(model, "--select", "R006", "--calibration-data", data(tmp_path, 20.0))
    assert code == 1 and "R006 [error]" in out
    code, out, _ = run(model, "--select", "R006", "--calibration-data", data(tmp_path, 0.5))
    assert code == 0 and "R006" not in out


def test_cli_bad_data_is_one_line_exit_2(model, tmp_path):
    bad = tmp_path / "bad.npz"
    np.savez(str(bad), a=np.zeros((4, 1024), np.float32))  # input b missing
    code, out, err = run(model, "--calibration-data", str(bad))
    assert code == 2 and len(err.strip().splitlines()) == 1 and str(bad) in err and "Traceback" not in err
    other = str(tmp_path / "other.onnx")
    onnx.save(parser.parse_model(RMSNORM), other)
    code, _, err = run(model, other, "--calibration-data", data(tmp_path, 1.0))
    assert code == 2 and "exactly one model" in err
