"""The emulated ARMv8.2 environment of `precision-lint setup-arm`, for tests marked ``qemu``.

Without QEMU or the set-up, those tests are skipped on a developer's machine; with CI=true they fail instead, so CI
can never pass by skipping them.  .ci/run installs qemu-user-static and runs `precision-lint setup-arm` first.
"""

from __future__ import annotations

import os
import shutil

import onnx
import pytest
from onnx import parser

from mnn_models import convert


def environment():
    """(cache dir, manifest) of a finished set-up; skips (or fails on CI) when there is none."""
    from precision_lint.verify.arm_setup import SetupError, cache_dir, load_manifest

    problem = None
    if shutil.which("qemu-aarch64-static") is None:
        problem = "qemu-aarch64-static not installed (apt-get install qemu-user-static)"
    else:
        try:
            return cache_dir(), load_manifest()
        except SetupError as exc:
            problem = str(exc)
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI must run the QEMU tests: {problem}")
    pytest.skip(problem)


def build(directory, name: str, text: str) -> str:
    """ONNX text -> name.onnx and name.mnn (MNN's converter) in ``directory``; returns the .mnn path."""
    model = parser.parse_model(text)
    onnx.checker.check_model(model)
    src = os.path.join(str(directory), f"{name}.onnx")
    onnx.save(model, src)
    return convert(src, os.path.join(str(directory), f"{name}.mnn"))
