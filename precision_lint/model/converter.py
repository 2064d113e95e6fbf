"""ONNX -> MNN with MNN's own converter (the ``_tools`` C extension of the MNN package; never ``MNN.tools``, whose
logger pip-installs a package and sends telemetry at import)."""

from __future__ import annotations

import os
import re
from typing import Sequence

from ..errors import PrecisionLintError


_LOG_PREFIX = re.compile(r"^\[[0-9:]+\] :[0-9]+: ")  # the converter's "[01:22:16] :220: " before a line


class ConversionError(PrecisionLintError):
    """MNN's converter did not produce a model."""


# Run in a child process: MNN's converter aborts or segfaults on some models (MNN 3.6.1 on any LogSoftmax), which
# in-process would end our run without a word.  The child's stdout takes the converter's console chatter and MNN's
# "device supports" line; its own reason for a failure is read from there.
_CHILD = """
import sys
try:
    import _tools
except ImportError:
    sys.exit(3)
_tools.mnnconvert(["mnnconvert", "-f", "ONNX", "--modelFile", sys.argv[1], "--MNNModel", sys.argv[2],
                   "--bizCode", "biz", *sys.argv[3:]])
"""
TIMEOUT_S = 900  # a 100 MB transformer converts in about 10 s here


def convert_to_mnn(src: str, dst: str, extra: Sequence[str] = ()) -> None:
    """Convert ``src`` (.onnx) to ``dst`` (.mnn); ``extra`` are converter flags (e.g. ``--fp16``).  The converter runs
    in a child process (its chatter and MNN's "device supports" line stay off our stdout; its crash is an error
    here, not ours); when it produces no model, its own reason (e.g. "These Op Not Support: ONNX::Hardmax") is the
    error's."""
    import signal
    import subprocess
    import sys
    import tempfile

    # in a directory of its own: the converter leaves a '.__convert_external_data.bin' in its working directory
    with tempfile.TemporaryDirectory(prefix="precision-lint-convert-") as cwd:
        try:
            proc = subprocess.run(
                [sys.executable, "-c", _CHILD, os.path.abspath(src), os.path.abspath(dst), *extra],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=TIMEOUT_S,
                cwd=cwd,
            )
        except subprocess.TimeoutExpired:
            raise ConversionError(f"{src}: MNN's converter did not finish in {TIMEOUT_S} s") from None
    if proc.returncode == 3:
        raise ConversionError(f"{src}: converting to MNN needs the MNN package (pip install MNN)")
    said = (proc.stdout + proc.stderr).decode("utf-8", "replace")
    if proc.returncode < 0:
        try:
            name = signal.Signals(-proc.returncode).name
        except ValueError:
            name = f"signal {-proc.returncode}"
        raise ConversionError(f"{src}: MNN's converter crashed ({name}) on this model")
    if not os.path.exists(dst) or os.path.getsize(dst) == 0:
        raise ConversionError(f"{src}: MNN's converter produced no model ({_reason(said)})")


def _reason(said: str) -> str:
    """The converter's own words for a failure: its "Not Support" line, else its last line before "Converted
    Failed!" (its return value says nothing: the extension returns True either way)."""
    lines = [_LOG_PREFIX.sub("", ln).strip() for ln in said.splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith("The device supports")]
    unsupported = [ln for ln in lines if "Not Support" in ln]
    if unsupported:
        return unsupported[0]
    before = [ln for ln in lines if ln != "Converted Failed!"]
    return before[-1][:300] if before else "it printed no reason"
